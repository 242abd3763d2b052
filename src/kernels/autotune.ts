// A short start-up autotune: time each matmul configuration on the job's own largest
// product and keep the fastest, cached per adapter and shader version so that it runs once.

import { adapterKey, type GpuContext } from '../gpu/context.ts';
import type { ComputeRecorder } from '../gpu/recorder.ts';
import { timeRecordedWork } from '../gpu/timing.ts';
import { STORAGE } from '../gpu/buffers.ts';
import { floats } from './common.ts';
import { MATMUL_CONFIGS, MatmulOp, configFits, configName, matmulFlops, parseConfigName, type MatmulConfig, type MatmulShape } from './matmul.ts';
import { WGSL } from './shaders.ts';

export interface TuneTiming {
  config: string;
  ms: number;
  gflops: number;
}

export interface TuneResult {
  key: string;
  best: string;
  shape: MatmulShape;
  timings: TuneTiming[];
  /** Throughput of the best configuration, for sizing submits and leases. */
  flopsPerMs: number;
  tunedAt: string;
}

/** Where tuning results live between sessions (IndexedDB in a browser). */
export interface TuneCache {
  get(key: string): Promise<TuneResult | undefined>;
  set(key: string, value: TuneResult): Promise<void>;
}

export const memoryTuneCache = (): TuneCache => {
  const map = new Map<string, TuneResult>();
  return { get: async (k) => map.get(k), set: async (k, v) => void map.set(k, v) };
};

/** Changes whenever matmul.wgsl changes, so stale choices are not reused. */
export function shaderVersion(): string {
  let h = 2166136261;
  for (let i = 0; i < WGSL.matmul.length; i++) h = Math.imul(h ^ WGSL.matmul.charCodeAt(i), 16777619);
  return (h >>> 0).toString(16);
}

export interface AutotuneOptions {
  shape: MatmulShape;
  cache?: TuneCache;
  configs?: readonly MatmulConfig[];
  /** Timed repetitions per configuration (after one warm-up); the minimum counts. */
  repetitions?: number;
}

export async function autotuneMatmul(ctx: GpuContext, options: AutotuneOptions): Promise<TuneResult> {
  const { shape } = options;
  const key = `matmul|${shaderVersion()}|${shape.layout}:${shape.m}x${shape.n}x${shape.k}|${adapterKey(ctx.report)}`;
  const cached = await options.cache?.get(key).catch(() => undefined);
  if (cached && isValidCached(cached)) return cached;
  const configs = (options.configs ?? MATMUL_CONFIGS).filter((c) => configFits(c, ctx.device.limits));
  const repetitions = options.repetitions ?? 3;
  const { m, n, k } = shape;
  const aLen = m * k;
  const bLen = k * n;
  const a = ctx.device.createBuffer({ label: 'tune A', size: aLen * 4, usage: STORAGE });
  const b = ctx.device.createBuffer({ label: 'tune B', size: bLen * 4, usage: STORAGE });
  const c = ctx.device.createBuffer({ label: 'tune C', size: m * n * 4, usage: STORAGE });
  const timings: TuneTiming[] = [];
  try {
    // Compile all first (in parallel), so compile time does not leak into the timings.
    const ops = await Promise.all(configs.map((config) => MatmulOp.create(ctx, shape, {}, config)));
    for (const op of ops) {
      const encode = (rec: ComputeRecorder) => op.encode(rec, { a: floats(a, 0, aLen), b: floats(b, 0, bLen), c: floats(c, 0, m * n) });
      const best = (await timeRecordedWork(ctx, encode, { warmups: 1, repetitions }, 'autotune')).best.ms;
      timings.push({ config: configName(op.config), ms: best, gflops: matmulFlops(shape) / best / 1e6 });
      op.destroy();
    }
  } finally {
    a.destroy();
    b.destroy();
    c.destroy();
  }
  timings.sort((x, y) => x.ms - y.ms);
  const result: TuneResult = {
    key,
    best: timings[0].config,
    shape,
    timings,
    flopsPerMs: matmulFlops(shape) / timings[0].ms,
    tunedAt: new Date().toISOString(),
  };
  await options.cache?.set(key, result).catch((error) => console.warn(`Could not cache the autotune result: ${error}`));
  return result;
}

function isValidCached(r: TuneResult): boolean {
  try {
    parseConfigName(r.best);
    return r.flopsPerMs > 0;
  } catch {
    return false;
  }
}

/** The shape the MLP's tuning is done on: its largest forward product at a typical batch. */
export function representativeShape(widths: number[], batch = 128): MatmulShape {
  let best = { n: widths[1], k: widths[0] };
  for (let l = 1; l + 1 < widths.length; l++) {
    if (widths[l] * widths[l + 1] > best.n * best.k) best = { n: widths[l + 1], k: widths[l] };
  }
  return { layout: 'nn', m: batch, ...best };
}
