// The session: a token from POST /auth/token kept in sessionStorage (this tab, until logout or
// a 401). Pages below <RequireLogin> can assume a token; without one they go to /login?next=.
import { useEffect, useState, type ReactNode } from "react";
import { Navigate, useLocation, useNavigate } from "react-router";
import { clearSession, getToken, onUnauthorized } from "./api/client";

export function RequireLogin({ children }: { children: ReactNode }) {
  const location = useLocation();
  const navigate = useNavigate();
  const [token, setToken] = useState(getToken());
  useEffect(
    () =>
      onUnauthorized(() => {
        setToken(null);
        navigate(`/login?next=${encodeURIComponent(location.pathname + location.search)}`, {
          replace: true,
        });
      }),
    [navigate, location],
  );
  if (!token) {
    const next = encodeURIComponent(location.pathname + location.search);
    return <Navigate to={`/login?next=${next}`} replace />;
  }
  return <>{children}</>;
}

export function logout(): void {
  clearSession();
}
