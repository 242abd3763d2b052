// Result checks (coordinator/resultCheck.ts: hash, signature, decode) in worker threads, so
// that the coordinator's event loop spends its time on what needs its state. Each check is
// sent to the thread with the fewest in flight; the update's bytes are copied to it and the
// decoded values come back without a copy. A thread that fails is replaced by checks on the
// caller's thread, never by a hang.

import type { EventLoopUtilization } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { checkResult, type ResultCheck, type ResultCheckInput } from '../coordinator/resultCheck.ts';
import { nodeVerifier } from './nodeSigning.ts';

type Reply = { id: number; check?: ResultCheck; error?: string };

interface Thread {
  worker: Worker;
  inFlight: number;
  failed: Error | null;
}

export class ResultCheckPool {
  private readonly threads: Thread[] = [];
  private nextId = 1;
  private readonly pending = new Map<number, { thread: Thread; input: ResultCheckInput; resolve: (c: ResultCheck) => void; reject: (e: Error) => void }>();
  /** Checks that ran on the caller's thread because no worker could take them. */
  inlineChecks = 0;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1 || size > 64) throw new RangeError(`ResultCheckPool: size must be a whole number of threads from 1 to 64, got ${size}`);
    // Node 20 does not carry `--import tsx` into worker threads: the thread registers tsx's loader itself (as evaluationThread.ts does).
    const entry = JSON.stringify(new URL('./resultCheckWorker.ts', import.meta.url).href);
    const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${entry}); })`;
    for (let i = 0; i < size; i++) {
      const thread: Thread = { worker: new Worker(bootstrap, { eval: true }), inFlight: 0, failed: null };
      thread.worker.on('message', (reply: Reply) => this.settle(reply));
      thread.worker.on('error', (error) => this.fail(thread, error));
      thread.worker.on('exit', (code) => this.fail(thread, new Error(`a result-check thread exited (code ${code})`)));
      this.threads.push(thread);
    }
  }

  /** Each thread's event-loop figures now, to measure from (utilizationSince). */
  utilizationDetail(): EventLoopUtilization[] {
    return this.threads.map((t) => t.worker.performance.eventLoopUtilization());
  }

  /** Each thread's busy fraction since `before` (from utilizationDetail). */
  utilizationSince(before: readonly EventLoopUtilization[]): number[] {
    return this.threads.map((t, i) => t.worker.performance.eventLoopUtilization(before[i]).utilization);
  }

  /** Checks `input` on a thread (the caller's update bytes are copied, never detached). */
  check(input: ResultCheckInput): Promise<ResultCheck> {
    const thread = this.threads.filter((t) => !t.failed).sort((a, b) => a.inFlight - b.inFlight)[0];
    if (!thread) return this.inline(input);
    const id = this.nextId++;
    const update = input.update.slice();
    thread.inFlight++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { thread, input, resolve, reject });
      thread.worker.postMessage({ id, input: { ...input, update } }, [update.buffer]);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => {
      t.failed ??= new Error('the result-check pool was closed');
      return t.worker.terminate();
    }));
  }

  private inline(input: ResultCheckInput): Promise<ResultCheck> {
    this.inlineChecks++;
    try {
      return Promise.resolve(checkResult(input, nodeVerifier));
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  private settle(reply: Reply): void {
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    p.thread.inFlight--;
    if (reply.check) p.resolve(reply.check);
    else p.reject(new Error(`a result check failed: ${reply.error}`));
  }

  /** A thread that died: its checks in flight run here instead, and it gets no more. */
  private fail(thread: Thread, error: Error): void {
    if (thread.failed) return;
    thread.failed = error;
    for (const [id, p] of this.pending) {
      if (p.thread !== thread) continue;
      this.pending.delete(id);
      this.inline(p.input).then(p.resolve, p.reject);
    }
  }
}
