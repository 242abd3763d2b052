import { describe, expect, it } from 'vitest';
import type { BenchRow } from '../suite.ts';
import { matmulChecks } from './checks.ts';
import { ORT_WEBGPU_NAME, OURS_PREFIX, REFERENCE_NAME } from './names.ts';

const row = (name: string, size: number, value: number, ms: number, wallMs?: number): BenchRow => ({
  suite: 'matmul',
  name,
  size,
  value,
  unit: 'GFLOP/s',
  ms,
  details: wallMs === undefined ? {} : { wallMs },
});

describe('matmulChecks', () => {
  it('compares the best of ours with the reference by rate and with ORT WebGPU by wall-clock', () => {
    const rows = [
      row(OURS_PREFIX + 'a', 1024, 4, 537, 560),
      row(OURS_PREFIX + 'b', 1024, 3, 716, 540), // slower on the GPU, faster on the wall-clock
      row(OURS_PREFIX + 'a', 2048, 40, 1, 1), // another size: ignored
      row(REFERENCE_NAME, 1024, 0.5, 4295),
      row(ORT_WEBGPU_NAME, 1024, 2, 1000),
    ];
    const [ref, ort] = matmulChecks(rows);
    expect(ref.pass).toBe(true);
    expect(ref.detail).toBe('ours a 4.000 GFLOP/s vs reference 16×16 tiled 0.500 GFLOP/s: 8.00×');
    expect(ort.pass).toBe(true);
    expect(ort.detail).toContain('ours b 540 ms vs onnxruntime-web webgpu 1000 ms per run');
    expect(ort.detail).toContain('1.85×');
  });

  it('fails a bar that is not met', () => {
    const [ref, ort] = matmulChecks([row(OURS_PREFIX + 'a', 1024, 4, 537, 537), row(REFERENCE_NAME, 1024, 1, 2148), row(ORT_WEBGPU_NAME, 1024, 3, 700)]);
    expect(ref.pass).toBe(false);
    expect(ref.detail).toContain('4.00×');
    expect(ort.pass).toBe(false);
    expect(ort.detail).toContain('1.30×');
  });

  it('fails with the reason when a row at N=1024 is missing or skipped', () => {
    const skipped: BenchRow = { suite: 'matmul', name: REFERENCE_NAME, size: 1024, value: NaN, unit: 'GFLOP/s', skipped: 'failed: device lost' };
    const [ref, ort] = matmulChecks([row(OURS_PREFIX + 'a', 1024, 4, 537), skipped]);
    expect(ref).toEqual({ bar: expect.stringContaining('5×'), pass: false, detail: 'no measurement of the reference at N=1024 (failed: device lost)' });
    expect(ort.pass).toBe(false);
    expect(ort.detail).toContain('is 1024 in the sizes?');
    expect(matmulChecks([]).every((c) => !c.pass)).toBe(true);
  });
});
