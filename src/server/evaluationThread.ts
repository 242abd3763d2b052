// Runs test-set evaluations in a worker thread, one at a time, so that the coordinator's
// event loop keeps answering contributors during the ~1 s each takes.

import { Worker } from 'node:worker_threads';
import type { Evaluation, TextSampling } from '../coordinator/evaluator.ts';
import type { ModelSpec } from '../model/layers/spec.ts';
import type { ImageDataset } from '../data/dataset.ts';

export interface EvaluationSetup {
  spec: ModelSpec;
  /** The job's test split (copied into the thread once, by structured clone). */
  test: ImageDataset;
  /** Evaluate on the first this-many test examples. */
  testExamples: number;
  /** A next-token job's text samples (sample() refuses without). */
  sampling?: TextSampling;
}

/** What the thread is asked: an evaluation, or a text sample. */
export type EvaluationRequest = { id: number; params: Float32Array; kind: 'evaluate' | 'sample' };
export type EvaluationReply = { id: number; evaluation?: Evaluation; sample?: string; error?: string };

export class EvaluationThread {
  private readonly worker: Worker;
  private nextId = 1;
  /** Set once the thread has failed or exited: later evaluations reject at once, never hang. */
  private failure: Error | null = null;
  private readonly pending = new Map<number, { resolve: (reply: EvaluationReply) => void; reject: (e: Error) => void }>();

  constructor(private readonly setup: EvaluationSetup) {
    // Node 20 does not carry `--import tsx` into worker threads, so the thread registers
    // tsx's loader itself before importing the TypeScript entry point.
    const entry = JSON.stringify(new URL('./evaluationWorker.ts', import.meta.url).href);
    const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${entry}); })`;
    this.worker = new Worker(bootstrap, { eval: true, workerData: setup });
    this.worker.on('message', (reply: EvaluationReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (reply.error === undefined) p.resolve(reply);
      else p.reject(new Error(`Evaluation failed: ${reply.error}`));
    });
    this.worker.on('error', (error) => this.failAll(error));
    this.worker.on('exit', (code) => this.failAll(new Error(`The evaluation thread exited (code ${code})`)));
  }

  /** Evaluate a copy of `params` (the caller's array stays shared and untouched). */
  async evaluate(params: Float32Array): Promise<Evaluation> {
    return (await this.ask('evaluate', params)).evaluation!;
  }

  /** Whether this job's evaluations come with text samples. */
  get samples(): boolean {
    return this.setup.sampling !== undefined;
  }

  /** The text a next-token model writes after the job's prompt with a copy of `params` (queued behind the evaluations asked before). */
  async sample(params: Float32Array): Promise<string> {
    if (!this.setup.sampling) throw new Error('EvaluationThread.sample: this job has no text samples (not a next-token model)');
    return (await this.ask('sample', params)).sample!;
  }

  private ask(kind: EvaluationRequest['kind'], params: Float32Array): Promise<EvaluationReply> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const copy = params.slice();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, params: copy, kind } satisfies EvaluationRequest, [copy.buffer]);
    });
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }

  private failAll(error: Error): void {
    this.failure ??= error;
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }
}
