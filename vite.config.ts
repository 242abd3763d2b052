import { resolve } from 'node:path';
import { defineConfig, type Plugin } from 'vite';
import { datasetMiddleware } from './src/server/datasetRoute.ts';
import { CROSS_ORIGIN_ISOLATION_HEADERS } from './src/server/isolationHeaders.ts';

/** Serves the Fashion-MNIST files at /data/fashion-mnist/ in dev and preview, as the Node server does. */
function datasetPlugin(): Plugin {
  return {
    name: 'swarmgrad-dataset',
    configureServer(server) {
      server.middlewares.use(datasetMiddleware());
    },
    configurePreviewServer(server) {
      server.middlewares.use(datasetMiddleware());
    },
  };
}

export default defineConfig({
  plugins: [datasetPlugin()],
  // Cross-origin isolation, so that the CPU backend may share memory with its threads.
  server: { headers: { ...CROSS_ORIGIN_ISOLATION_HEADERS } },
  preview: { headers: { ...CROSS_ORIGIN_ISOLATION_HEADERS } },
  build: {
    target: 'es2022',
    rollupOptions: {
      input: {
        contribute: resolve(import.meta.dirname, 'index.html'),
        train: resolve(import.meta.dirname, 'train.html'),
        bench: resolve(import.meta.dirname, 'bench.html'),
        dashboard: resolve(import.meta.dirname, 'dashboard.html'),
      },
    },
  },
  worker: { format: 'es' },
});
