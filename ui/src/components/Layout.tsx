import { Link, NavLink, Outlet, useNavigate } from "react-router";
import { getUsername } from "../api/client";
import { logout } from "../auth";

/** The frame of every signed-in page: the header with navigation and the user's logout. */
export function Layout() {
  const navigate = useNavigate();
  return (
    <div className="app">
      <header className="topbar">
        <Link to="/dags" className="brand">
          <img src="/favicon.svg" alt="" width={22} height={22} /> dagcore
        </Link>
        <nav aria-label="Main">
          <NavLink to="/dags">DAGs</NavLink>
          <NavLink to="/assets">Assets</NavLink>
        </nav>
        <div className="topbar-user">
          <span className="muted">{getUsername()}</span>
          <button
            type="button"
            onClick={() => {
              logout();
              navigate("/login", { replace: true });
            }}
          >
            Log out
          </button>
        </div>
      </header>
      <main className="content">
        <Outlet />
      </main>
    </div>
  );
}
