// The control block every thread shares at the start of the plan's memory: Int32 words for
// the job protocol and a barrier, then the current job's arguments as f64 slots.
// Protocol: the page writes the job, bumps `generation` and notifies; each thread runs its
// share; the last to count itself `done` tells the page. A thread that fails sets `abort`,
// which releases and fails every other thread at its next barrier.

export const WORD = {
  generation: 0,
  done: 1,
  barrierCount: 2,
  barrierGeneration: 3,
  abort: 4,
} as const;

/** Byte offset of the job arguments inside the control block, and their number. */
export const JOB_ARGS_BYTE_OFFSET = 64;
export const JOB_SLOTS = 64;

export interface Barrier {
  /** Returns when every thread has called it; throws AbortedJob if another thread failed. */
  wait(): void;
}

/** A single thread needs no barrier. */
export const SOLO_BARRIER: Barrier = { wait() {} };

/** Thrown in a thread that stops because another thread failed (not an error of its own). */
export class AbortedJob extends Error {
  override name = 'AbortedJob';
  constructor() {
    super('Stopped: another CPU thread failed in this job');
  }
}

/** Spins this many checks before sleeping: a barrier between two matmuls is usually microseconds away. */
const SPINS = 4000;
const SLEEP_MS = 20;

/** A reusable barrier over shared words: read the generation, arrive; the last arrival opens it. */
export class SharedBarrier implements Barrier {
  constructor(
    private readonly words: Int32Array,
    private readonly parties: number,
  ) {}

  wait(): void {
    const w = this.words;
    if (Atomics.load(w, WORD.abort)) throw new AbortedJob();
    const generation = Atomics.load(w, WORD.barrierGeneration);
    if (Atomics.add(w, WORD.barrierCount, 1) === this.parties - 1) {
      Atomics.store(w, WORD.barrierCount, 0);
      Atomics.add(w, WORD.barrierGeneration, 1);
      Atomics.notify(w, WORD.barrierGeneration);
      return;
    }
    let spins = 0;
    while (Atomics.load(w, WORD.barrierGeneration) === generation) {
      if (Atomics.load(w, WORD.abort)) throw new AbortedJob();
      if (++spins > SPINS) Atomics.wait(w, WORD.barrierGeneration, generation, SLEEP_MS);
    }
    if (Atomics.load(w, WORD.abort)) throw new AbortedJob();
  }
}

/** Marks the job failed and wakes every thread waiting at a barrier. */
export function abortJob(words: Int32Array): void {
  Atomics.store(words, WORD.abort, 1);
  Atomics.add(words, WORD.barrierGeneration, 1);
  Atomics.notify(words, WORD.barrierGeneration);
}

/** The control block's words and job slots as views on `buffer`. */
export function controlViews(buffer: ArrayBufferLike, controlOffset: number): { words: Int32Array; slots: Float64Array } {
  return {
    words: new Int32Array(buffer, controlOffset, JOB_ARGS_BYTE_OFFSET / 4),
    slots: new Float64Array(buffer, controlOffset + JOB_ARGS_BYTE_OFFSET, JOB_SLOTS),
  };
}
