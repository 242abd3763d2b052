// Test-set evaluation in the coordinator's process: the job's model through the CPU layer
// table (src/cpu/cpuModel.ts on the caller's thread: the same kernels as a CPU contributor).
// About 0.1 s for the 10k Fashion-MNIST test set on one core (108 ms for the default MLP,
// scripts/bench-coordinator.ts); the host runs it in a worker_thread so rounds keep closing
// meanwhile.

import type { ImageDataset } from '../data/dataset.ts';
import { CpuModel, type InlineCpuModel } from '../cpu/cpuModel.ts';
import type { ResolvedModel } from '../model/layers/spec.ts';

export interface Evaluation {
  loss: number;
  accuracy: number;
  /** Test examples evaluated. */
  count: number;
}

/** Test examples per forward call of the CPU model: bounds its activation memory. */
const EVAL_CHUNK = 500;

export class TestEvaluator {
  constructor(
    private readonly cpu: InlineCpuModel,
    private readonly test: ImageDataset,
    /** Evaluate on the first this-many test examples (job.data.testExamples). */
    private readonly limit = test.count,
  ) {
    if (!Number.isInteger(limit) || limit < 1 || limit > test.count) {
      throw new Error(`TestEvaluator: the job asks for ${limit} test examples, the test set has ${test.count}`);
    }
    cpu.setDatasets(null, test);
  }

  /** An evaluator of any model on the CPU layer table (one thread, synchronous calls). */
  static async create(model: ResolvedModel, test: ImageDataset, limit = test.count): Promise<TestEvaluator> {
    const cpu = await CpuModel.create(model, { threads: 1 });
    return new TestEvaluator(cpu.inline, test, limit);
  }

  evaluate(params: Float32Array): Evaluation {
    const cpu = this.cpu;
    cpu.setParameters(params);
    let lossSum = 0;
    let correct = 0;
    let labels = 0;
    // Chunks of EVAL_CHUNK rows of work: examples, or windows of a next-token model's T positions.
    const chunk = Math.max(1, Math.floor(EVAL_CHUNK / cpu.model.labelsPerExample));
    for (let start = 0; start < this.limit; start += chunk) {
      const indices = Uint32Array.from({ length: Math.min(chunk, this.limit - start) }, (_, i) => start + i);
      const r = cpu.evaluate('test', indices);
      lossSum += r.lossSum;
      correct += r.correct;
      labels += r.count;
    }
    // The mean over the labels: the examples, or every position of every window.
    return { loss: lossSum / labels, accuracy: correct / labels, count: this.limit };
  }
}
