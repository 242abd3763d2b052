import { describe, expect, it } from 'vitest';
import { parseBenchSettings } from '../settings.ts';
import { benchSuites } from '../suites.ts';
import type { BenchRow } from '../suite.ts';
import { cnnCpuChecks, cnnGpuChecks, probesAgree } from './checks.ts';
import { benchCnn, benchConvs, CNN_CPU_SUITE_ID, CNN_GPU_SUITE_ID, convOnnx, ortCpuConvName, ortGpuConvName, oursCpuConvName, oursGpuConvName } from './model.ts';

const convs = benchConvs(benchCnn().model);
const ms = (suite: string, name: string, value: number, threads?: number): BenchRow => ({ suite, name, value, unit: 'ms', ms: value, details: { threads } });

describe('the CNN benchmarks', () => {
  it('measure the zoo CNN\'s two 3×3 convs at batch 64, exportable to ONNX', () => {
    expect(convs.map((c) => c.label)).toEqual(['conv1 1→16 28×28 3×3', 'conv2 16→32 14×14 3×3']);
    for (const c of convs) expect(convOnnx(c).length).toBeGreaterThan(c.layer.weight.length * 4);
  });

  it('judge our forward against theirs per conv and thread count, and say what was not measured', () => {
    const rows = convs.flatMap((c, i) => [
      ms(CNN_CPU_SUITE_ID, oursCpuConvName(c, 'forward', 1), 2, 1),
      ms(CNN_CPU_SUITE_ID, oursCpuConvName(c, 'forward+backward', 1), 6, 1),
      ms(CNN_CPU_SUITE_ID, ortCpuConvName(c, 1), i === 0 ? 4 : 1, 1),
    ]);
    const checks = cnnCpuChecks(rows);
    expect(checks.map((c) => c.pass)).toEqual([true, false]);
    expect(checks[0].detail).toMatch(/2\.00× as fast; ours forward\+backward 6\.00 ms \(0\.67× their forward\)/);
    const gpu = cnnGpuChecks([ms(CNN_GPU_SUITE_ID, oursGpuConvName(convs[0], 'forward'), 1), ms(CNN_GPU_SUITE_ID, ortGpuConvName(convs[0]), 3)]);
    expect(gpu.map((c) => c.pass)).toEqual([true, false]);
    expect(gpu[1].detail).toBe('ours was not measured');
  });

  it('cross-check probes with a tolerance', () => {
    expect(probesAgree([1, 2], [1.0005, 2]).ok).toBe(true);
    expect(probesAgree([1, 2], [1, 2.1]).detail).toMatch(/^probe 1: ours 2, theirs 2.1/);
  });

  it('run alone with suites=, an unknown id failing as a suite of its own', () => {
    expect(benchSuites(parseBenchSettings(new URLSearchParams('suites=cnn-cpu,cnn-webgpu'))).map((s) => s.id)).toEqual(['cnn-webgpu', 'cnn-cpu']);
    const [bad, ...rest] = benchSuites(parseBenchSettings(new URLSearchParams('suites=cnn,cnn-cpu')));
    expect(rest.map((s) => s.id)).toEqual(['cnn-cpu']);
    return expect(bad.run({ log: () => {} }, () => {})).rejects.toThrow(/No benchmark suite "cnn"; the suites are matmul, /);
  });
});
