// The test pages are served cross-origin isolated (vite.config.ts server.headers), so the
// CPU backend can run worker threads on shared memory here, as on the real pages.
import { expect, it } from 'vitest';
import { canShareMemory, defaultThreadCount } from './executor.ts';

it('the test page is cross-origin isolated and may share WebAssembly memory', () => {
  expect(globalThis.crossOriginIsolated).toBe(true);
  expect(canShareMemory()).toBe(true);
  expect(new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true }).buffer).toBeInstanceOf(SharedArrayBuffer);
  expect(defaultThreadCount()).toBe(Math.min(16, navigator.hardwareConcurrency));
});
