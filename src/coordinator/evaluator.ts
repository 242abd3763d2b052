// Test-set evaluation in the coordinator's process: the job's model through the CPU layer
// table (src/cpu/cpuModel.ts on the caller's thread: the same kernels as a CPU contributor).
// About 0.1 s for the 10k Fashion-MNIST test set on one core (108 ms for the default MLP,
// scripts/bench-coordinator.ts); the host runs it in a worker_thread so rounds keep closing
// meanwhile.

import type { ImageDataset } from '../data/dataset.ts';
import { CpuModel, type InlineCpuModel } from '../cpu/cpuModel.ts';
import type { ResolvedModel } from '../model/layers/spec.ts';
import { sampleTokens } from '../model/sampling.ts';

/** What a next-token job's samples need besides the parameters (job.ts sampleSettings, the text's vocabulary). */
export interface TextSampling {
  prompt: string;
  length: number;
  temperature: number;
  seed: number;
  /** The text's characters in token order. */
  vocabulary: string[];
}

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

  /** The characters a next-token model writes after `sampling.prompt` with these parameters (the prompt not included). */
  async sample(params: Float32Array, sampling: TextSampling): Promise<string> {
    const tokens = this.cpu.model.tokens;
    if (!tokens) throw new Error('TestEvaluator.sample: the model is not a next-token model');
    const ids = new Map(sampling.vocabulary.map((c, i) => [c, i]));
    const prompt = [...sampling.prompt].map((c) => {
      const id = ids.get(c);
      if (id === undefined) throw new Error(`TestEvaluator.sample: the prompt's ${JSON.stringify(c)} is not in the vocabulary`);
      return id;
    });
    this.cpu.setParameters(params);
    const out = await sampleTokens((window) => this.cpu.logits(window, 1), {
      context: tokens.context,
      vocabulary: tokens.vocabulary,
      prompt,
      length: sampling.length,
      temperature: sampling.temperature,
      seed: sampling.seed,
    });
    // A model whose vocabulary is wider than the text's may draw an id no character has: shown as U+FFFD.
    return out.slice(prompt.length).map((id) => sampling.vocabulary[id] ?? '\uFFFD').join('');
  }
}
