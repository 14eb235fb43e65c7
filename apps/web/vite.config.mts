import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The API serves /assets/ with immutable cache headers: file names must carry their content hash (Vite's default).
    assetsDir: 'assets',
    // Source maps would double what operators download for no use on this page.
    sourcemap: false,
  },
});
