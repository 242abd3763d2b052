import { describe, expect, it } from 'vitest';
import { SizeGate } from './sizeGate.ts';

const cubic = (n: number) => n ** 3;

describe('SizeGate', () => {
  it('measures the first size, then predicts by work and skips what would exceed the cap', () => {
    const gate = new SizeGate({ capMs: 10_000, requiredSizes: [1024], blindLimit: 1024, work: cubic });
    expect(gate.decide(256)).toEqual({ measure: true, predictedMs: null });
    gate.recordRun(256, 200);
    expect(gate.decide(512)).toEqual({ measure: true, predictedMs: 1600 });
    gate.recordRun(512, 1500);
    // Required: measured whatever the prediction (12 s > 10 s).
    expect(gate.decide(1024)).toEqual({ measure: true, predictedMs: 12_000 });
    gate.recordRun(1024, 11_000);
    const d = gate.decide(2048);
    expect(d.measure).toBe(false);
    expect(d.measure === false && d.reason).toBe('skipped: one run is predicted to take 88 s (from 11 s at N=1024), over the 10 s cap');
  });

  it('measures a size above the blind limit only after a smaller size predicted it', () => {
    const gate = new SizeGate({ capMs: 10_000, requiredSizes: [1024], blindLimit: 1024, work: cubic });
    expect(gate.decide(2048)).toEqual({
      measure: false,
      reason: 'skipped: no smaller N was measured to predict its time against the cap; list one too (e.g. sizes=256,2048)',
    });
    expect(gate.decide(1024)).toEqual({ measure: true, predictedMs: null });
  });

  it('does not try larger sizes after a failure, and says where it failed', () => {
    const gate = new SizeGate({ capMs: 10_000, requiredSizes: [1024], blindLimit: 1024, work: cubic });
    gate.recordFailure(256, 'device lost');
    expect(gate.decide(1024)).toEqual({ measure: false, reason: 'not measured: it failed at N=256 (device lost)' });
  });

  it('rejects a cap or a run time that is not positive', () => {
    expect(() => new SizeGate({ capMs: 0, requiredSizes: [], blindLimit: 1024, work: cubic })).toThrow(/positive .* got 0/);
    const gate = new SizeGate({ capMs: 1, requiredSizes: [], blindLimit: 1024, work: cubic });
    expect(() => gate.recordRun(256, NaN)).toThrow(/must be positive, got NaN ms at N=256/);
  });
});
