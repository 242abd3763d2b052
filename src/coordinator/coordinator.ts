// The coordinator's state machine: contributors join, lease micro-batches, return gradients;
// rounds close, the optimizer steps, the version bumps. Inputs are events with the time as
// `now`; outputs are Decisions (messages, disconnects, events). No timers, network or disk:
// the host evaluates and checkpoints when asked, and reports back.
//
// Trust boundary: a message reaches receive() already decoded and schema-checked
// (protocol/codec.ts). Everything else a peer could get wrong is checked here and answered
// with an ack and/or an error; only an accepted, valid result reaches the aggregator, and
// the model changes only when a round closes.

import type { ResolvedModel } from '../model/layers/spec.ts';
import type { ContributorMessage, ErrorCode, SyncSpec } from '../protocol/messages.ts';
import { welcomeStatement, type SyncSigner, type SyncVerifier } from '../protocol/signing.ts';
import { MAX_LEASE_EXAMPLES } from '../protocol/messages.ts';
import { roundTrip } from '../protocol/updates.ts';
import { checkResult, type ResultCheck, type ResultCheckInput, type ResultProblem } from './resultCheck.ts';
import { ParameterBroadcast } from './broadcast.ts';
import { ContributorRegistry, type Contributor } from './contributors.ts';
import type { CoverageReport } from './coverage.ts';
import { noDecisions, type Decisions } from './decisions.ts';
import { checkpointOptimizer, datasetFormatOf, innerHyper, innerOptimizerOf, jobId, jobModel, jobResolved, leaseBounds, type Job } from './job.ts';
import type { CheckpointState } from './records.ts';
import { intersectRanges, type PositionRange } from './ranges.ts';
import { RoundScheduler, type LeaseRecord, type RoundPlan } from './rounds.ts';
import { ResultScreen, directionOutliers } from './screening.ts';
import { VerificationBook, relativeDistance, type SpotChecker, type VerificationCheck } from './verification.ts';
import { Random } from '../util/random.ts';
import { buildSummary, type RunSummary } from './summary.ts';
import { TrainingRun, checkRestorable, type EvaluationResult, type FinalResult } from './trainingRun.ts';

/**
 * A local-steps spot check over the job's tolerance but under this is inconclusive, not proof:
 * the reference and an honest lease from early parameters can part by 0.1–0.3 after a ReLU
 * kink that replaying does not resolve (scripts/bench-local-steps-drift.ts), while the cheats
 * measured there land at 0.67 or more (other examples, stale parameters, half the steps), all
 * but a slightly scaled Δ (5e-2 for × 1.05). Such a result goes to replication instead of a ban.
 */
export const LOCAL_STEPS_INCONCLUSIVE = 0.5;

/** The work a lease covers, as a key: its positions of the round's window (replication and suspects are keyed by it). */
function positionsKey(ranges: readonly PositionRange[]): string {
  return ranges.map((r) => `${r.start}-${r.end}`).join(',');
}

export interface CoordinatorOptions {
  job: Job;
  /** Unique per coordinator process (e.g. its start time in base 36): lease and contributor ids never repeat across restarts. */
  instance: string;
  /** Where contributors fetch the dataset (sent in the welcome). */
  datasetUrl: string;
  /** Continue from this checkpoint (already validated by deserializeCheckpoint). */
  checkpoint?: CheckpointState;
  /** The coordinator's own key: it signs welcomes (and the host signs ledger tree heads with it). */
  signer: SyncSigner;
  /** Checks contributors' result signatures and hashes. */
  verifier: SyncVerifier;
  /** The CPU reference for spot checks (verification.ts); without it nothing is recomputed and suspect results are only discarded. */
  spotChecker?: SpotChecker;
}

type Status = 'created' | 'running' | 'finishing' | 'done';
type Result = Extract<ContributorMessage, { type: 'result' }>;

export class Coordinator {
  readonly job: Job;
  readonly jobId: string;
  /** The job's model: its parameter layout is the flat vector's. */
  readonly layout: ResolvedModel;
  private readonly plan: RoundPlan;
  private readonly run: TrainingRun;
  private readonly scheduler: RoundScheduler;
  private readonly contributors: ContributorRegistry;
  /** Peers we decided to disconnect: their remaining messages are ignored until leave(). */
  private readonly closing = new Set<string>();
  private readonly restarts: number;
  /** Banned keys, seen result hashes, screening flags. */
  private readonly book: VerificationBook;
  private readonly screen: ResultScreen;
  /** Picks the results to spot-check: seeded, so a run replays the same way. */
  private readonly sampler: Random;
  /** Leases of the open round a spot check found honest: the direction check does not ask again. */
  private readonly checkedHonest = new Set<string>();
  /** Results of the open round already drawn for replication or passed over, and the work (positions) drawn. */
  private readonly replicationDrawn = new Set<string>();
  private readonly replicatedWork = new Set<string>();
  /**
   * Local-steps results of the open round whose spot check was inconclusive (over the tolerance,
   * under LOCAL_STEPS_INCONCLUSIVE): the direction check treats them as suspects, recomputed by
   * another key, and the keys' agreement decides (a reference can drift that far from an honest
   * lease from early parameters; no cheat measured lands under it but a slightly scaled Δ, whose
   * results are then discarded, never counted).
   */
  private inconclusive: { leaseId: string; reason: string }[] = [];
  /** Discarded suspects of the open round by work (positions): a recomputation by another key that agrees settles it. */
  /** Positions of the open round discarded as direction suspects (sorted, disjoint: a position is discarded at most once per split). */
  private discardedPositions: PositionRange[] = [];
  private readonly suspects = new Map<string, { contributorId: string; publicKey: string; leaseId: string; gradient: Float32Array }[]>();
  private readonly elapsedBefore: number;
  /** The parameters as contributors hold them, and the messages that update them. */
  private readonly broadcast: ParameterBroadcast;
  private status: Status = 'created';
  private startedAt = 0;
  private roundOpenedAt = 0;

  constructor(private readonly options: CoordinatorOptions) {
    const { job, checkpoint } = options;
    if (!/^[A-Za-z0-9]{1,32}$/.test(options.instance)) throw new Error(`Coordinator: instance must be 1–32 letters or digits, got ${JSON.stringify(options.instance)}`);
    this.job = job;
    this.jobId = jobId(job);
    this.layout = jobResolved(job);
    this.plan = { seed: job.seed, trainExamples: job.data.trainExamples, globalBatch: job.globalBatch, lease: leaseBounds(job) };
    if (checkpoint) checkRestorable(checkpoint, this.jobId, this.plan, this.layout);
    this.run = new TrainingRun(job, this.layout, this.plan, checkpoint);
    this.scheduler = new RoundScheduler(this.plan, checkpoint?.round ?? 0, checkpoint?.version ?? 0, options.instance);
    this.contributors = new ContributorRegistry(options.instance, checkpoint?.nextContributor ?? 1, checkpoint?.contributors ?? []);
    this.restarts = checkpoint ? checkpoint.restarts + 1 : 0;
    this.book = new VerificationBook(checkpoint?.banned ?? []);
    this.screen = new ResultScreen(job.verification.screening);
    this.sampler = new Random((job.seed * 7919 + (checkpoint?.round ?? 0)) >>> 0);
    this.elapsedBefore = checkpoint?.elapsedMs ?? 0;
    this.broadcast = new ParameterBroadcast(job.compression.down, job.compression.keepVersions, this.scheduler.currentVersion, this.run.params);
  }

  get version(): number {
    return this.scheduler.currentVersion;
  }

  get round(): number {
    return this.scheduler.currentWindow.round;
  }

  get state(): Status {
    return this.status;
  }

  /** The current parameters (shared: never write to them). */
  get params(): Float32Array {
    return this.run.params;
  }

  /** Begin: call once, before any peer joins. A run restored after its last round asks for its final evaluation here. */
  start(now: number): Decisions {
    if (this.status !== 'created') throw new Error('Coordinator.start: already started');
    this.status = 'running';
    this.startedAt = now;
    this.roundOpenedAt = now;
    const d = noDecisions();
    if (this.run.planComplete) this.beginFinishing(now, d);
    return d;
  }

  /** A connection opened. */
  join(peer: string, now: number): Decisions {
    this.requireStarted('join');
    const d = noDecisions();
    this.closing.delete(peer);
    if (this.contributors.hasPeer(peer)) this.dropPeer(peer, 'replaced by a new connection with the same peer id', now, d);
    this.contributors.addPeer(peer);
    return d;
  }

  /** A connection closed (or the host gave up on it). */
  leave(peer: string, reason: string, now: number): Decisions {
    this.requireStarted('leave');
    const d = noDecisions();
    if (this.closing.delete(peer) || !this.contributors.hasPeer(peer)) return d;
    this.dropPeer(peer, reason, now, d);
    this.assignWork(now, d);
    return d;
  }

  /** One decoded message from a peer. Never throws for anything the peer sent. */
  /**
   * A message from a peer. `checked`: a result's hash, signature and decode already done
   * (resultCheck.ts, e.g. in a worker thread, from resultCheckInput); one that is not for this
   * sender's key and this result's hash is ignored and the checks run here.
   */
  receive(peer: string, message: ContributorMessage, now: number, checked?: ResultCheck): Decisions {
    this.requireStarted('receive');
    if (this.closing.has(peer)) return noDecisions();
    if (!this.contributors.hasPeer(peer)) throw new Error(`Coordinator.receive: peer ${peer} never joined (call join when its connection opens)`);
    const d = noDecisions();
    try {
      this.dispatch(peer, message, now, d, checked);
    } catch (error) {
      const e = error as Error;
      d.events.push({ type: 'internalError', at: now, peer, message: e?.message ?? String(error), stack: e?.stack ?? null });
      this.fail(peer, 'internal', `The coordinator failed while handling your ${message.type}; reconnect to continue`, now, d);
    }
    return d;
  }

  /**
   * What resultCheck.ts needs to check this result away from the coordinator, or null when there
   * is nothing to check ahead (not a result, or a sender receive() will refuse before any check).
   */
  resultCheckInput(peer: string, message: ContributorMessage): ResultCheckInput | null {
    if (message.type !== 'result' || this.closing.has(peer)) return null;
    const contributor = this.contributors.ofPeer(peer);
    if (!contributor) return null;
    return this.resultCheckInputOf(contributor.credit.publicKey, message);
  }

  /** Time passed: expire overdue leases and hand their examples to someone else. */
  tick(now: number): Decisions {
    this.requireStarted('tick');
    const d = noDecisions();
    if (this.status !== 'running') return d;
    for (const lease of this.scheduler.expireLeases(now)) {
      const c = this.contributors.get(lease.contributorId);
      if (c) this.contributors.leaseExpired(c);
      d.events.push({ type: 'leaseExpired', at: now, contributorId: lease.contributorId, leaseId: lease.id, round: lease.round, count: lease.count });
    }
    this.assignWork(now, d);
    return d;
  }

  /** The host evaluated the parameters of `version` (asked for by an 'evaluate' event). */
  recordEvaluation(version: number, result: EvaluationResult, now: number): Decisions {
    const d = noDecisions();
    const final = this.run.recordEvaluation(version, result, now);
    if (final) this.finish(final, now, d);
    return d;
  }

  /**
   * The host will not evaluate `version` after all: a newer version was asked for while it
   * waited (evaluation is slower than rounds). The final evaluation is never skipped.
   */
  skipEvaluation(version: number): boolean {
    return this.run.skipEvaluation(version);
  }

  /** The state at the start of the open round, for a checkpoint; any time is fine. */
  checkpointState(now: number): CheckpointState {
    const { params, moment1, moment2, step } = this.run.optimizerSnapshot();
    return {
      jobId: this.jobId,
      round: this.round,
      version: this.version,
      restarts: this.restarts,
      elapsedMs: this.elapsedMs(now),
      nextContributor: this.contributors.nextContributorNumber,
      optimizer: { kind: checkpointOptimizer(this.job), step },
      history: structuredClone(this.run.history),
      evaluations: structuredClone(this.run.evaluations),
      contributors: this.contributors.credits(),
      banned: this.book.bannedKeys(),
      params,
      moment1,
      moment2,
    };
  }

  coverage(): CoverageReport {
    return this.run.coverage();
  }

  summary(now: number): RunSummary {
    return buildSummary({
      job: this.job,
      jobId: this.jobId,
      status: this.status,
      final: this.run.final,
      history: this.run.history,
      evaluations: this.run.evaluations,
      credits: this.contributors.credits(),
      coverage: this.coverage(),
      elapsedMs: this.elapsedMs(now),
      restarts: this.restarts,
    });
  }

  /** Invariants of the open round (for tests; throws with what is wrong). */
  checkInvariants(): void {
    this.scheduler.checkInvariants();
    if (this.run.pendingExamples !== this.scheduler.countedCount) {
      throw new Error(`The aggregator holds ${this.run.pendingExamples} examples, the scheduler counted ${this.scheduler.countedCount}`);
    }
  }

  // ── messages ─────────────────────────────────────────────────────────────────────────

  private dispatch(peer: string, message: ContributorMessage, now: number, d: Decisions, checked?: ResultCheck): void {
    const contributor = this.contributors.ofPeer(peer);
    if (message.type === 'bye') return this.close(peer, null, `said bye: ${message.body.reason}`, now, d);
    if (message.type === 'error') {
      const { code, message: text, fatal } = message.body;
      d.events.push({ type: 'peerError', at: now, peer, contributorId: contributor?.id ?? null, code, message: text, fromPeer: true });
      if (fatal) this.close(peer, null, `reported a fatal error: ${code}: ${text}`, now, d);
      return;
    }
    if (message.type === 'hello') {
      if (contributor) return this.fail(peer, 'malformed', `You said hello already (you are ${contributor.id}); hello is sent once per connection`, now, d);
      return this.hello(peer, message.body, now, d);
    }
    if (!contributor) return this.fail(peer, 'not-welcome', `A ${message.type} message before hello; say hello first`, now, d);
    contributor.silent = false; // it is alive: it may get work again
    switch (message.type) {
      case 'result':
        return this.result(contributor, message, now, d, checked);
      case 'leaseFailed':
        return this.leaseFailed(contributor, message.body.leaseId, message.body.reason, now, d);
      case 'availability':
        contributor.paused = message.body.paused;
        contributor.toldIdle = false;
        d.events.push({ type: 'availability', at: now, contributorId: contributor.id, paused: contributor.paused });
        return this.assignWork(now, d);
    }
  }

  private hello(peer: string, body: Extract<ContributorMessage, { type: 'hello' }>['body'], now: number, d: Decisions): void {
    const banned = this.book.isBanned(body.identity.publicKey);
    if (banned) return this.fail(peer, 'banned', `This key was banned from job ${this.jobId} (as ${banned.contributorId}): ${banned.reason}`, now, d);
    const { contributor, resumed, note } = this.contributors.attach(peer, body.capabilities, body.resumeContributorId, body.identity.publicKey);
    const job = this.job;
    const { signer } = this.options;
    const proof = signer.sign(welcomeStatement({ jobId: this.jobId, contributorId: contributor.id, contributorKey: body.identity.publicKey, nonce: body.identity.nonce }));
    d.send.push({
      to: peer,
      message: {
        type: 'welcome',
        body: {
          contributorId: contributor.id,
          job: {
            id: this.jobId,
            name: job.name,
            model: jobModel(job),
            dataset: { format: datasetFormatOf(this.job), url: this.options.datasetUrl },
            parameterCount: this.layout.total,
            sync: syncSpec(job),
            compression: { up: job.compression.up.scheme === 'f32' ? { scheme: 'f32' } : job.compression.up, down: job.compression.down.scheme === 'f32' ? { scheme: 'f32' } : job.compression.down },
          },
          serverTime: now,
          coordinator: { publicKey: signer.publicKey, signature: proof },
        },
        tensors: {},
      },
    });
    d.events.push({ type: 'joined', at: now, peer, contributorId: contributor.id, publicKey: body.identity.publicKey, capabilities: body.capabilities, resumed, ...(body.team ? { team: body.team } : {}), ...(note ? { note } : {}) });
    if (this.run.final) this.sendJobDone(peer, this.run.final, d);
    else if (this.status === 'finishing') this.tellIdle(contributor, 'training is over; the final evaluation is running', this.job.lease.timeoutMs, d);
    else this.assignWork(now, d);
  }

  private result(contributor: Contributor, message: Result, now: number, d: Decisions, checked?: ResultCheck): void {
    const { leaseId, version } = message.body;
    const uncounted = (outcome: 'rejected' | 'duplicate' | 'late' | 'stale', reason: string, code: ErrorCode | null, check?: VerificationCheck) => {
      contributor.credit.uncounted++;
      d.send.push({ to: contributor.peer!, message: { type: 'ack', body: { leaseId, outcome, reason: reason.slice(0, 500) }, tensors: {} } });
      if (code) d.send.push({ to: contributor.peer!, message: { type: 'error', body: { code, message: reason.slice(0, 1000), fatal: false }, tensors: {} } });
      d.events.push({
        type: 'resultRejected',
        at: now,
        contributorId: contributor.id,
        leaseId,
        outcome,
        code,
        reason,
        resultHash: message.body.resultHash,
        signature: message.body.signature,
        ...(check ? { check } : {}),
      });
    };
    const cheat = (check: VerificationCheck, code: ErrorCode | null, reason: string) => {
      uncounted('rejected', reason, code, check);
      this.ban(contributor.id, contributor.credit.publicKey, check, reason, now, d);
    };
    if (this.status !== 'running') return uncounted('late', 'the job has finished training; this result is not needed', null);

    // The payload is checked (and decoded) before the lease is settled, so a bad result gives its examples back.
    const lease = this.scheduler.lease(leaseId);
    let gradient: Float32Array | null = null;
    if (lease && lease.contributorId === contributor.id && lease.state !== 'answered') {
      const decoded = this.decodePayload(contributor, message, lease.count, checked);
      const problem = decoded instanceof Float32Array ? null : decoded;
      if (decoded instanceof Float32Array) gradient = decoded;
      if (problem?.code === 'bad-signature') {
        this.scheduler.failLease(contributor.id, leaseId);
        return cheat('bad-signature', problem.code, problem.reason);
      }
      if (problem) {
        const verdict = this.scheduler.failLease(contributor.id, leaseId);
        uncounted('rejected', `${problem.reason}; the result was discarded${verdict.outcome === 'released' && verdict.returned ? ' and its examples go to someone else' : ''}`, problem.code);
        return this.assignWork(now, d);
      }
    }
    // A result hash seen before is the same data sent again: for this lease or another, a replay.
    // (Only for the sender's own leases: a result for someone else's is banned below anyway, and must not poison the owner's hash.)
    if (lease && lease.contributorId === contributor.id) {
      const work = `${lease.round}:${lease.version}:${positionsKey(lease.ranges)}`;
      const first = this.book.replayOf(message.body.resultHash, leaseId, work);
      if (first !== undefined) {
        this.scheduler.failLease(contributor.id, leaseId);
        return cheat('replayed', 'replayed', `this result (hash ${message.body.resultHash}) was already sent for lease ${first}`);
      }
    }
    let norm = 0;
    let inconclusive: string | null = null;
    if (lease && lease.contributorId === contributor.id && lease.state !== 'answered' && lease.version === version) {
      const asScreened = this.screenedForm(gradient!, lease.count);
      const screened = this.screen.screen(asScreened.values, asScreened.count);
      norm = screened.norm;
      const spot = this.job.verification.spotChecks;
      // A norm off the running estimate is a reason to look, not proof: a lease of well-learnt
      // examples has a tiny gradient (an honest CNN lease of 18 examples measured 0.091 against
      // the 1.47 expected, and both browsers were banned for it). With the reference at hand,
      // the recomputation decides, like any spot check below; without it the flag counts. For
      // now only with a checker that has an inconclusive band (a model whose kinks it cannot
      // resolve, e.g. the CNN): the MLP's paths stay as measured.
      const recheck = screened.flag !== null && screened.flag !== 'zero' && this.options.spotChecker?.inconclusiveUpTo !== undefined && lease.count <= spot.probationMaxExamples;
      if (screened.flag && !recheck) {
        const verdict = this.scheduler.failLease(contributor.id, leaseId);
        const flags = this.book.flag(contributor.id);
        const limit = this.job.verification.screening.banAfterFlags;
        const reason = `screening: ${screened.reason}; the result was discarded${verdict.outcome === 'released' && verdict.returned ? ' and its examples go to someone else' : ''} (flag ${flags} of ${limit} before a ban)`;
        if (flags >= limit) return cheat(screened.flag, null, reason);
        uncounted('rejected', reason, null, screened.flag);
        return this.assignWork(now, d);
      }
      const onProbation = this.book.reputation(contributor.credit.publicKey) < spot.probationResults && lease.count <= spot.probationMaxExamples;
      const sampled = lease.count <= spot.maxExamples && this.sampler.next() < spot.fraction;
      if (this.options.spotChecker && (recheck || onProbation || sampled)) {
        const distance = this.spotCheck(contributor.id, lease, gradient!, recheck ? 'norm' : onProbation ? 'probation' : 'sample', now, d);
        const band = this.inconclusiveBand();
        if (distance > spot.tolerance && distance <= band) {
          inconclusive = `its spot check was inconclusive (${distance.toExponential(2)} from the coordinator's recomputation: over the tolerance ${spot.tolerance}, as ${this.job.sync.mode === 'local-steps' ? 'an honest lease from early parameters' : 'an honest result across a kink or a max-pool tie'} can be, under ${band}); recomputed by another contributor`;
        } else if (distance > spot.tolerance) {
          this.scheduler.failLease(contributor.id, leaseId);
          return cheat('spot-check', null, `spot check: the gradient differs from the coordinator's recomputation by ${distance.toExponential(2)} (relative L2; tolerance ${spot.tolerance})`);
        } else {
          this.checkedHonest.add(leaseId);
          this.book.verifiedResult(contributor.credit.publicKey);
        }
      }
    }
    const verdict = this.scheduler.acceptResult(contributor.id, leaseId, version);
    switch (verdict.outcome) {
      case 'accepted': {
        const { lease: accepted, revoked, wasExpired } = verdict;
        // Accepted means the lease is this sender's, unanswered and of this version: its payload was decoded above.
        if (!gradient) throw new Error(`result for lease ${leaseId} accepted without a decoded payload`);
        this.run.addContribution({
          leaseId,
          contributorId: contributor.id,
          exampleCount: accepted.count,
          firstPosition: accepted.ranges[0].start,
          gradient,
          loss: message.body.loss,
          correct: message.body.correct,
        });
        if (!wasExpired) this.contributors.measured(contributor, accepted.count, message.body.computeMs, now - accepted.grantedAt);
        this.screen.observe(this.screenedForm(gradient, accepted.count).count, norm);
        d.send.push({ to: contributor.peer!, message: { type: 'ack', body: { leaseId, outcome: 'accepted' }, tensors: {} } });
        d.events.push({
          type: 'resultAccepted',
          at: now,
          contributorId: contributor.id,
          leaseId,
          round: accepted.round,
          version,
          count: accepted.count,
          loss: message.body.loss,
          afterExpiry: wasExpired,
          computeMs: message.body.computeMs,
          resultHash: message.body.resultHash,
          signature: message.body.signature,
        });
        for (const r of revoked) d.events.push({ type: 'leaseRevoked', at: now, contributorId: r.contributorId, leaseId: r.id, round: r.round, byLease: leaseId });
        if (inconclusive) {
          // Judged by replication: recomputed by another key, not by the reference again.
          this.replicatedWork.add(positionsKey(accepted.ranges));
          this.inconclusive.push({ leaseId, reason: inconclusive });
        } else this.drawForReplication(contributor, accepted, gradient, now, d);
        if (this.scheduler.roundComplete && this.directionCheck(now, d)) this.closeRound(now, d);
        break;
      }
      case 'stale':
        // The lease fixes the version; a result that names another one is not what was asked.
        return cheat('wrong-version', 'stale-version', verdict.reason);
      case 'not-your-lease':
        return cheat('not-your-lease', 'not-your-lease', verdict.reason);
      case 'duplicate':
      case 'late':
        uncounted(verdict.outcome, verdict.reason, null);
        break;
      case 'unknown-lease':
        uncounted('rejected', verdict.reason, verdict.outcome);
        break;
      case 'released':
        throw new Error(`acceptResult answered 'released' for lease ${leaseId}`);
    }
    this.assignWork(now, d);
  }

  /**
   * What the norm screen sees of a result. A gradient's norm falls with its lease's size
   * (screening.ts); a local-steps Δ grows with its steps instead, so it is screened per inner
   * step and unit of inner learning rate (Δ / (steps · lr)) as if every lease were a full one:
   * the round's short last lease is then judged like the others (the 1/8–8× band holds a
   * per-step norm that grows as √steps or slower), and so are the last rounds of a decay.
   */
  private screenedForm(values: Float32Array, count: number, round = this.round): { values: Float32Array; count: number } {
    if (this.job.sync.mode !== 'local-steps') return { values, count };
    const steps = Math.ceil(count / this.job.sync.innerBatch);
    // And per unit of learning rate: the schedule takes the inner rate (so Δ) to 0 at the end of a cosine.
    const scale = 1 / (steps * innerHyper(this.job, round).lr);
    return { values: values.map((v) => v * scale), count: this.leaseExamples };
  }

  /** Examples of a full lease: a local-steps lease's innerSteps × innerBatch, else the job's largest lease. */
  private get leaseExamples(): number {
    return this.plan.lease.maxExamples;
  }

  /** A result's decoded update (gradient or Δ) for a lease of `count` examples, or what is wrong with it. */
  private decodePayload(contributor: Contributor, message: Result, count: number, checked?: ResultCheck): Float32Array | ResultProblem {
    if (message.body.exampleCount !== count) {
      return { code: 'bad-shape', reason: `the result is for ${message.body.exampleCount} examples, lease ${message.body.leaseId} has ${count}` };
    }
    // A label per example, or per position of a next-token model's window.
    const labels = count * this.layout.labelsPerExample;
    if (message.body.correct > labels) {
      return { code: 'bad-shape', reason: `the result claims ${message.body.correct} correct of ${labels} ${this.layout.labelsPerExample === 1 ? 'examples' : 'labels'}` };
    }
    // Hash, signature, decode (resultCheck.ts): done ahead by the host when it is for this key and this hash, else here.
    const publicKey = contributor.credit.publicKey;
    const check = checked && checked.publicKey === publicKey && checked.resultHash === message.body.resultHash ? checked : checkResult(this.resultCheckInputOf(publicKey, message), this.options.verifier);
    return 'values' in check.outcome ? check.outcome.values : check.outcome.problem;
  }

  private resultCheckInputOf(publicKey: string, message: Result): ResultCheckInput {
    const { leaseId, version, resultHash, signature, exampleCount, loss, correct, encoding } = message.body;
    return { jobId: this.jobId, publicKey, body: { leaseId, version, resultHash, signature, exampleCount, loss, correct, encoding }, update: message.tensors.update, up: this.job.compression.up, parameterCount: this.layout.total };
  }

  private leaseFailed(contributor: Contributor, leaseId: string, reason: string, now: number, d: Decisions): void {
    if (this.status !== 'running') {
      d.events.push({ type: 'leaseFailed', at: now, contributorId: contributor.id, leaseId, reason, returned: 0 });
      return;
    }
    const verdict = this.scheduler.failLease(contributor.id, leaseId);
    if (verdict.outcome === 'released') {
      d.events.push({ type: 'leaseFailed', at: now, contributorId: contributor.id, leaseId, reason, returned: verdict.returned });
    } else if (verdict.outcome === 'unknown-lease' || verdict.outcome === 'not-your-lease') {
      d.send.push({ to: contributor.peer!, message: { type: 'error', body: { code: verdict.outcome, message: verdict.reason.slice(0, 1000), fatal: false }, tensors: {} } });
      d.events.push({ type: 'peerError', at: now, peer: contributor.peer!, contributorId: contributor.id, code: verdict.outcome, message: verdict.reason, fromPeer: false });
    }
    // A failure report for a lease already answered or of a closed round changes nothing.
    this.assignWork(now, d);
  }

  // ── rounds ───────────────────────────────────────────────────────────────────────────

  private closeRound(now: number, d: Decisions): void {
    const window = this.scheduler.currentWindow;
    const version = this.version;
    const closed = this.run.closeRound(window, this.scheduler.acceptedLeases(), version, this.roundOpenedAt, now);
    if ('diverged' in closed) return this.finish(this.run.finish('diverged', version, this.run.params, null, closed.diverged), now, d);
    for (const l of closed.leases) {
      const credit = this.contributors.credit(l.contributorId);
      if (credit) {
        credit.leases++;
        credit.examples += l.count;
      }
    }
    if (this.run.lastAggregate) this.screen.roundClosed(this.screenedForm(this.run.lastAggregate, this.leaseExamples, window.round).values);
    this.scheduler.advance(version + 1);
    this.broadcast.advance(version + 1, this.run.params);
    this.checkedHonest.clear();
    this.replicationDrawn.clear();
    this.replicatedWork.clear();
    this.inconclusive = [];
    this.suspects.clear();
    this.discardedPositions = [];
    const durationMs = now - this.roundOpenedAt;
    this.roundOpenedAt = now;
    d.events.push({
      type: 'roundClosed',
      at: now,
      record: closed,
      newVersion: this.version,
      contributors: new Set(closed.leases.map((l) => l.contributorId)).size,
      durationMs,
      examplesPerSecond: durationMs > 0 ? (closed.examples * 1000) / durationMs : 0,
    });
    const completed = this.run.roundsClosed;
    const lastRound = this.run.planComplete;
    if (completed % this.job.evaluateEvery === 0 && !lastRound) this.requestEvaluation(false, now, d);
    if (completed % this.job.checkpointEvery === 0 || lastRound) {
      d.events.push({ type: 'checkpoint', at: now, round: completed, state: this.checkpointState(now) });
    }
    if (lastRound) return this.beginFinishing(now, d);
    for (const c of this.contributors.available()) this.sendParameters(c, d);
    this.assignWork(now, d);
  }

  /**
   * Every position is counted: before the round closes, each gradient's direction is compared
   * with the rest of the round (screening.ts directionOutliers). A suspect is recomputed by the
   * spot checker: a mismatch bans its key (which discards its results of the round), a match
   * clears it. Without a spot checker a suspect is discarded (its examples are recomputed by
   * someone else) but not held against its key: the direction alone is not proof. Returns
   * whether the round may close now.
   */
  private directionCheck(now: number, d: Decisions): boolean {
    const screening = this.job.verification.screening;
    const directionOn = screening.enabled && screening.cosineFraction > 0;
    const replication = this.job.verification.replication.fraction;
    if (!directionOn && replication === 0 && this.inconclusive.length === 0) return true;
    const contributions = this.run.contributions();
    const workOf = (leaseId: string) => positionsKey(this.scheduler.lease(leaseId)!.ranges);
    const outliers = directionOn ? directionOutliers(contributions, screening.cosineFraction, this.screen.estimates()) : [];
    // Recomputations of a discarded suspect's examples are judged with it, outliers or not: that is the quorum.
    const recomputed = this.suspects.size ? contributions.filter((c) => this.suspects.has(workOf(c.leaseId)) && !outliers.some((o) => o.leaseId === c.leaseId)) : [];
    const unsettled = this.inconclusive.filter((x) => contributions.some((c) => c.leaseId === x.leaseId) && !outliers.some((o) => o.leaseId === x.leaseId) && !recomputed.some((c) => c.leaseId === x.leaseId));
    const suspects = [...outliers, ...unsettled, ...recomputed.map((c) => ({ leaseId: c.leaseId, reason: 'a recomputation of a suspect result' }))].filter((o) => !this.checkedHonest.has(o.leaseId));
    // Replication: a random part of the round's results, each drawn once, is recomputed by another key.
    for (const c of contributions) {
      if (replication === 0 || this.replicationDrawn.has(c.leaseId) || suspects.some((s) => s.leaseId === c.leaseId)) continue;
      this.replicationDrawn.add(c.leaseId);
      const key = this.contributors.credit(c.contributorId)?.publicKey ?? '';
      const someoneElse = this.contributors.available().some((x) => x.credit.publicKey !== key);
      if (this.checkedHonest.has(c.leaseId) || !someoneElse || this.sampler.next() >= replication) continue;
      this.replicatedWork.add(workOf(c.leaseId));
      suspects.push({ leaseId: c.leaseId, reason: 'drawn for replication' });
    }
    const tolerance = this.job.verification.spotChecks.tolerance;
    for (const suspect of suspects) {
      const c = contributions.find((x) => x.leaseId === suspect.leaseId)!;
      const lease = this.scheduler.lease(c.leaseId)!;
      const publicKey = this.contributors.credit(c.contributorId)?.publicKey ?? '';
      if (this.book.isBanned(publicKey)) continue; // discarded with an earlier suspect's ban
      if (this.options.spotChecker && !this.replicatedWork.has(workOf(c.leaseId))) {
        const distance = this.spotCheck(c.contributorId, lease, c.gradient, 'direction', now, d);
        if (distance <= tolerance) {
          this.checkedHonest.add(c.leaseId);
          this.book.verifiedResult(publicKey);
          continue;
        }
        if (distance > this.inconclusiveBand()) {
          this.ban(c.contributorId, publicKey, 'spot-check', `spot check of a suspect direction (${suspect.reason}): the gradient differs from the coordinator's recomputation by ${distance.toExponential(2)} (relative L2; tolerance ${tolerance})`, now, d);
          continue;
        }
        // Inconclusive: the examples go to another key, and replication judges (below, and when the recomputation arrives).
        this.replicatedWork.add(workOf(c.leaseId));
      }
      if (!this.options.spotChecker || this.replicatedWork.has(workOf(c.leaseId))) {
        // Replication on suspicion: the examples are recomputed by someone else; two keys that agree settle it, and who disagreed with them was wrong.
        const work = workOf(c.leaseId);
        const earlier = this.suspects.get(work) ?? [];
        const agreeing = earlier.find((e) => e.publicKey !== publicKey && relativeDistance(c.gradient, e.gradient) <= tolerance);
        if (agreeing) {
          this.checkedHonest.add(c.leaseId);
          this.book.verifiedResult(publicKey);
          this.book.verifiedResult(agreeing.publicKey);
          d.events.push({ type: 'replicaAgreed', at: now, leaseId: c.leaseId, contributorId: c.contributorId, withLeaseId: agreeing.leaseId, withContributorId: agreeing.contributorId });
          for (const e of earlier) {
            if (e.publicKey === publicKey || e === agreeing || this.book.isBanned(e.publicKey)) continue;
            if (relativeDistance(e.gradient, c.gradient) > tolerance) {
              this.ban(e.contributorId, e.publicKey, 'replica-mismatch', `your result for lease ${e.leaseId} disagrees with the same examples recomputed by two other contributors (leases ${agreeing.leaseId} and ${c.leaseId})`, now, d);
            }
          }
          continue;
        }
        // Nobody else could recompute it (only this key is here): its own identical recomputation stands, or the round would never close.
        const sameAgain = earlier.some((e) => e.publicKey === publicKey && relativeDistance(c.gradient, e.gradient) <= tolerance);
        if (sameAgain && !this.contributors.available().some((x) => x.credit.publicKey !== publicKey)) {
          this.checkedHonest.add(c.leaseId);
          continue;
        }
        // Bounded, so honest outliers cannot keep a round open: positions already discarded once under another split, or
        // recomputed 3 times already, are not discarded again (the direction alone is no proof).
        const resplit = earlier.length === 0 && intersectRanges(this.discardedPositions, lease.ranges).length > 0;
        if (resplit || earlier.length >= 3) {
          this.checkedHonest.add(c.leaseId);
          continue;
        }
        this.discardForReplication({ contributorId: c.contributorId, publicKey, leaseId: c.leaseId, gradient: c.gradient }, lease, suspect.reason, now, d);
      }
    }
    if (this.scheduler.roundComplete) return true;
    this.assignWork(now, d);
    return false;
  }

  /**
   * Replication's draw, as a result is accepted: a drawn result is discarded now and its examples
   * go back to pending, so another key recomputes them while the round's other leases are still
   * out (drawn when the round was in, the recomputation added a whole lease to the round). The
   * two are compared when the round is in (directionCheck). A recomputation of a suspect, and
   * examples already discarded once under another split, are not drawn.
   */
  private drawForReplication(contributor: Contributor, lease: Readonly<LeaseRecord>, gradient: Float32Array, now: number, d: Decisions): void {
    const replication = this.job.verification.replication.fraction;
    const work = positionsKey(lease.ranges);
    if (replication === 0 || this.replicationDrawn.has(lease.id) || this.checkedHonest.has(lease.id) || this.suspects.has(work)) return;
    this.replicationDrawn.add(lease.id);
    const publicKey = contributor.credit.publicKey;
    const someoneElse = this.contributors.available().some((x) => x.credit.publicKey !== publicKey);
    if (!someoneElse || this.sampler.next() >= replication) return;
    if (intersectRanges(this.discardedPositions, lease.ranges).length > 0) {
      this.checkedHonest.add(lease.id);
      return;
    }
    this.replicatedWork.add(work);
    this.discardForReplication({ contributorId: contributor.id, publicKey, leaseId: lease.id, gradient }, lease, 'drawn for replication', now, d);
  }

  /** A suspect's result no longer counts: its examples go back to pending for another key, and its update is kept to compare. */
  private discardForReplication(entry: { contributorId: string; publicKey: string; leaseId: string; gradient: Float32Array }, lease: Readonly<LeaseRecord>, reason: string, now: number, d: Decisions): void {
    const work = positionsKey(lease.ranges);
    const earlier = this.suspects.get(work) ?? [];
    if (earlier.length === 0) this.discardedPositions = [...this.discardedPositions, ...lease.ranges].sort((x, y) => x.start - y.start);
    earlier.push(entry);
    this.suspects.set(work, earlier);
    this.scheduler.uncount(entry.leaseId);
    this.run.discardContribution(entry.leaseId);
    d.events.push({ type: 'resultDiscarded', at: now, contributorId: entry.contributorId, leaseId: entry.leaseId, round: lease.round, check: this.replicatedWork.has(work) ? 'replication' : 'direction', reason });
  }

  /** Spot-check distances over the tolerance and up to this are inconclusive: replicated, not banned (−∞: none are). */
  private inconclusiveBand(): number {
    if (this.job.sync.mode === 'local-steps') return LOCAL_STEPS_INCONCLUSIVE;
    return this.options.spotChecker?.inconclusiveUpTo ?? -Infinity;
  }

  /** Recompute a result with the host's CPU reference; returns the relative L2 distance. */
  private spotCheck(contributorId: string, lease: Readonly<LeaseRecord>, gradient: Float32Array, trigger: 'sample' | 'probation' | 'direction' | 'norm', now: number, d: Decisions): number {
    const checker = this.options.spotChecker!;
    const indices = this.scheduler.indicesOf(lease.ranges);
    const tolerance = this.job.verification.spotChecks.tolerance;
    // The lease was computed from the broadcast parameters, and its result rounded by the job's up encoding: so is the reference.
    const params = this.broadcast.params;
    const inner = this.job.sync.mode === 'local-steps' ? innerHyper(this.job, lease.round) : undefined;
    const reference = roundTrip(checker(params, indices, inner, lease.round), this.job.compression.up);
    let distance = relativeDistance(gradient, reference);
    // Not yet a cheat: a pre-activation at a ReLU kink may have fallen the other way in its arithmetic.
    if (distance > tolerance && checker.resolveKinks) {
      const round = (values: Float32Array) => roundTrip(values, this.job.compression.up);
      distance = checker.resolveKinks(params, indices, gradient, reference, { inner, round, tolerance }).distance;
    }
    const passed = distance <= tolerance;
    d.events.push({ type: 'spotChecked', at: now, contributorId, leaseId: lease.id, count: lease.count, trigger, distance, passed });
    return distance;
  }

  private beginFinishing(now: number, d: Decisions): void {
    this.status = 'finishing';
    this.requestEvaluation(true, now, d);
    for (const c of this.contributors.connected()) this.tellIdle(c, 'training is over; the final evaluation is running', this.job.lease.timeoutMs, d);
  }

  private requestEvaluation(final: boolean, now: number, d: Decisions): void {
    const request = this.run.requestEvaluation(final);
    if (request) d.events.push({ type: 'evaluate', at: now, ...request });
  }

  private finish(final: FinalResult, now: number, d: Decisions): void {
    this.status = 'done';
    for (const c of this.contributors.connected()) this.sendJobDone(c.peer!, final, d);
    d.events.push({ type: 'jobDone', at: now, reason: final.reason, message: final.message, version: final.version, params: final.params, testAccuracy: final.accuracy, testLoss: final.loss });
  }

  private sendJobDone(peer: string, f: FinalResult, d: Decisions): void {
    d.send.push({ to: peer, message: { type: 'jobDone', body: { rounds: f.version, testAccuracy: f.accuracy, message: f.message.slice(0, 500) }, tensors: {} } });
  }

  // ── leasing ──────────────────────────────────────────────────────────────────────────

  /**
   * Hand pending examples to every available contributor holding fewer than `lease.inFlight`
   * active leases, one lease per contributor per pass; tell those left with none that there is
   * nothing to do.
   */
  private assignWork(now: number, d: Decisions): void {
    if (this.status !== 'running') return;
    const available = this.contributors.available();
    // Called after every result: each step below is O(1) per contributor, or the coordinator's
    // thread goes quadratic in the swarm (a thousand contributors measured 25 ms per result).
    const keys = new Set(available.map((c) => c.credit.publicKey));
    const anotherKeyThan = (key: string) => keys.size > 1 || !keys.has(key);
    let retryMs: number | undefined;
    const untilNextDeadline = () => (retryMs ??= this.msUntilNextDeadline(now));
    if (this.scheduler.pendingCount === 0) {
      // Nothing to lease: only word for those left with nothing.
      for (const c of available) if (!c.toldIdle && this.scheduler.activeCount(c.id) === 0) this.tellIdle(c, this.fullyLeased(), untilNextDeadline(), d);
      return;
    }
    if (this.suspects.size) {
      // Suspect examples must be recomputed by another key: who computed one of them is served last.
      const computed = new Set([...this.suspects.values()].flat().map((e) => e.contributorId));
      available.sort((x, y) => Number(computed.has(x.id)) - Number(computed.has(y.id)));
    }
    const totalSpeed = available.reduce((s, c) => s + c.speed, 0);
    for (let depth = 1; depth <= this.job.lease.inFlight; depth++) {
      for (const c of available) if (this.scheduler.activeCount(c.id) < depth) this.grantLease(c, totalSpeed, depth, now, d, anotherKeyThan, untilNextDeadline);
    }
  }

  private fullyLeased(): string {
    return `round ${this.round} is fully leased; waiting for its results`;
  }

  /** One lease for a contributor (its `depth`-th active one), or, for a contributor with none, word that the round is fully leased. */
  private grantLease(
    c: Contributor,
    totalSpeed: number,
    depth: number,
    now: number,
    d: Decisions,
    anotherKeyThan: (key: string) => boolean,
    untilNextDeadline: () => number,
  ): void {
    const grant = this.scheduler.leaseMicroBatch(
      {
        contributorId: c.id,
        examplesPerSecond: c.speed,
        turnaroundExamplesPerSecond: c.turnaround,
        // A local-steps lease is computed one inner batch at a time, whatever its length.
        maxBatch: this.job.sync.mode === 'local-steps' ? MAX_LEASE_EXAMPLES : c.capabilities.maxBatch,
        share: c.speed / totalSpeed,
      },
      now,
      this.ownSuspectWork(c, anotherKeyThan),
    );
    if (!grant) {
      if (depth === 1 && !c.toldIdle) this.tellIdle(c, this.fullyLeased(), untilNextDeadline(), d);
      return;
    }
    const { lease, indices } = grant;
    this.sendParameters(c, d);
    c.toldIdle = false;
    d.send.push({
      to: c.peer!,
      message: {
        type: 'lease',
        body: {
          leaseId: lease.id,
          version: lease.version,
          round: lease.round,
          deadlineMs: this.job.lease.timeoutMs,
          ...(this.job.sync.mode === 'local-steps' ? { innerLr: innerHyper(this.job, lease.round).lr } : {}),
        },
        tensors: { indices },
      },
    });
    d.events.push({
      type: 'leaseGranted',
      at: now,
      contributorId: c.id,
      leaseId: lease.id,
      round: lease.round,
      version: lease.version,
      ranges: lease.ranges.map((r) => ({ ...r })),
      count: lease.count,
      deadline: lease.deadline,
    });
  }

  /**
   * Positions of suspect results this contributor's key computed: a recomputation by the same key
   * settles nothing, so while another key is here they are leased to someone else (otherwise
   * every contributor of a round whose results were all drawn got its own examples back).
   */
  private ownSuspectWork(c: Contributor, anotherKeyThan: (key: string) => boolean): PositionRange[] {
    if (!this.suspects.size) return [];
    const key = c.credit.publicKey;
    if (!anotherKeyThan(key)) return [];
    const own: PositionRange[] = [];
    for (const earlier of this.suspects.values()) {
      if (!earlier.some((e) => e.publicKey === key)) continue;
      const lease = this.scheduler.lease(earlier[0].leaseId);
      if (lease) own.push(...lease.ranges);
    }
    // Sorted and disjoint, as the scheduler's range operations want them.
    own.sort((x, y) => x.start - y.start);
    const merged: PositionRange[] = [];
    for (const r of own) {
      const last = merged[merged.length - 1];
      if (last && r.start <= last.end) last.end = Math.max(last.end, r.end);
      else merged.push({ ...r });
    }
    return merged;
  }

  private sendParameters(c: Contributor, d: Decisions): void {
    if (c.knownVersion === this.version || c.peer === null) return;
    for (const message of this.broadcast.messagesFor(c.knownVersion)) d.send.push({ to: c.peer, message });
    c.knownVersion = this.version;
  }

  private tellIdle(c: Contributor, reason: string, retryMs: number, d: Decisions): void {
    if (c.toldIdle || c.peer === null) return;
    c.toldIdle = true;
    d.send.push({ to: c.peer, message: { type: 'idle', body: { reason: reason.slice(0, 500), retryMs: Math.round(Math.min(600_000, Math.max(0, retryMs))) }, tensors: {} } });
  }

  private msUntilNextDeadline(now: number): number {
    const earliest = this.scheduler.earliestActiveDeadline();
    return earliest === null ? this.job.lease.timeoutMs : earliest - now;
  }

  // ── peers ────────────────────────────────────────────────────────────────────────────

  /**
   * A cheat is proven: ban the key, discard every result of it the open round accepted (their
   * examples go back to pending and are recomputed by others), and close its connections.
   */
  private ban(contributorId: string, publicKey: string, check: VerificationCheck, reason: string, now: number, d: Decisions): void {
    const discardedLeases: string[] = [];
    if (this.status === 'running') {
      for (const l of this.scheduler.acceptedLeases()) {
        if (this.contributors.credit(l.contributorId)?.publicKey !== publicKey) continue;
        this.scheduler.uncount(l.id);
        this.run.discardContribution(l.id);
        discardedLeases.push(l.id);
      }
    }
    this.book.ban({ publicKey, contributorId, reason, at: now });
    d.events.push({ type: 'contributorBanned', at: now, contributorId, publicKey, reason, check, discardedLeases });
    const peers = this.contributors.connected().filter((c) => c.credit.publicKey === publicKey && c.peer !== null).map((c) => c.peer!);
    for (const peer of peers) this.fail(peer, 'banned', `You are banned from this job: ${reason}`, now, d);
  }

  private dropPeer(peer: string, reason: string, now: number, d: Decisions): void {
    const contributor = this.contributors.removePeer(peer);
    const returned = contributor && this.status === 'running' ? this.scheduler.contributorLeft(contributor.id) : [];
    d.events.push({ type: 'left', at: now, peer, contributorId: contributor?.id ?? null, reason, returnedLeases: returned.map((l) => l.id) });
  }

  /** A protocol violation: tell the peer why, then disconnect it. */
  private fail(peer: string, code: ErrorCode, reason: string, now: number, d: Decisions): void {
    d.send.push({ to: peer, message: { type: 'error', body: { code, message: reason.slice(0, 1000), fatal: true }, tensors: {} } });
    d.events.push({ type: 'peerError', at: now, peer, contributorId: this.contributors.ofPeer(peer)?.id ?? null, code, message: reason, fromPeer: false });
    this.close(peer, code, reason, now, d);
  }

  /** Forget the peer now (its leases go to others) and ask the host to close its connection. */
  private close(peer: string, code: ErrorCode | null, reason: string, now: number, d: Decisions): void {
    this.dropPeer(peer, reason, now, d);
    this.closing.add(peer);
    d.disconnect.push({ peer, code, reason });
    this.assignWork(now, d);
  }

  private requireStarted(method: string): void {
    if (this.status === 'created') throw new Error(`Coordinator.${method}: call start(now) first`);
  }

  private elapsedMs(now: number): number {
    return this.elapsedBefore + (this.status === 'created' ? 0 : Math.max(0, now - this.startedAt));
  }
}

/** The sync section as contributors need it (messages.ts SyncSpec); each lease names its learning rate. */
function syncSpec(job: Job): SyncSpec {
  if (job.sync.mode !== 'local-steps') return { mode: 'every-step' };
  const o = innerOptimizerOf(job.sync, job);
  const optimizer =
    o.kind === 'adamw'
      ? { kind: o.kind, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay, maxGradNorm: o.maxGradNorm }
      : { kind: o.kind, momentum: o.momentum, weightDecay: o.weightDecay, maxGradNorm: o.maxGradNorm };
  return { mode: 'local-steps', innerBatch: job.sync.innerBatch, optimizer };
}
