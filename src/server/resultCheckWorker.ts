// A result-check thread (resultCheckPool.ts): checks each result it is sent and answers with
// the outcome, its decoded values moved back to the coordinator's thread.

import { parentPort } from 'node:worker_threads';
import { checkResult, type ResultCheckInput } from '../coordinator/resultCheck.ts';
import { nodeVerifier } from './nodeSigning.ts';

parentPort!.on('message', ({ id, input }: { id: number; input: ResultCheckInput }) => {
  try {
    const check = checkResult(input, nodeVerifier);
    const transfer = 'values' in check.outcome ? [check.outcome.values.buffer as ArrayBuffer] : [];
    parentPort!.postMessage({ id, check }, transfer);
  } catch (error) {
    parentPort!.postMessage({ id, error: (error as Error).message });
  }
});
