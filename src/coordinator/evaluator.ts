// Test-set evaluation in the coordinator's process, on the fast CPU forward. It takes
// about 1.3 s for the full 10k Fashion-MNIST test set on one core (scripts/bench-coordinator.ts);
// the host may run it in a worker_thread so rounds keep closing meanwhile.

import type { ImageDataset } from '../data/dataset.ts';
import type { ParamLayout } from '../model/mlp.ts';
import type { ResolvedModel } from '../model/layers/spec.ts';
import { JsMlp } from './jsMlp.ts';

export interface Evaluation {
  loss: number;
  accuracy: number;
  /** Test examples evaluated. */
  count: number;
}

export class TestEvaluator {
  private readonly mlp: JsMlp;

  constructor(
    layout: ParamLayout | ResolvedModel,
    private readonly test: ImageDataset,
    /** Evaluate on the first this-many test examples (job.data.testExamples). */
    private readonly limit = test.count,
  ) {
    if (!Number.isInteger(limit) || limit < 1 || limit > test.count) {
      throw new Error(`TestEvaluator: the job asks for ${limit} test examples, the test set has ${test.count}`);
    }
    this.mlp = new JsMlp(layout);
  }

  evaluate(params: Float32Array): Evaluation {
    const { loss, correct, count } = this.mlp.evaluate(params, this.test, this.limit);
    return { loss, accuracy: correct / count, count };
  }
}
