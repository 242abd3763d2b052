// The CPU layer-table model in Node: one thread on the caller's thread (as the coordinator
// runs it for spot checks and evaluation), the same tests as in Chromium; and the dropout
// kernel's mask against src/model/layers/dropout.ts unit for unit.
import { describe, expect, it } from 'vitest';
import { dropoutKeeps, dropoutThreshold } from '../model/layers/dropout.ts';
import { Random } from '../util/random.ts';
import { defineCpuModelTests } from './cpuModel.testSuite.ts';
import { instantiateKernels, loadKernelModule } from './kernels.ts';

defineCpuModelTests(1);

describe('CPU dropout kernel', () => {
  it('keeps exactly the units dropout.ts keeps, scaled by 1/(1 − p), on every SIMD build this engine runs', async () => {
    const builds = await Promise.all((['plain', 'relaxed'] as const).map((simd) => loadKernelModule({ shared: false, simd }).catch(() => null)));
    expect(builds[0]).not.toBeNull(); // plain SIMD128 runs everywhere we support, Node included
    for (const build of builds) {
      if (!build) continue;
      const mem = new WebAssembly.Memory({ initial: 32, maximum: 16384 });
      const k = await instantiateKernels(build.module, mem);
      const rng = new Random(7);
      const [rows, features] = [9, 301];
      const [src, dst, positions] = [65536, 65536 + rows * features * 4, 65536 + 2 * rows * features * 4];
      for (const p of [0.1, 0.5, 0.9]) {
        const seed = rng.int(2 ** 32);
        const layer = rng.int(40);
        const threshold = dropoutThreshold(p);
        const view = () => new DataView(mem.buffer);
        const pos = Array.from({ length: rows }, (_, r) => (r === 0 ? 2 ** 32 - 1 : rng.int(2 ** 32)));
        for (let r = 0; r < rows; r++) view().setUint32(positions + r * 4, pos[r], true);
        const x = rng.uniformArray(rows * features, 0.5, 1.5);
        new Float32Array(mem.buffer, src, x.length).set(x);
        const scale = 1 / (1 - p);
        k.dropoutApply(src, dst, positions, seed, layer, threshold, scale, features, 0, rows);
        const y = new Float32Array(mem.buffer, dst, x.length);
        let kept = 0;
        for (let r = 0; r < rows; r++) {
          for (let u = 0; u < features; u++) {
            const keep = dropoutKeeps(seed, pos[r], layer, u, threshold);
            kept += keep ? 1 : 0;
            expect(y[r * features + u]).toBe(keep ? Math.fround(x[r * features + u] * Math.fround(scale)) : 0);
          }
        }
        expect(Math.abs(kept / (rows * features) - (1 - p))).toBeLessThan(0.05);
      }
    }
  });
});
