// The fleet's thread (fleet.ts): loads Fashion-MNIST and the CPU model, then connects,
// closes and drops simulated contributors as the coordinator's thread asks.

import { performance } from 'node:perf_hooks';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { CpuModel } from '../../cpu/cpuModel.ts';
import { loadFashionMnistFromDir } from '../../data/fashionMnistNode.ts';
import { resolveModel, type ModelSpec } from '../../model/layers/spec.ts';
import { Fleet } from './fleet.ts';

export type FleetRequest =
  | { type: 'connect'; id: string; port: MessagePort; speed: number }
  | { type: 'close' | 'vanish'; id: string }
  | { type: 'take' };
export type FleetReply = { type: 'ready' } | { type: 'stats'; stats: ReturnType<Fleet['take']>; utilization: number } | { type: 'failed'; message: string };

const { spec, coordinatorKey } = workerData as { spec: ModelSpec; coordinatorKey: string };
const { train } = await loadFashionMnistFromDir();
const cpu = (await CpuModel.create(resolveModel(spec), { threads: 1 })).inline;
cpu.setDatasets(train, null);
const fleet = new Fleet(cpu, coordinatorKey);
const started = performance.eventLoopUtilization();

parentPort!.on('message', (request: FleetRequest) => {
  if (request.type === 'connect') {
    fleet.connect(request.id, request.port, request.speed).catch((error) => parentPort!.postMessage({ type: 'failed', message: `${request.id}: ${(error as Error).message}` } satisfies FleetReply));
  } else if (request.type === 'close') fleet.close(request.id);
  else if (request.type === 'vanish') fleet.vanish(request.id);
  else parentPort!.postMessage({ type: 'stats', stats: fleet.take(), utilization: performance.eventLoopUtilization(started).utilization } satisfies FleetReply);
});
parentPort!.postMessage({ type: 'ready' } satisfies FleetReply);
