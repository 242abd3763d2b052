import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuContext } from '../gpu/context.ts';
import { autotuneMatmul, memoryTuneCache, representativeShape } from './autotune.ts';
import { MATMUL_CONFIGS, configName, parseConfigName } from './matmul.ts';
import { runSelfTest } from './selftest.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await GpuContext.create();
});
afterAll(() => ctx?.destroy());

describe('autotune', () => {
  it('times every configuration, picks the fastest and caches it per adapter', async () => {
    const cache = memoryTuneCache();
    const shape = { layout: 'nn' as const, m: 64, n: 96, k: 80 };
    const configs = MATMUL_CONFIGS.slice(0, 3);
    const first = await autotuneMatmul(ctx, { shape, cache, configs, repetitions: 1 });
    expect(first.timings.map((t) => t.config).sort()).toEqual(configs.map(configName).sort());
    expect(first.best).toBe(first.timings[0].config);
    expect(first.timings.every((t) => t.ms > 0 && t.ms >= first.timings[0].ms)).toBe(true);
    expect(parseConfigName(first.best)).toEqual(configs.find((c) => configName(c) === first.best));
    const second = await autotuneMatmul(ctx, { shape, cache, configs, repetitions: 1 });
    expect(second).toEqual(first); // served from the cache: same timestamp and timings
  });

  it('tunes the MLP on its largest forward product', () => {
    expect(representativeShape([784, 256, 128, 10])).toEqual({ layout: 'nn', m: 128, n: 256, k: 784 });
    expect(representativeShape([10, 20, 500, 3], 32)).toEqual({ layout: 'nn', m: 32, n: 500, k: 20 });
  });
});

describe('self-test', () => {
  // Every configuration is checked against the reference by matmul.gpu.test.ts; here the
  // self-test itself, on one direct and one shared-memory kernel (each compile takes seconds
  // on a software GPU).
  it('passes on this device with a direct and a shared-memory configuration', async () => {
    for (const config of [MATMUL_CONFIGS.find((c) => !c.shared)!, MATMUL_CONFIGS.find((c) => c.shared)!]) await runSelfTest(ctx, config);
  });
});
