// Routes. Everything but /login needs a session. A DAG's pages live under /dags/:dagId/*
// (pages/dag/DagPage.tsx routes its tabs: grid, runs, task instances, assets, code, trigger,
// backfills). /assets is the asset list (a client route: the built files are under /assets/).
import { Navigate, Route, Routes } from "react-router";
import { RequireLogin } from "./auth";
import { AssetsListPage } from "./assets/AssetsListPage";
import { Layout } from "./components/Layout";
import { DagListPage } from "./pages/DagListPage";
import { DagPage } from "./pages/dag/DagPage";
import { LoginPage } from "./pages/LoginPage";

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route
        element={
          <RequireLogin>
            <Layout />
          </RequireLogin>
        }
      >
        <Route index element={<Navigate to="/dags" replace />} />
        <Route path="/dags" element={<DagListPage />} />
        <Route path="/dags/:dagId/*" element={<DagPage />} />
        <Route path="/assets" element={<AssetsListPage />} />
        <Route path="*" element={<p role="alert">Page not found.</p>} />
      </Route>
    </Routes>
  );
}
