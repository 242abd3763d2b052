import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaultJob, jobLayout, parseJob } from '../coordinator/job.ts';
import { messageBytes, planJob, planText, type PlanInputs } from './plan.ts';

/** The every-step job (the default before local steps): a gradient up and the parameters down every round. */
const everyStep = () => parseJob(readFileSync('src/coordinator/jobs/fashion-mnist-mlp-every-step.json', 'utf8'), 'every-step');
const inputs = (over: Partial<PlanInputs> = {}): PlanInputs => ({
  job: everyStep(),
  speed: 40_000,
  downMbps: 20,
  upMbps: 5,
  contributors: [1, 2, 4],
  spotCheckMsPerExample: 0.5,
  dataset: { trainCount: 60_000, testCount: 10_000 },
  ...over,
});

describe('planJob', () => {
  it('sizes the every-step job: one lease per contributor and round, a parameter download and a gradient upload each', () => {
    const p = planJob(inputs());
    const floats = jobLayout(everyStep()).total;
    expect(p.model.parameters).toBe(235_146);
    expect(p.rounds).toEqual({ globalBatch: 256, perEpoch: 235, planned: 1880, epochs: 8, targetAccuracy: 0.88 });
    expect(p.swarm.map((r) => [r.contributors, r.leaseExamples, r.leasesPerContributor])).toEqual([[1, 256, 1], [2, 128, 1], [4, 64, 1]]);
    const one = p.swarm[0];
    const m = messageBytes(floats, 256);
    expect(one.bytesDown).toBe(m.parameters + m.lease + m.ack + m.receipt);
    expect(one.bytesUp).toBe(m.result);
    expect(m.parameters).toBeGreaterThan(4 * floats);
    expect(m.parameters).toBeLessThan(4 * floats + 200);
    // 0.94 MB down at 20 Mbit/s and up at 5 Mbit/s: the network, not the 6 ms of compute, sets the pace.
    expect(one.computeSeconds).toBeCloseTo(256 / 40_000, 9);
    expect(one.transferSeconds).toBeCloseTo(one.bytesDown / 2.5e6 + one.bytesUp / 625e3, 9);
    expect(one.jobSeconds).toBeCloseTo(1880 * one.roundSeconds, 6);
  });

  it('gives a slow contributor several leases a round, as the scheduler would', () => {
    // 500 examples/s × 0.25 s target: leases of 125 (then the remainder of 6 joins the last).
    const p = planJob(inputs({ speed: 500, contributors: [1] }));
    expect(p.swarm[0].leaseExamples).toBe(125);
    expect(p.swarm[0].leasesPerContributor).toBe(2);
    expect(p.swarm[0].bytesUp).toBe(2 * messageBytes(jobLayout(everyStep()).total, 125).result);
  });

  it('sizes the default local-steps job: leases of 64 inner batches, int4 deltas down and int4 Δ up', () => {
    const job = defaultJob();
    const p = planJob(inputs({ job }));
    const floats = jobLayout(job).total;
    expect(p.rounds).toMatchObject({ globalBatch: 8192, perEpoch: 8, planned: 64 });
    // Four leases of 64 × 32 examples per round, shared by whoever is there.
    expect(p.swarm.map((r) => [r.contributors, r.leaseExamples, r.leasesPerContributor])).toEqual([[1, 2048, 4], [2, 2048, 2], [4, 2048, 1]]);
    const m = messageBytes(floats, 2048, job.compression);
    // int4: half a byte per value and a 4-byte scale per 128 values, about an eighth of f32.
    expect(m.parameters).toBeGreaterThan(floats / 2 + (4 * floats) / 128);
    expect(m.parameters).toBeLessThan(floats / 2 + (4 * floats) / 128 + 600);
    expect(m.result).toBeLessThan(floats / 2 + (4 * floats) / 128 + 600);
    expect(p.swarm[1].bytesUp).toBe(2 * m.result);
    expect(p.swarm[1].bytesDown).toBe(m.parameters + 2 * (m.lease + m.ack + m.receipt));
  });

  it('with lease.inFlight 2, hides each upload but the last behind the next lease\'s compute', () => {
    const job = defaultJob();
    expect(job.lease.inFlight).toBe(2);
    const m = messageBytes(jobLayout(job).total, 2048, job.compression);
    const c = 2048 / 40_000;
    const u = m.result / 625e3;
    const [one, two, four] = planJob(inputs({ job })).swarm;
    // 4 leases: compute, 3 × the slower of the next compute and the last upload, the last upload; the delta down.
    expect(one.roundSeconds).toBeCloseTo(c + 3 * Math.max(c, u) + u + one.bytesDown / 2.5e6, 9);
    expect(two.roundSeconds).toBeCloseTo(c + Math.max(c, u) + u + two.bytesDown / 2.5e6, 9);
    // One lease each: nothing to overlap.
    expect(four.roundSeconds).toBeCloseTo(c + u + four.bytesDown / 2.5e6, 9);
    const serial = planJob(inputs({ job: { ...job, lease: { ...job.lease, inFlight: 1 } } })).swarm[0];
    expect(serial.roundSeconds).toBeCloseTo(4 * (c + u) + serial.bytesDown / 2.5e6, 9);
    expect(one.transferSeconds).toBeCloseTo(one.roundSeconds - one.computeSeconds, 12);
  });

  it('prices int4 both ways at half a byte a value and a scale per block, about half of int8', () => {
    const job = defaultJob();
    const floats = jobLayout(job).total;
    const int4 = { up: { scheme: 'int4', blockSize: 128 }, down: { scheme: 'int4', blockSize: 128 }, keepVersions: 8 } as const;
    const m4 = messageBytes(floats, 2048, int4);
    const m8 = messageBytes(floats, 2048, { up: { scheme: 'int8', blockSize: 128 }, down: { scheme: 'int8', blockSize: 128 }, keepVersions: 8 });
    const payload = Math.ceil(floats / 2 / 4) * 4 + 4 * Math.ceil(floats / 128);
    for (const bytes of [m4.parameters, m4.result]) {
      expect(bytes).toBeGreaterThan(payload);
      expect(bytes).toBeLessThan(payload + 600);
    }
    expect(m4.result).toBeLessThan(0.55 * m8.result);
    expect(m4.lease).toBe(m8.lease);
  });

  it('counts the verification the job asks for, and the memory a contributor needs', () => {
    const p = planJob(inputs());
    expect(p.verification).toMatchObject({ replication: 0.1, spotFraction: 0.05, spotMaxExamples: 256, probationResults: 3 });
    expect(p.verification.coordinatorMsPerRound).toBeCloseTo(0.05 * 256 * 0.5, 9);
    expect(p.verification.probationMsPerResult).toBeCloseTo(256 * 0.5, 9);
    // Four copies of the model, the 70,000 images as bytes, micro-batch buffers.
    expect(p.memory.cpuBackendBytes).toBeGreaterThan(4 * 4 * 235_146 + 70_000 * 785);
    expect(p.memory.cpuBackendBytes).toBeLessThan(128 * 2 ** 20);
  });

  it('without a round limit plans no job length, and says what stops it', () => {
    const zoo = JSON.parse(readFileSync('src/coordinator/jobs/fashion-mnist-mlp-every-step.json', 'utf8'));
    const job = parseJob(JSON.stringify({ ...zoo, optimizer: { ...zoo.optimizer, schedule: { decay: 'constant' } }, stop: { targetAccuracy: 0.9 } }), 'test');
    const p = planJob(inputs({ job }));
    expect(p.rounds.planned).toBeNull();
    expect(p.swarm[0].jobSeconds).toBeNull();
    expect(planText(p)).toContain('stops at 90% test accuracy');
  });
});
