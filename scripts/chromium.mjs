// Where Chromium lives and how to start it so that WebGPU works headless.
// Shared by vitest's browser project, Playwright's e2e tests and the benchmark script.
import { existsSync } from 'node:fs';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export function chromiumPath() {
  if (process.env.CHROME_PATH) return process.env.CHROME_PATH;
  const found = CANDIDATES.find((p) => existsSync(p));
  if (!found) {
    throw new Error(
      `No Chromium found (looked at CHROME_PATH and ${CANDIDATES.join(', ')}). ` +
        'Install it with `apt-get install -y chromium` or set CHROME_PATH.',
    );
  }
  return found;
}

/**
 * Flags that make WebGPU available headless. With no GPU, SwiftShader (Vulkan on the CPU)
 * serves WebGPU; set SWARMGRAD_GPU_ADAPTER=default to let Chromium pick a real GPU.
 */
export function chromiumArgs() {
  const args = [
    '--enable-unsafe-webgpu',
    '--no-sandbox',
    '--disable-background-networking',
    '--disable-component-update',
    '--no-first-run',
    // Hidden test pages must not be throttled: the tests measure their compute.
    '--disable-background-timer-throttling',
    '--disable-renderer-backgrounding',
    '--disable-backgrounding-occluded-windows',
  ];
  if ((process.env.SWARMGRAD_GPU_ADAPTER ?? 'swiftshader') === 'swiftshader') {
    args.push('--use-webgpu-adapter=swiftshader');
  }
  return args;
}
