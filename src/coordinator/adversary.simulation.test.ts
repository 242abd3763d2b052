// Node-only: 4 honest contributors and 7 cheaters (zeros, noise, ×100, sign flip, stale
// parameters, replay, someone else's lease; one kind each) train a real model on real
// Fashion-MNIST with the 'mean' rule and the CPU reference as spot checker. Every cheater is
// banned, and the parameters after N rounds equal a clean run's within float tolerance:
// exactly-once means the same examples aggregate to the same gradient, so no poisoned
// gradient moved the model.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FASHION_MNIST_FILES } from '../data/fashionMnist.ts';
import { defaultDataDir, loadFashionMnistFromDir } from '../data/fashionMnistNode.ts';
import type { CoordinatorMessage } from '../protocol/messages.ts';
import { resultStatement, type SyncSigner } from '../protocol/signing.ts';
import { Random } from '../util/random.ts';
import { Coordinator } from './coordinator.ts';
import type { CoordinatorEvent, Decisions } from './decisions.ts';
import { jobResolved } from './job.ts';
import { hello, result, testKey, testSigning, tinyJob } from './testSwarm.ts';
import { cpuModelSpotChecker } from './verification.ts';
import { CpuModel } from '../cpu/cpuModel.ts';

const hasRealData = existsSync(join(defaultDataDir(), FASHION_MNIST_FILES.trainImages));
type Lease = Extract<CoordinatorMessage, { type: 'lease' }>;
type Behaviour = 'honest' | 'zeros' | 'noise' | 'x100' | 'signFlip' | 'stale' | 'replay' | 'steal';

describe.skipIf(!hasRealData)('adversarial swarm on real data', async () => {
  const { train } = hasRealData ? await loadFashionMnistFromDir() : ({} as never);
  const job = tinyJob({
    model: { widths: [784, 32, 10], activation: 'relu' },
    data: { dataset: 'fashion-mnist', trainExamples: 4096, testExamples: 100 },
    optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9 },
    globalBatch: 512,
    lease: { minExamples: 32, maxExamples: 64, targetSeconds: 1, timeoutMs: 60_000 },
    stop: { rounds: 12 },
    evaluateEvery: 100,
    checkpointEvery: 100,
    verification: { spotChecks: { fraction: 1, maxExamples: 64 } },
  });
  const reference = hasRealData ? cpuModelSpotChecker((await CpuModel.create(jobResolved(job), { threads: 1 })).inline, train) : ({} as never);

  function run(behaviours: Behaviour[]): { params: Float32Array; events: CoordinatorEvent[]; banned: Set<string> } {
    const c = new Coordinator({ job, instance: 'A', datasetUrl: '/d', ...testSigning, spotChecker: reference });
    const rng = new Random(9);
    const events: CoordinatorEvent[] = [];
    const peers = behaviours.map((b, i) => ({ peer: `p${i}`, behaviour: b, key: testKey() as SyncSigner, leases: [] as Lease[], params: null as Float32Array | null, history: [] as Float32Array[], sent: [] as Extract<CoordinatorMessage, { type: 'lease' }>[], gone: false }));
    const byPeer = new Map(peers.map((p) => [p.peer, p]));
    let now = 0;
    let done = false;
    const lastResult: { message: ReturnType<typeof result> | null } = { message: null };
    const apply = (d: Decisions) => {
      for (const { to, message } of d.send) {
        const p = byPeer.get(to)!;
        if (message.type === 'parameters') {
          if (p.params) p.history.push(p.params);
          p.params = message.tensors.params;
        }
        if (message.type === 'lease') p.leases.push(message);
      }
      for (const { peer } of d.disconnect) {
        byPeer.get(peer)!.gone = true;
        c.leave(peer, 'closed', now);
      }
      for (const e of d.events) {
        events.push(e);
        if (e.type === 'jobDone') done = true;
        if (e.type === 'evaluate') apply(c.recordEvaluation(e.version, { loss: 1, accuracy: 0.5, count: 100 }, now));
      }
    };
    apply(c.start(0));
    for (const p of peers) {
      apply(c.join(p.peer, now));
      apply(c.receive(p.peer, hello(1000, 64, undefined, p.key), now));
    }
    for (let step = 0; !done && step < 5000; step++) {
      now += 5;
      const p = peers[rng.int(peers.length)];
      const lease = p.leases.shift();
      if (p.gone || !lease) {
        if (step % 50 === 0) apply(c.tick(now));
        continue;
      }
      const { leaseId, version } = lease.body;
      const idx = lease.tensors.indices;
      let g: Float32Array = reference(p.params!, idx);
      let id = leaseId;
      switch (p.behaviour) {
        case 'zeros': g = new Float32Array(g.length); break;
        case 'noise': g = g.map(() => rng.normal() * 0.01); break;
        case 'x100': g = g.map((x) => x * 100); break;
        case 'signFlip': g = g.map((x) => -x); break;
        case 'stale': if (p.history.length) g = reference(p.history[0], idx); break;
        case 'replay': break; // sent below
        case 'steal': {
          const victim = peers.find((q) => q.behaviour === 'honest' && q.leases.length);
          if (victim) id = victim.leases[0].body.leaseId;
          break;
        }
      }
      const message = result(c.jobId, id, version, idx.length, g, 0, p.key);
      if (p.behaviour === 'honest') lastResult.message = message;
      // A replay resends an honest contributor's last result, data and hash alike, signed anew for the replayer's own lease.
      const replayed = p.behaviour === 'replay' && lastResult.message;
      const sent = replayed
        ? { ...message, body: { ...replayed.body, leaseId: id, version, signature: p.key.sign(resultStatement({ jobId: c.jobId, leaseId: id, version, resultHash: replayed.body.resultHash })) }, tensors: replayed.tensors }
        : message;
      apply(c.receive(p.peer, sent, now));
      c.checkInvariants();
    }
    expect(done, 'the job finished').toBe(true);
    const banned = new Set(events.filter((e) => e.type === 'contributorBanned').map((e) => (e as Extract<CoordinatorEvent, { type: 'contributorBanned' }>).publicKey));
    const final = events.find((e) => e.type === 'jobDone') as Extract<CoordinatorEvent, { type: 'jobDone' }>;
    // Which peers were banned, by behaviour.
    const names: Set<string> = new Set(peers.filter((p) => banned.has(p.key.publicKey)).map((p) => p.behaviour));
    return { params: final.params, events, banned: names };
  }

  it('bans every cheater and ends with the parameters of a clean run', () => {
    const clean = run(['honest', 'honest', 'honest', 'honest']);
    const cheats: Behaviour[] = ['zeros', 'noise', 'x100', 'signFlip', 'stale', 'replay', 'steal'];
    const attacked = run(['honest', 'honest', 'honest', 'honest', ...cheats]);
    expect(clean.banned.size).toBe(0);
    expect([...attacked.banned].sort()).toEqual([...cheats].sort());
    let worst = 0;
    for (let i = 0; i < clean.params.length; i++) worst = Math.max(worst, Math.abs(clean.params[i] - attacked.params[i]));
    expect(worst).toBeLessThan(1e-5);
    expect(attacked.events.filter((e) => e.type === 'roundClosed')).toHaveLength(12);
  }, 120_000);
});
