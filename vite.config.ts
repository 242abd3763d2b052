import { resolve } from 'node:path';
import { build, defineConfig, type Plugin } from 'vite';
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

/**
 * `vite build` also writes dist/widget.js, the script host sites embed: one self-contained
 * file (IIFE, no imports), built after the pages so that `npm run build` stays one command.
 */
function widgetLibraryPlugin(): Plugin {
  return {
    name: 'swarmgrad-widget-library',
    apply: 'build',
    async closeBundle() {
      await build({
        configFile: false,
        logLevel: 'warn',
        build: {
          target: 'es2022',
          emptyOutDir: false,
          outDir: resolve(import.meta.dirname, 'dist'),
          copyPublicDir: false,
          lib: { entry: resolve(import.meta.dirname, 'src/widget/widget.ts'), formats: ['iife'], name: 'swarmgradWidget', fileName: () => 'widget.js' },
        },
      });
    },
  };
}

export default defineConfig({
  plugins: [datasetPlugin(), widgetLibraryPlugin()],
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
        embed: resolve(import.meta.dirname, 'embed.html'),
      },
    },
  },
  worker: { format: 'es' },
});
