import { describe, expect, it } from 'vitest';
import { trainLossBetween, type EvaluationRecord } from './records.ts';
import { lossCurve } from './summary.ts';

const round = (r: number, loss: number, examples = 10) => ({ round: r, loss, examples }) as never;
const evaluation = (version: number, loss: number, accuracy = 0.5): EvaluationRecord => ({ version, loss, accuracy, count: 100, at: version });

describe('the loss curves of a run', () => {
  it('gives the example-weighted training loss of the rounds that made each version since the last evaluation', () => {
    const history = [round(0, 4), round(1, 3, 30), round(2, 2), round(3, 1)];
    expect(trainLossBetween(history, 0, 2)).toBe((4 * 10 + 3 * 30) / 40);
    expect(trainLossBetween(history, 2, 4)).toBe(1.5);
    expect(trainLossBetween(history, 4, 6)).toBeNull();
    expect(lossCurve(history, [evaluation(2, 3.5), evaluation(4, 1.8, 0.6)])).toEqual([
      { version: 2, at: 2, trainLoss: 3.25, testLoss: 3.5, testAccuracy: 0.5 },
      { version: 4, at: 4, trainLoss: 1.5, testLoss: 1.8, testAccuracy: 0.6 },
    ]);
  });

  it('counts an evaluation repeated after a restart once, in version order', () => {
    const history = [round(0, 2), round(1, 1)];
    const curve = lossCurve(history, [evaluation(1, 2.5), evaluation(2, 2.2), evaluation(1, 2.5)]);
    expect(curve.map((p) => [p.version, p.trainLoss])).toEqual([[1, 2], [2, 1]]);
  });
});
