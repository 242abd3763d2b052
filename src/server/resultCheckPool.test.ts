// Result checks in worker threads give what the coordinator's own thread gives, and the host
// keeps each peer's messages in order while a result is out being checked.

import { afterAll, describe, expect, it } from 'vitest';
import { checkResult } from '../coordinator/resultCheck.ts';
import { Coordinator } from '../coordinator/coordinator.ts';
import type { CoordinatorEvent } from '../coordinator/decisions.ts';
import { TEST_KEY, hello, leaseGradient, result, testSigning, tinyJob } from '../coordinator/testSwarm.ts';
import { createFrameChannelPair } from '../net/memoryFrameChannel.ts';
import { contributorSide, maxMessageBytesFor } from '../protocol/connection.ts';
import type { CoordinatorMessage } from '../protocol/messages.ts';
import { eventually } from '../testing/eventually.ts';
import { CoordinatorHost } from './coordinatorHost.ts';
import type { EvaluationThread } from './evaluationThread.ts';
import { nodeVerifier } from './nodeSigning.ts';
import { ResultCheckPool } from './resultCheckPool.ts';

const P = 500;
const up = { scheme: 'int8', blockSize: 64 } as const;
const gradient = Float32Array.from({ length: P }, (_, i) => Math.cos(i) / 7);
const pool = new ResultCheckPool(2);
afterAll(() => pool.close());

describe('ResultCheckPool', () => {
  it('answers as the inline check does, for good and bad results alike, and leaves the caller its bytes', async () => {
    const good = result('job-1', 'lease-1', 2, 8, gradient, 1, TEST_KEY, 1.25, up);
    const forged = { ...good, body: { ...good.body, correct: 2 } };
    for (const m of [good, forged]) {
      const input = { jobId: 'job-1', publicKey: TEST_KEY.publicKey, body: m.body, update: m.tensors.update, up, parameterCount: P };
      const before = input.update.slice();
      expect(await pool.check(input)).toEqual(checkResult(input, nodeVerifier));
      expect(input.update).toEqual(before);
    }
    expect(pool.inlineChecks).toBe(0);
  });

  it('refuses a size that is not a whole number of threads', () => {
    expect(() => new ResultCheckPool(0)).toThrow('ResultCheckPool: size must be a whole number of threads from 1 to 64, got 0');
  });
});

describe('CoordinatorHost with result checks off its thread', () => {
  it("holds a peer's later messages until its result is checked, so the coordinator sees them in the order sent", async () => {
    const job = tinyJob({ compression: { up, down: { scheme: 'f32' } } });
    const coordinator = new Coordinator({ job, instance: 'pool1', datasetUrl: '/data/', ...testSigning });
    const events: CoordinatorEvent[] = [];
    let release: (() => void) | null = null;
    // A pool that holds each check until the test lets it go.
    const slow = { check: (input: Parameters<ResultCheckPool['check']>[0]) => new Promise<ReturnType<typeof checkResult>>((ok) => (release = () => ok(checkResult(input, nodeVerifier)))) };
    const host = new CoordinatorHost({ coordinator, evaluation: { evaluate: async () => ({ accuracy: 0, loss: 0 }), samples: false } as unknown as EvaluationThread, checkpointDir: '/nonexistent', onEvent: (e) => events.push(e), resultChecks: slow, tickMs: 10_000, log: () => {} });
    const [near, far] = createFrameChannelPair({ peerIds: ['coordinator', 'peer-1'] });
    const inbox: CoordinatorMessage[] = [];
    const conn = contributorSide(near, maxMessageBytesFor(coordinator.layout.total), { onMessage: (m) => inbox.push(m) });
    host.attach(far);
    await conn.send(hello());
    await eventually(() => expect(inbox.some((m) => m.type === 'lease')).toBe(true));
    const lease = inbox.find((m) => m.type === 'lease') as Extract<CoordinatorMessage, { type: 'lease' }>;
    const g = leaseGradient(coordinator.params, lease.tensors.indices);
    await conn.send(result(coordinator.jobId, lease.body.leaseId, lease.body.version, lease.tensors.indices.length, g, 0, TEST_KEY, 1.5, up));
    await conn.send({ type: 'bye', body: { reason: 'done for today' }, tensors: {} });
    await eventually(() => expect(release).not.toBeNull());
    await new Promise((ok) => setTimeout(ok, 50));
    // The bye waits behind the result being checked.
    expect(events.some((e) => e.type === 'left')).toBe(false);
    release!();
    await eventually(() => expect(events.some((e) => e.type === 'left')).toBe(true));
    const order = events.filter((e) => e.type === 'resultAccepted' || e.type === 'left').map((e) => e.type);
    expect(order).toEqual(['resultAccepted', 'left']);
    await host.close('test over');
  });
});
