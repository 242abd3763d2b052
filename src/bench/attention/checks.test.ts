import { describe, expect, it } from 'vitest';
import type { BenchRow } from '../suite.ts';
import { attentionCpuChecks, attentionGpuChecks } from './checks.ts';
import { ATTENTION_CPU_SUITE_ID, ATTENTION_GPU_SUITE_ID, oursName, ortName } from './model.ts';

const row = (suite: string, name: string, value: number, threads?: number): BenchRow => ({ suite, name, value, unit: 'ms', details: threads ? { threads } : {} });

describe('attention benchmark checks', () => {
  it('report our forward against theirs and our forward+backward beside it, per thread count', () => {
    const rows = [
      row(ATTENTION_CPU_SUITE_ID, oursName('forward', 1), 15), row(ATTENTION_CPU_SUITE_ID, oursName('forward+backward', 1), 45), row(ATTENTION_CPU_SUITE_ID, ortName(1), 7.5),
      row(ATTENTION_CPU_SUITE_ID, oursName('forward', 2), 10, 2), row(ATTENTION_CPU_SUITE_ID, ortName(2), 5, 2),
    ];
    rows[0].details = { threads: 1 };
    rows[1].details = { threads: 1 };
    rows[2].details = { threads: 1 };
    const checks = attentionCpuChecks(rows);
    expect(checks).toHaveLength(2);
    expect(checks[0]).toMatchObject({ pass: true, detail: 'ours forward 15.00 ms vs onnxruntime-web 7.50 ms: 0.50× as fast; ours forward+backward 45.00 ms, 6.00× their forward\'s time' });
    expect(checks[1].detail).toBe('ours forward 10.00 ms vs onnxruntime-web 5.00 ms: 0.50× as fast');
  });

  it('fail when a side was not measured', () => {
    expect(attentionGpuChecks([row(ATTENTION_GPU_SUITE_ID, oursName('forward'), 10)])[0]).toMatchObject({ pass: false, detail: 'theirs was not measured' });
    expect(attentionGpuChecks([{ ...row(ATTENTION_GPU_SUITE_ID, ortName(), NaN), skipped: 'time cap' }, row(ATTENTION_GPU_SUITE_ID, oursName('forward'), 10)])[0].pass).toBe(false);
    expect(attentionCpuChecks([])[0]).toMatchObject({ pass: false, detail: 'not measured' });
  });
});
