// Starting a training worker from a page.

import * as Comlink from 'comlink';
import type { TrainerApi } from './api.ts';

export interface TrainerWorker {
  api: Comlink.Remote<TrainerApi>;
  terminate(): void;
}

export function startTrainerWorker(): TrainerWorker {
  const worker = new Worker(new URL('./trainer.worker.ts', import.meta.url), { type: 'module', name: 'swarmgrad-trainer' });
  const api = Comlink.wrap<TrainerApi>(worker);
  return {
    api,
    terminate() {
      api[Comlink.releaseProxy]();
      worker.terminate();
    },
  };
}
