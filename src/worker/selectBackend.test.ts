// The selection policy, pure: a named backend wins outright, 'auto' takes the most
// examples per second among those that ran, and no working backend is a clear error.

import { describe, expect, it } from 'vitest';
import type { BackendMeasurement } from './api.ts';
import { resolveModel } from '../model/layers/spec.ts';
import type { TrainingBackend } from './backend.ts';
import { chooseBackend, measureBackend, selectingFactory } from './selectBackend.ts';

const m = (backend: 'webgpu' | 'cpu', examplesPerSecond: number | null, error?: string): BackendMeasurement => ({
  backend, examplesPerSecond, msPerBatch: examplesPerSecond ? (128 / examplesPerSecond) * 1000 : null, batch: 128, runs: examplesPerSecond ? 10 : 0, error,
});

describe('chooseBackend', () => {
  it('takes the faster backend and says by how much', () => {
    expect(chooseBackend('auto', [m('webgpu', 612.4), m('cpu', 31200)])).toEqual({
      chosen: 'cpu', reason: 'fastest on this job: CPU 31,200 examples/s vs WebGPU 612 examples/s',
    });
    expect(chooseBackend('auto', [m('webgpu', 90000), m('cpu', 31200)]).chosen).toBe('webgpu');
  });

  it('skips a backend that could not run, naming why', () => {
    expect(chooseBackend('auto', [m('webgpu', null, 'this browser has no WebGPU (navigator.gpu)'), m('cpu', 5000)])).toEqual({
      chosen: 'cpu', reason: 'fastest on this job: CPU 5,000 examples/s vs WebGPU unavailable (this browser has no WebGPU (navigator.gpu))',
    });
  });

  it("obeys the visitor's choice without measurements", () => {
    expect(chooseBackend('webgpu', [])).toEqual({ chosen: 'webgpu', reason: 'WebGPU, chosen by the visitor' });
    expect(chooseBackend('cpu', [m('webgpu', 1e6), m('cpu', 1)]).chosen).toBe('cpu');
  });

  it('fails clearly when nothing works or the choice is unknown', () => {
    expect(() => chooseBackend('auto', [m('webgpu', null, 'no adapter'), m('cpu', null, 'no SIMD')])).toThrow(
      'No backend can train on this device (WebGPU: no adapter; CPU: no SIMD)',
    );
    expect(() => chooseBackend('auto', [])).toThrow(/none was tried/);
    expect(() => chooseBackend('tpu' as 'auto', [])).toThrow(/'webgpu', 'cpu' or 'auto', got "tpu"/);
  });
});

describe('measureBackend start-up deadline', () => {
  const layout = resolveModel({ widths: [4, 3, 2], activation: 'relu' });
  const fakeBackend = (onDispose: () => void): TrainingBackend =>
    ({
      kind: 'cpu',
      lost: false,
      setDatasets: async () => {},
      setParameters: async () => {},
      gradient: async () => ({ loss: 1, correct: 0, count: 1, gradient: new Float32Array(layout.total) }),
      report: () => ({ kernel: 'fake' }),
      dispose: onDispose,
    }) as unknown as TrainingBackend;

  it('abandons a candidate that does not start in time, and disposes it once it does', async () => {
    let disposed = 0;
    let finishStartup!: () => void;
    const slow = () => new Promise<TrainingBackend>((resolve) => (finishStartup = () => resolve(fakeBackend(() => disposed++))));
    const { backend, measurement } = await measureBackend('webgpu', slow, layout, { startupBudgetMs: 20, budgetMs: 1 });
    expect(backend).toBeNull();
    expect(measurement.examplesPerSecond).toBeNull();
    expect(measurement.error).toBe('WebGPU did not start within 20 ms');
    finishStartup();
    await new Promise((r) => setTimeout(r, 0));
    expect(disposed).toBe(1);
  });

  it('on a busy device (nothing started in time) gives the CPU a second, longer try instead of refusing', async () => {
    const slow = (ms: number) => () => new Promise<TrainingBackend>((resolve) => setTimeout(() => resolve(fakeBackend(() => {})), ms));
    const factory = selectingFactory('auto', { cpu: slow(60), webgpu: slow(60) }, layout, { startupBudgetMs: 20, busyStartupBudgetMs: 2000, budgetMs: 1 });
    const backend = await factory();
    const { selection } = backend.report();
    expect(selection?.chosen).toBe('cpu');
    expect(selection?.candidates.find((c) => c.backend === 'webgpu')?.error).toBe('WebGPU did not start within 20 ms');
    expect(selection?.candidates.find((c) => c.backend === 'cpu')?.examplesPerSecond).toBeGreaterThan(0);
    // A CPU that cannot start even then: the page is told both tries.
    const never = () => new Promise<TrainingBackend>(() => {});
    const refused = selectingFactory('auto', { cpu: never, webgpu: never }, layout, { startupBudgetMs: 10, busyStartupBudgetMs: 30, budgetMs: 1 });
    await expect(refused()).rejects.toThrow(/CPU: CPU did not start within 10 ms; on a second try: CPU did not start within 30 ms; WebGPU: WebGPU did not start within 10 ms/);
  });

  it('disposes a candidate whose warm-up throws, and reports why', async () => {
    let disposed = 0;
    const broken = async () => ({ ...fakeBackend(() => disposed++), dispose: () => disposed++, gradient: async () => { throw new Error('device lost'); } }) as unknown as TrainingBackend;
    const { backend, measurement } = await measureBackend('cpu', broken, layout, { budgetMs: 1 });
    expect(backend).toBeNull();
    expect(measurement.error).toBe('device lost');
    expect(disposed).toBe(1);
  });
});
