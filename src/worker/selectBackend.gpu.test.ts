// Backend selection in the training worker, in Chromium with WebGPU (SwiftShader here) and
// the CPU backend: 'auto' times both on the job's model and reports the figures; the
// choice is the faster one; recovery rebuilds the chosen kind without re-timing.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEFAULT_MLP } from '../model/mlp.ts';
import { startTrainerWorker, type TrainerWorker } from './client.ts';

let worker: TrainerWorker;
beforeAll(() => {
  worker = startTrainerWorker();
});
afterAll(() => worker?.terminate());

it("'auto' times WebGPU and the CPU on the job's shapes and keeps the faster", async () => {
  const report = await worker.api.init({ spec: DEFAULT_MLP, selectionBudgetMs: 800, selectionStartupMs: 300_000, matmulConfig: '4x8_wg8x8_direct' });
  const selection = report.selection!;
  console.log(`backend selection: ${JSON.stringify(selection)}`);
  expect(selection.requested).toBe('auto');
  // The CPU is timed first (it starts fast); WebGPU gets a long start-up budget here, so both are measured.
  expect(selection.candidates.map((c) => c.backend)).toEqual(['cpu', 'webgpu']);
  for (const c of selection.candidates) {
    expect(c.error).toBeUndefined();
    expect(c.batch).toBe(128);
    expect(c.runs).toBeGreaterThanOrEqual(3);
    expect(c.examplesPerSecond).toBeCloseTo((128 / c.msPerBatch!) * 1000, 6);
  }
  const [cpu, webgpu] = selection.candidates;
  const faster = cpu.examplesPerSecond! > webgpu.examplesPerSecond! ? 'cpu' : 'webgpu';
  expect(selection.chosen).toBe(faster);
  expect(report.backend).toBe(faster);
  expect(selection.reason).toMatch(/^fastest on this job: (CPU|WebGPU) [\d,]+ examples\/s vs (WebGPU|CPU) [\d,]+ examples\/s$/);

  // The chosen backend trains; after a loss it is rebuilt as the same kind, with the same figures.
  await worker.api.loadDataset({ kind: 'url', baseUrl: '/data/fashion-mnist/' });
  await worker.api.initParameters(3);
  const indices = Uint32Array.from({ length: 32 }, (_, i) => i);
  const before = await worker.api.computeGradient({ version: 0, indices });
  await worker.api.simulateDeviceLoss();
  const after = await worker.api.computeGradient({ version: 0, indices });
  expect(after.recoveries).toBe(1);
  expect(new Uint32Array(after.gradient.buffer)).toEqual(new Uint32Array(before.gradient.buffer));
});

it('hardwareGpuOnly refuses a software adapter before compiling anything, and the CPU computes', async () => {
  const report = await worker.api.init({ spec: DEFAULT_MLP, hardwareGpuOnly: true, selectionBudgetMs: 300 });
  const webgpu = report.selection!.candidates.find((c) => c.backend === 'webgpu')!;
  // SwiftShader here: refused at once, named; on a machine with a real GPU both are timed.
  if (webgpu.error) expect(webgpu.error).toMatch(/is a software GPU: its compiles and compute would run beside the page's own frames/);
  else expect(webgpu.examplesPerSecond).toBeGreaterThan(0);
  expect(report.backend).toBe(webgpu.error ? 'cpu' : report.selection!.chosen);
  await expect(worker.api.init({ spec: DEFAULT_MLP, hardwareGpuOnly: 'yes' as unknown as boolean })).rejects.toThrow(/hardwareGpuOnly must be true or false/);
});
