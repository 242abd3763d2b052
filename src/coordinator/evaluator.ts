// Test-set evaluation in the coordinator's process. TestEvaluator.create runs the job's model
// through the CPU layer table (src/cpu/cpuModel.ts on the caller's thread: the same kernels as
// a CPU contributor); the constructor takes the plain JavaScript MLP (jsMlp.ts), which the
// scripts and tests of the MLP jobs use. Either takes about a second for the 10k Fashion-MNIST
// test set on one core; the host runs it in a worker_thread so rounds keep closing meanwhile.

import type { ImageDataset } from '../data/dataset.ts';
import { CpuModel, type InlineCpuModel } from '../cpu/cpuModel.ts';
import type { ParamLayout } from '../model/mlp.ts';
import type { ResolvedModel } from '../model/layers/spec.ts';
import { JsMlp } from './jsMlp.ts';

export interface Evaluation {
  loss: number;
  accuracy: number;
  /** Test examples evaluated. */
  count: number;
}

/** Test examples per forward call of the CPU model: bounds its activation memory. */
const EVAL_CHUNK = 500;

export class TestEvaluator {
  private readonly mlp: JsMlp | null;
  private readonly cpu: InlineCpuModel | null;

  constructor(
    layout: ParamLayout | ResolvedModel,
    private readonly test: ImageDataset,
    /** Evaluate on the first this-many test examples (job.data.testExamples). */
    private readonly limit = test.count,
    cpu: InlineCpuModel | null = null,
  ) {
    if (!Number.isInteger(limit) || limit < 1 || limit > test.count) {
      throw new Error(`TestEvaluator: the job asks for ${limit} test examples, the test set has ${test.count}`);
    }
    this.cpu = cpu;
    this.mlp = cpu ? null : new JsMlp(layout);
    cpu?.setDatasets(null, test);
  }

  /** An evaluator of any model on the CPU layer table (one thread, synchronous calls). */
  static async create(model: ResolvedModel, test: ImageDataset, limit = test.count): Promise<TestEvaluator> {
    const cpu = await CpuModel.create(model, { threads: 1 });
    return new TestEvaluator(model, test, limit, cpu.inline);
  }

  evaluate(params: Float32Array): Evaluation {
    if (this.mlp) {
      const { loss, correct, count } = this.mlp.evaluate(params, this.test, this.limit);
      return { loss, accuracy: correct / count, count };
    }
    const cpu = this.cpu!;
    cpu.setParameters(params);
    let lossSum = 0;
    let correct = 0;
    for (let start = 0; start < this.limit; start += EVAL_CHUNK) {
      const indices = Uint32Array.from({ length: Math.min(EVAL_CHUNK, this.limit - start) }, (_, i) => start + i);
      const r = cpu.evaluate('test', indices);
      lossSum += r.lossSum;
      correct += r.correct;
    }
    return { loss: lossSum / this.limit, accuracy: correct / this.limit, count: this.limit };
  }
}
