import { describe, expect, it, vi } from "vitest";
import { ApiError, api, buildUrl, errorText, getToken, login, setSession } from "./client";
import { mockFetch } from "../test/fetchMock";

describe("errorText", () => {
  it("takes a string detail as is", () => {
    expect(errorText(404, { detail: "The Dag with ID: `x` was not found" })).toBe(
      "The Dag with ID: `x` was not found",
    );
  });
  it("joins pydantic items with their location, without 'body'", () => {
    const body = { detail: [{ loc: ["body", "conf", "n"], msg: "value is not a valid integer" }] };
    expect(errorText(422, body)).toBe("conf → n: value is not a valid integer");
  });
  it("falls back to the status", () => {
    expect(errorText(502, "")).toBe("HTTP 502");
  });
});

describe("buildUrl", () => {
  it("repeats list values and drops empty ones", () => {
    expect(buildUrl("/x", { tags: ["a", "b"], paused: false, q: "", n: undefined })).toBe(
      "/x?tags=a&tags=b&paused=false",
    );
  });
});

describe("request", () => {
  it("sends the bearer token and raises the server's detail", async () => {
    setSession("tok", "admin");
    const calls = mockFetch({
      "GET /api/v2/dags/nope": { status: 404, body: { detail: "The Dag with ID: `nope` was not found" } },
    });
    const error = await api.get("/api/v2/dags/nope").catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(404);
    expect((error as ApiError).message).toBe("The Dag with ID: `nope` was not found");
    expect(calls[0].url.pathname).toBe("/api/v2/dags/nope");
    expect(vi.mocked(fetch).mock.calls[0][1]?.headers).toMatchObject({ Authorization: "Bearer tok" });
    expect(getToken()).toBe("tok");
  });

  it("drops the session on 401", async () => {
    setSession("old", "admin");
    mockFetch({ "GET /api/v2/dags": { status: 401, body: { detail: "Invalid JWT token" } } });
    await expect(api.get("/api/v2/dags")).rejects.toBeInstanceOf(ApiError);
    expect(getToken()).toBeNull();
  });

  it("logs in and keeps the token", async () => {
    const calls = mockFetch({ "POST /auth/token": { status: 201, body: { access_token: "jwt" } } });
    await login("admin", "pw");
    expect(getToken()).toBe("jwt");
    expect(calls[0].body).toEqual({ username: "admin", password: "pw" });
  });
});
