// The page's side of the CPU worker threads: starts them on one shared memory, hands each
// job over through the control block (no message per job), and learns of the end of a job,
// or of a failure, by message from the threads.

import { WORD, controlViews } from './control.ts';
import { encodeJob, type CpuJob } from './jobs.ts';
import type { KernelModule } from './kernels.ts';

/** What a thread gets once, at start. */
export interface ThreadInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  index: number;
  count: number;
  controlOffset: number;
}

/** What a thread reports. */
export type ThreadMessage = { kind: 'ready' } | { kind: 'done' } | { kind: 'error'; index: number; message: string };

const START_TIMEOUT_MS = 30_000;

interface PendingJob {
  resolve: () => void;
  reject: (error: Error) => void;
  errors: string[];
  finished: boolean;
}

export class ThreadPool {
  private pending: PendingJob | null = null;
  private failure: string | null = null;
  private readonly words: Int32Array;
  private readonly slots: Float64Array;

  private constructor(
    private readonly workers: Worker[],
    memory: WebAssembly.Memory,
    controlOffset: number,
  ) {
    ({ words: this.words, slots: this.slots } = controlViews(memory.buffer, controlOffset));
    workers.forEach((w) => {
      w.onmessage = (e: MessageEvent<ThreadMessage>) => this.onMessage(e.data);
      w.onerror = (e) => this.terminate(`a CPU thread crashed: ${e.message || 'unknown error'}`);
    });
  }

  static async start(options: { kernels: KernelModule; memory: WebAssembly.Memory; threads: number; controlOffset: number }): Promise<ThreadPool> {
    const { kernels, memory, threads, controlOffset } = options;
    const workers: Worker[] = [];
    try {
      await Promise.all(
        Array.from({ length: threads }, (_, index) => {
          const worker = new Worker(new URL('./cpuThread.worker.ts', import.meta.url), { type: 'module', name: `swarmgrad CPU thread ${index}` });
          workers.push(worker);
          return new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`CPU thread ${index} did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
            worker.onmessage = (e: MessageEvent<ThreadMessage>) => {
              clearTimeout(timer);
              if (e.data.kind === 'ready') resolve();
              else reject(new Error(`CPU thread ${index} failed to start: ${e.data.kind === 'error' ? e.data.message : e.data.kind}`));
            };
            worker.onerror = (e) => {
              clearTimeout(timer);
              reject(new Error(`CPU thread ${index} failed to start: ${e.message || 'the worker script did not load'}`));
            };
            const init: ThreadInit = { module: kernels.module, memory, index, count: threads, controlOffset };
            worker.postMessage(init);
          });
        }),
      );
    } catch (error) {
      workers.forEach((w) => w.terminate());
      throw error;
    }
    return new ThreadPool(workers, memory, controlOffset);
  }

  get threads(): number {
    return this.workers.length;
  }

  get lost(): boolean {
    return this.failure !== null;
  }

  /** Runs `job` on every thread; resolves when all are done, rejects with the first thread's error. */
  run(job: CpuJob): Promise<void> {
    if (this.failure) return Promise.reject(new Error(`The CPU threads are gone (${this.failure}); create a new backend`));
    if (this.pending) return Promise.reject(new Error('internal error: a CPU job was started while another was running'));
    encodeJob(job, this.slots);
    const w = this.words;
    Atomics.store(w, WORD.done, 0);
    Atomics.store(w, WORD.abort, 0);
    Atomics.store(w, WORD.barrierCount, 0);
    return new Promise<void>((resolve, reject) => {
      this.pending = { resolve, reject, errors: [], finished: false };
      Atomics.add(w, WORD.generation, 1);
      Atomics.notify(w, WORD.generation);
    });
  }

  terminate(reason: string): void {
    if (this.failure) return;
    this.failure = reason;
    this.workers.forEach((w) => w.terminate());
    const pending = this.pending;
    this.pending = null;
    pending?.reject(new Error(`The CPU job did not finish: ${reason}`));
  }

  private onMessage(message: ThreadMessage): void {
    const pending = this.pending;
    if (!pending) return;
    if (message.kind === 'error') pending.errors.push(`thread ${message.index}: ${message.message}`);
    if (message.kind === 'done') pending.finished = true;
    if (!pending.finished) return;
    // A failed job ends once its error message has arrived too (threads' messages are not ordered).
    const aborted = Atomics.load(this.words, WORD.abort) !== 0;
    if (aborted && pending.errors.length === 0) return;
    this.pending = null;
    if (aborted) pending.reject(new Error(`The CPU job failed in ${pending.errors.join('; ')}`));
    else pending.resolve();
  }
}
