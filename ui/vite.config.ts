// Vite builds the UI into the Python package (python/dagcore/server/static), which
// `dagcore api-server` serves at `/`; `npm run dev` proxies the API to a server on :8080.
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

const api = process.env.DAGCORE_API ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "../python/dagcore/server/static",
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: { "/api": api, "/auth": api, "/ui": api },
  },
});
