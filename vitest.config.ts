import { defineConfig, mergeConfig } from 'vitest/config';
import { playwright } from '@vitest/browser-playwright';
import viteConfig from './vite.config.ts';
import { chromiumArgs, chromiumPath } from './scripts/chromium.mjs';

// Two projects: `unit` runs pure logic in Node; `gpu` runs kernel, model and worker tests in
// real Chromium with real WebGPU (SwiftShader on a machine without a GPU). No GPU is mocked.
export default mergeConfig(
  viteConfig,
  defineConfig({
    // Dependencies that only workers import (the CPU benchmarks' baselines): bundled up front,
    // since one found mid-run makes vite reload the test page.
    optimizeDeps: {
      include: [
        '@tensorflow/tfjs-core',
        '@tensorflow/tfjs-core/dist/register_all_gradients',
        'onnxruntime-web/wasm',
      ],
    },
    test: {
      projects: [
        {
          extends: true,
          test: {
            name: 'unit',
            include: ['src/**/*.test.ts'],
            exclude: ['src/**/*.gpu.test.ts'],
            environment: 'node',
            // Some unit tests compute for real (a 784-256-128-10 gradient against the JS
            // reference, a screening run on Fashion-MNIST): seconds here, more on a slower or
            // busier machine. The limit catches a hang, not a slow machine.
            testTimeout: 60_000,
          },
        },
        {
          extends: true,
          test: {
            name: 'gpu',
            include: ['src/**/*.gpu.test.ts'],
            testTimeout: 180_000,
            hookTimeout: 180_000,
            // One browser page at a time: SwiftShader already uses every core.
            fileParallelism: false,
            browser: {
              enabled: true,
              headless: true,
              screenshotFailures: false,
              provider: playwright({
                launchOptions: { executablePath: chromiumPath(), args: chromiumArgs() },
              }),
              instances: [{ browser: 'chromium' }],
            },
          },
        },
      ],
    },
  }),
);
