// One CPU worker thread: instantiates the kernels on the shared memory, then sleeps on the
// control block's job generation and runs its share of each job. It never returns to its
// event loop, so jobs cost no message; the page terminates it to stop it.

import { AbortedJob, SharedBarrier, WORD, abortJob, controlViews } from './control.ts';
import { decodeJob } from './jobs.ts';
import { instantiateKernels } from './kernels.ts';
import { ThreadProgram } from './program.ts';
import type { ThreadInit, ThreadMessage } from './threadPool.ts';

const post = (message: ThreadMessage) => self.postMessage(message);

self.onmessage = async (e: MessageEvent<ThreadInit>) => {
  const { module, memory, index, count, controlOffset } = e.data;
  let program: ThreadProgram;
  try {
    const kernels = await instantiateKernels(module, memory);
    program = new ThreadProgram(kernels, memory, index, count, new SharedBarrier(controlViews(memory.buffer, controlOffset).words, count));
  } catch (error) {
    post({ kind: 'error', index, message: `could not start: ${(error as Error).message}` });
    return;
  }
  const { words, slots } = controlViews(memory.buffer, controlOffset);
  let seen = Atomics.load(words, WORD.generation);
  post({ kind: 'ready' });
  for (;;) {
    Atomics.wait(words, WORD.generation, seen);
    seen = Atomics.load(words, WORD.generation);
    try {
      program.run(decodeJob(slots));
    } catch (error) {
      if (!(error instanceof AbortedJob)) {
        abortJob(words);
        post({ kind: 'error', index, message: (error as Error).stack ?? String(error) });
      }
    }
    if (Atomics.add(words, WORD.done, 1) === count - 1) post({ kind: 'done' });
  }
};
