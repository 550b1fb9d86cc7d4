// The one way the UI talks to the server: fetch with the session's bearer token, JSON in and
// out, and errors turned into ApiError carrying the server's own `detail` text (shown to the
// user as is). A 401 ends the session: the token is dropped and listeners (the router) are told.

export type Query = Record<string, string | number | boolean | null | undefined | (string | number)[]>;

const TOKEN_KEY = "dagcore.token";
const USER_KEY = "dagcore.user";
const unauthorizedListeners = new Set<() => void>();

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function getUsername(): string | null {
  return sessionStorage.getItem(USER_KEY);
}

export function setSession(token: string, username: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
  sessionStorage.setItem(USER_KEY, username);
}

export function clearSession(): void {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(USER_KEY);
}

/** Call `listener` when the server answers 401 (the token expired or was refused). */
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

export class ApiError extends Error {
  readonly status: number;
  readonly body: unknown;

  constructor(status: number, message: string, body: unknown) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }
}

interface ValidationItem {
  loc?: (string | number)[];
  msg?: string;
}

/** The human text of an error body: `{"detail": "..."}`, a pydantic list of
 * `{"loc", "msg"}` items ("conf → x: value is not a valid integer"), or v1's `{"title", "detail"}`. */
export function errorText(status: number, body: unknown): string {
  if (body && typeof body === "object") {
    const detail = (body as { detail?: unknown }).detail;
    if (typeof detail === "string" && detail) return detail;
    if (Array.isArray(detail) && detail.length) {
      return detail
        .map((item: ValidationItem) => {
          const loc = (item.loc ?? []).filter((part) => part !== "body").join(" → ");
          return loc ? `${loc}: ${item.msg ?? ""}` : String(item.msg ?? "");
        })
        .join("; ");
    }
    if (detail && typeof detail === "object") return JSON.stringify(detail);
    const title = (body as { title?: unknown }).title;
    if (typeof title === "string") return title;
  }
  if (typeof body === "string" && body.trim()) return body.trim().slice(0, 500);
  return `HTTP ${status}`;
}

export function buildUrl(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value)) value.forEach((item) => params.append(key, String(item)));
    else params.append(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export interface RequestOptions {
  method?: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
  /** Answer the body as text (for text/plain routes such as logs and code). */
  text?: boolean;
}

export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: options.text ? "text/plain" : "application/json" };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.body);
  }
  const answer = await fetch(buildUrl(path, options.query), {
    method: options.method ?? "GET",
    headers,
    body,
    signal: options.signal,
  });
  const raw = await answer.text();
  let parsed: unknown = raw;
  const isJson = (answer.headers.get("content-type") ?? "").includes("json");
  if (isJson && raw) {
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = raw;
    }
  }
  if (!answer.ok) {
    if (answer.status === 401 && !path.startsWith("/auth/")) {
      clearSession();
      unauthorizedListeners.forEach((listener) => listener());
    }
    throw new ApiError(answer.status, errorText(answer.status, parsed), parsed);
  }
  if (answer.status === 204 || raw === "") return undefined as T;
  return parsed as T;
}

export const api = {
  get: <T>(path: string, query?: Query, signal?: AbortSignal) => request<T>(path, { query, signal }),
  post: <T>(path: string, body?: unknown, query?: Query) => request<T>(path, { method: "POST", body, query }),
  patch: <T>(path: string, body?: unknown, query?: Query) => request<T>(path, { method: "PATCH", body, query }),
  put: <T>(path: string, body?: unknown) => request<T>(path, { method: "PUT", body }),
  del: <T>(path: string) => request<T>(path, { method: "DELETE" }),
};

/** Encode one path segment (DAG ids, run ids with `+` and `:`, task ids). */
export const seg = (value: string | number): string => encodeURIComponent(String(value));

export async function login(username: string, password: string): Promise<void> {
  const answer = await request<{ access_token: string }>("/auth/token", {
    method: "POST",
    body: { username, password },
  });
  setSession(answer.access_token, username);
}
