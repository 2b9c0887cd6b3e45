import { defineConfig, defaultClientConditions } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev -w @chatter/web` serves the app on :5173 and proxies the API and WebSocket to a
// Chatter server on :8000. The proxy keeps the browser's Host header (no changeOrigin), so the
// server's same-origin check (Origin must match Host) passes for the dev origin as it would in
// production.
const target = 'http://127.0.0.1:8000';

export default defineConfig({
  plugins: [react()],
  resolve: {
    // Workspace packages (@chatter/client, @chatter/protocol) are bundled from their TypeScript source.
    conditions: ['source', ...defaultClientConditions],
  },
  server: {
    proxy: {
      '/api': { target },
      '/ws': { target, ws: true },
    },
  },
  build: {
    target: 'es2022',
    reportCompressedSize: true,
  },
});
