import { defineConfig } from '@playwright/test';
import { chromiumArgs, chromiumPath } from './scripts/chromium.mjs';

// End-to-end tests drive the built pages in real Chromium with real WebGPU. scripts/e2e.mjs
// builds first and runs this inside ../shared/isolated-net when it exists, so that WebRTC
// traffic never leaves the machine.
const PORT = Number(process.env.SWARMGRAD_E2E_PORT ?? 4317);

export default defineConfig({
  testDir: 'e2e',
  // Playwright empties its output folder at start: keep it apart from scripts/test.mjs's reports.
  outputDir: 'test-results/e2e-artifacts',
  timeout: 10 * 60_000,
  expect: { timeout: 60_000 },
  workers: 1,
  retries: 0,
  reporter: process.env.CI ? [['list'], ['json', { outputFile: 'test-results/e2e.json' }]] : [['list'], ['json', { outputFile: 'test-results/e2e.json' }]],
  use: {
    baseURL: `http://localhost:${PORT}`,
    browserName: 'chromium',
    launchOptions: { executablePath: chromiumPath(), args: chromiumArgs() },
    trace: 'off',
  },
  webServer: {
    command: `npx vite preview --port ${PORT} --strictPort`,
    url: `http://localhost:${PORT}/`,
    reuseExistingServer: false,
    timeout: 60_000,
  },
});
