import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [react()],
  resolve: {
    alias: {
      // The contract's ES source, not its CommonJS build: the page takes its statuses from it, and zod, which the page
      // does not run, stays out of the bundle (the package declares no side effects).
      '@mosaic/orchestrator-contract': fileURLToPath(new URL('../../packages/orchestrator-contract/src/index.ts', import.meta.url)),
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The API serves /assets/ with immutable cache headers: file names must carry their content hash (Vite's default).
    assetsDir: 'assets',
    // Source maps would double what operators download for no use on this page.
    sourcemap: false,
  },
});
