// Builds e2e/support/netPage into a directory with Vite, outside the app's own build, so the
// network tests and measurements exercise src/net exactly as a bundled page would.

import { fileURLToPath } from 'node:url';
import { build } from 'vite';

export async function buildNetPage(outDir: string): Promise<void> {
  await build({
    configFile: false,
    root: fileURLToPath(new URL('./netPage/', import.meta.url)),
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true, target: 'es2022', sourcemap: true },
  });
}
