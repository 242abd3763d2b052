// The zoo's large GPT (nanoGPT's shakespeare_char: 10.77M parameters, context 256, dropout 0.2)
// is for swarms with real GPUs, but it must start, train, checkpoint and resume on any machine:
// a short run of the job file as shipped (its model, data, optimizer and compression), only
// shortened (1 window a lease, 2 a round, 3 rounds), through the real Coordinator with a
// contributor computing real gradients on the CPU layer table, a checkpoint serialized and
// restored into a fresh coordinator after round 2, and the final evaluation on the CPU table.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { applyDelta } from '../compression/index.ts';
import { CpuModel } from '../cpu/cpuModel.ts';
import { loadJobDataset } from '../data/jobDataset.ts';
import type { CoordinatorMessage } from '../protocol/messages.ts';
import { deserializeCheckpoint, serializeCheckpoint } from './checkpoint.ts';
import { Coordinator } from './coordinator.ts';
import type { Decisions } from './decisions.ts';
import { TestEvaluator } from './evaluator.ts';
import { checkpointOptimizer, jobResolved, parseJobDefinition } from './job.ts';
import { eventsOf, hello, result, testSigning } from './testSwarm.ts';

const JOBS = join(dirname(fileURLToPath(import.meta.url)), 'jobs');

describe('the large GPT job (shakespeare-char-gpt-large.json)', () => {
  it('starts, trains, checkpoints and resumes from the checkpoint to its end on the CPU layer table', { timeout: 300_000 }, async () => {
    const shipped = JSON.parse(readFileSync(join(JOBS, 'shakespeare-char-gpt-large.json'), 'utf8'));
    const definition = parseJobDefinition(
      {
        ...shipped,
        data: { ...shipped.data, testExamples: 1 },
        globalBatch: 2,
        lease: { ...shipped.lease, minExamples: 1, maxExamples: 1 },
        stop: { rounds: 3 },
        evaluateEvery: 100,
        checkpointEvery: 2,
      },
      'the large GPT, shortened',
    );
    const { job, dataset } = await loadJobDataset(definition, JOBS);
    const model = jobResolved(job);
    expect(model.parameterCount).toBe(10_770_816);
    expect(job.compression.up.scheme).toBe('int8');
    const cpu = await CpuModel.create(model, { threads: 1 });
    await cpu.setDatasets(dataset.splits.train, null);

    // One contributor: it keeps the parameters it is sent and answers every lease with the real
    // gradient (dropout seeded by the lease's round, as a browser does); evaluations run on the CPU table.
    let params: Float32Array | null = null;
    const losses: number[] = [];
    let coordinator = new Coordinator({ job, instance: 'A', datasetUrl: '/data/', ...testSigning });
    let now = 0;
    let checkpoint: Uint8Array | null = null;
    let stopAtCheckpoint = true;
    let stopped = false;
    let done: Extract<Decisions['events'][number], { type: 'jobDone' }> | null = null;

    async function serve(d: Decisions): Promise<void> {
      const leases: Extract<CoordinatorMessage, { type: 'lease' }>[] = [];
      for (const { message } of d.send) {
        if (message.type === 'parameters') params = message.tensors.params.slice();
        if (message.type === 'parameterDelta') params = applyDelta(params!, { header: message.body.encoding, payload: message.tensors.delta });
        if (message.type === 'lease') leases.push(message);
      }
      for (const event of d.events) {
        if (event.type === 'checkpoint' && checkpoint === null) {
          checkpoint = serializeCheckpoint(event.state);
          // The coordinator's process dies right after writing its first checkpoint.
          stopped = stopAtCheckpoint;
        }
        if (event.type === 'evaluate') {
          const evaluation = (await TestEvaluator.create(model, dataset.splits.test, 1)).evaluate(event.params);
          await serve(coordinator.recordEvaluation(event.version, evaluation, ++now));
        }
        if (event.type === 'jobDone') done = event;
      }
      for (const lease of leases) {
        if (stopped) return;
        const { leaseId, version, round } = lease.body;
        const indices = lease.tensors.indices;
        cpu.setParameters(params!);
        const g = await cpu.gradient(indices, { seed: round, positions: indices });
        losses.push(g.loss);
        await serve(coordinator.receive('p1', result(coordinator.jobId, leaseId, version, indices.length, g.gradient, g.correct, undefined, g.loss, job.compression.up), ++now));
      }
    }

    await serve(coordinator.start(now));
    coordinator.join('p1', now);
    await serve(coordinator.receive('p1', hello(1000), ++now));
    expect(stopped).toBe(true);
    expect(coordinator.round).toBe(2);
    expect(done).toBeNull();
    const paramsAtCheckpoint = coordinator.params.slice();

    // A fresh coordinator from the checkpoint's bytes: the same round and parameters, and it trains on to the end.
    const state = deserializeCheckpoint(checkpoint!, { jobId: coordinator.jobId, parameterCount: model.total, optimizer: checkpointOptimizer(job) }, 'large GPT checkpoint');
    coordinator = new Coordinator({ job, instance: 'B', datasetUrl: '/data/', checkpoint: state, ...testSigning });
    expect(coordinator.round).toBe(2);
    // (bytes compared directly: a deep equality of 10.8M floats takes vitest over a minute)
    expect(Buffer.compare(Buffer.from(coordinator.params.buffer, coordinator.params.byteOffset, coordinator.params.byteLength), Buffer.from(paramsAtCheckpoint.buffer))).toBe(0);
    params = null;
    stopAtCheckpoint = false;
    stopped = false;
    await serve(coordinator.start(++now));
    coordinator.join('p1', now);
    await serve(coordinator.receive('p1', hello(1000), ++now));
    expect(done, 'the job ended').not.toBeNull();
    expect(done!.reason).toBe('rounds');
    expect(done!.version).toBe(3);
    expect(Number.isFinite(done!.testLoss)).toBe(true);
    const summary = coordinator.summary(++now);
    expect(summary).toMatchObject({ rounds: 3, examples: 6, restarts: 1 });
    expect(summary.coverage.exact).toBe(true);
    // Six windows' losses near ln 65 ≈ 4.17 at the start, all finite.
    expect(losses).toHaveLength(6);
    for (const loss of losses) expect(loss).toBeGreaterThan(3);
    expect(Math.abs(losses[0] - Math.log(65))).toBeLessThan(0.5);
  });
});
