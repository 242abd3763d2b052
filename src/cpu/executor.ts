// Runs CPU jobs: on the calling thread (one thread, any page), or on a pool of worker
// threads sharing one WebAssembly memory (needs cross-origin isolation). Both run the same
// ThreadProgram, so they compute the same bits.

import type { CpuJob } from './jobs.ts';
import { instantiateKernels, loadKernelModule, type CpuKernelExports, type SimdLevel } from './kernels.ts';
import { MAX_THREADS, headerRegions, pagesFor } from './memoryPlan.ts';
import { ThreadProgram } from './program.ts';
import { ThreadPool } from './threadPool.ts';

export interface CpuExecutor {
  readonly threads: number;
  readonly simd: SimdLevel;
  readonly memory: WebAssembly.Memory;
  readonly heapBase: number;
  /** Whether the threads are gone (a worker crashed or was terminated); a new executor is needed. */
  readonly lost: boolean;
  /** Grows the memory to at least `bytes`. */
  ensureBytes(bytes: number): void;
  run(job: CpuJob): Promise<void>;
  /** On one thread only: runs the job on the caller's thread and returns when it is done. */
  readonly runSync?: (job: CpuJob) => void;
  /** Ends the threads as a crash would (tests, chaos drills). */
  kill(): void;
  dispose(): void;
}

export interface ExecutorOptions {
  /** Worker threads; 1 computes on the calling thread. Default: defaultThreadCount(). */
  threads?: number;
  /** Force a SIMD level (benchmarks, tests); default: relaxed where the engine has it. */
  simd?: SimdLevel;
}

/** Pages the memory starts with: the module's static data, the control block, room to grow. */
const INITIAL_PAGES = 16;
const MAXIMUM_PAGES = 16384;

/** Whether this context may share memory with worker threads (COOP/COEP served). */
export function canShareMemory(): boolean {
  return globalThis.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function' && typeof Worker === 'function';
}

/** One thread per logical core where threads are possible, capped at MAX_THREADS; else 1. */
export function defaultThreadCount(): number {
  if (!canShareMemory()) return 1;
  const cores = globalThis.navigator?.hardwareConcurrency ?? 1;
  return Math.max(1, Math.min(MAX_THREADS, cores));
}

export async function createExecutor(options: ExecutorOptions = {}): Promise<CpuExecutor> {
  const threads = options.threads ?? defaultThreadCount();
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new Error(`CPU threads must be an integer in [1, ${MAX_THREADS}], got ${threads}`);
  }
  if (threads > 1 && !canShareMemory()) {
    throw new Error(
      `${threads} CPU threads need cross-origin isolation (SharedArrayBuffer), which this page lacks: ` +
        'serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp, or use 1 thread.',
    );
  }
  const shared = threads > 1;
  const kernels = await loadKernelModule({ shared, simd: options.simd });
  const memory = new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: MAXIMUM_PAGES, shared });
  const local = await instantiateKernels(kernels.module, memory);
  if (!shared) return new InlineExecutor(memory, local, kernels.simd);
  const pool = await ThreadPool.start({ kernels, memory, threads, controlOffset: headerRegions(local.heapBase()).control.offset });
  return new PoolExecutor(memory, local.heapBase(), kernels.simd, pool);
}

abstract class MemoryOwner {
  constructor(readonly memory: WebAssembly.Memory) {}

  ensureBytes(bytes: number): void {
    const missing = pagesFor(bytes) - this.memory.buffer.byteLength / 65536;
    if (missing <= 0) return;
    if (pagesFor(bytes) > MAXIMUM_PAGES) {
      throw new Error(`The CPU backend needs ${(bytes / 2 ** 20).toFixed(0)} MiB, more than its ${MAXIMUM_PAGES / 16} MiB maximum: use a smaller dataset or micro-batch`);
    }
    this.memory.grow(missing);
  }
}

/** One thread: jobs run synchronously on the caller's thread. */
class InlineExecutor extends MemoryOwner implements CpuExecutor {
  readonly threads = 1;
  readonly heapBase: number;
  private readonly program: ThreadProgram;
  private killed = false;

  constructor(memory: WebAssembly.Memory, kernels: CpuKernelExports, readonly simd: SimdLevel) {
    super(memory);
    this.heapBase = kernels.heapBase();
    this.program = new ThreadProgram(kernels, memory, 0, 1);
  }

  get lost(): boolean {
    return this.killed;
  }

  async run(job: CpuJob): Promise<void> {
    this.runSync(job);
  }

  readonly runSync = (job: CpuJob): void => {
    if (this.killed) throw new Error('The CPU backend was stopped; create a new one');
    this.program.run(job);
  };

  kill(): void {
    this.killed = true;
  }

  dispose(): void {
    this.killed = true;
  }
}

class PoolExecutor extends MemoryOwner implements CpuExecutor {
  constructor(
    memory: WebAssembly.Memory,
    readonly heapBase: number,
    readonly simd: SimdLevel,
    private readonly pool: ThreadPool,
  ) {
    super(memory);
  }

  get threads(): number {
    return this.pool.threads;
  }

  get lost(): boolean {
    return this.pool.lost;
  }

  run(job: CpuJob): Promise<void> {
    return this.pool.run(job);
  }

  kill(): void {
    this.pool.terminate('killed on request (simulated crash)');
  }

  dispose(): void {
    this.pool.terminate('disposed');
  }
}
