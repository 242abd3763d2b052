import { resolve } from 'node:path';
import { defineConfig, type Plugin } from 'vite';
import { datasetMiddleware } from './src/server/datasetRoute.ts';

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
  build: {
    target: 'es2022',
    rollupOptions: {
      input: {
        contribute: resolve(import.meta.dirname, 'index.html'),
        train: resolve(import.meta.dirname, 'train.html'),
      },
    },
  },
  worker: { format: 'es' },
});
