// The swarm row of `npm run bench`: browser contributors behind links like users' own
// (20 Mbit/s down, 5 up each, e2e/support/shapedNet.ts), through the real server, relay and
// WebRTC, in one run, side by side:
//
//   links        one link's bulk TCP rate each way against its shaping (e2e/shaped.spec.ts
//                only reports it);
//   baseline     the every-step job (fp32 gradients every step, the protocol before local
//                steps) with 2 contributors, capped at --baseline-minutes of training (45: it
//                needs about an hour to reach 88% on these links, and a cap under 10× the local
//                steps run could not show the time bar even as a lower bound);
//   local steps  the default job (64 inner SGD steps of 32, int4 both ways, 2 leases in flight) with 2
//                contributors, until 88% test accuracy;
//   scaling      the default job (no test-set evaluations: train.html's are left out of its rate
//                too), ended after --scaling-rounds rounds, with N = 1, 2, 4 contributors,
//                against the same N browsers training locally (train.html, batch 32, SGD)
//                all at once, their training examples/s over a common window summed. The
//                network's rate is over the rounds after --warmup rounds with every contributor:
//                enough for each new key's probation (its first 3 results are spot-checked, about
//                a second of the coordinator's CPU each, which no round after them pays) and for
//                the rounds to settle (the first dozen here took up to twice as long as later ones).
//
// Training time runs from the first lease (pages and the dataset, ~33 MB per contributor,
// cross the link before a contributor says hello) to the close of the round that made the
// first version evaluated at 88% or above; the job's wall time from the server's start is
// reported too. Bytes are counted twice: the coordinator's message bytes and the
// links' tbf counters (what crossed the wire). The bars (issue 13):
//   time to 88%           baseline / local steps ≥ 10 (a lower bound when the baseline was capped)
//   bytes per example     baseline / local steps ≥ 32, on the wire and in messages
//   accuracy              local steps at most 0.5 points below the baseline at equal examples (the
//                         mean over the last quarter of the examples before that count: one
//                         evaluation is ±0.5–1 point off the next)
//   scaling               through the network ≥ 80% of the same browsers training locally, each N
//
//   node --import tsx scripts/bench-swarm.ts --site DIR [--out FILE.json] [--baseline-minutes 45]
//        [--baseline-evaluate-every 20] [--local-minutes 10] [--scaling 1,2,4] [--scaling-rounds 30]
//        [--warmup 12] [--local-window 20] [--parts links,baseline,local,scaling]
//        [--baseline-job FILE] [--local-job FILE] [--keep]
//
// DIR is a `vite build` output (bench.mjs passes its own). It re-runs itself inside
// ../shared/isolated-net, as root: the shaped links are network namespaces.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { runShapedSwarm, type SwarmRun } from '../e2e/support/swarmRun.ts';
import { bulkTransfers, createShapedLinks, type ShapedLink } from '../e2e/support/shapedNet.ts';
import {
  accuracyAtEqualExamples,
  EQUAL_WINDOW_FRACTION,
  accuracyCurve,
  bytesPerExample,
  firstReaching,
  markdownTable,
  seconds,
  steadyRate,
  type BytesPerExample,
  type CurvePoint,
  type EqualExamples,
  localWindowRate,
  parseLocalProgress,
  type LocalProgress,
  type SteadyRate,
} from './swarm-metrics.ts';

const isolate = resolve('..', 'shared', 'isolated-net');
if (process.env.ISOLATED_NET_INSIDE !== '1' && existsSync(isolate)) {
  const rerun = spawnSync(isolate, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(rerun.status ?? 1);
}

// Ctrl-C or a kill: exit through process.exit, so that the links and servers' exit hooks run.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

const BASELINE_JOB = 'src/coordinator/jobs/fashion-mnist-mlp-every-step.json';
const LOCAL_JOB = 'src/coordinator/jobs/fashion-mnist-mlp.json';
const TARGET_ACCURACY = 0.88;
const CONTRIBUTORS = 2;
export const TIME_BAR = 10;
export const BYTES_BAR = 32;
/** Local steps may be at most this far below the baseline at equal examples (accuracy, 0.5 points). */
export const ACCURACY_BAR = 0.005;
export const SCALING_BAR = 0.8;
/** A shaped link's measured bulk rate: at most the tbf's burst above its rate, and not far under it. */
const LINK_LOW = 0.8;
const LINK_HIGH = 1.25;

interface Check {
  id: string;
  description: string;
  pass: boolean;
  detail: string;
}

interface JobResult {
  label: string;
  job: string;
  contributors: number;
  capped: boolean;
  stalled: string | null;
  /** Training (from the first lease) and wall (from the server's start) to the end of the run. */
  trainingSeconds: number;
  wallSeconds: number;
  /** The first version evaluated at 88% or above: training and wall time to it. */
  reached: { version: number; examples: number; accuracy: number; trainingSeconds: number; wallSeconds: number } | null;
  final: CurvePoint | null;
  rounds: number;
  medianRoundSeconds: number;
  slowestRoundSeconds: number;
  bytes: BytesPerExample | null;
  curve: CurvePoint[];
  run: SwarmRun;
}

interface ScalingRow {
  contributors: number;
  network: SteadyRate;
  /** train.html in each of the same browsers, all at once. */
  local: LocalRates;
  ratio: number;
  wireBytesPerRound: { down: number; up: number } | null;
  backends: string[];
  run: SwarmRun;
}

const log = (line: string) => console.log(`${new Date().toISOString().slice(11, 19)} ${line}`);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : Number.NaN;
}

function writeJob(work: string, name: string, job: Record<string, unknown>): string {
  const file = join(work, `${name}.json`);
  writeFileSync(file, JSON.stringify(job, null, 2));
  return file;
}

function jobResult(run: SwarmRun): JobResult {
  const { status, trainStartAt } = run;
  const curve = accuracyCurve(status.rounds, status.evaluations);
  const hit = firstReaching(curve, TARGET_ACCURACY);
  const durations = status.rounds.slice(1).map((r) => r.durationMs / 1000);
  const final = [...curve].sort((a, b) => a.version - b.version).at(-1) ?? null;
  return {
    label: run.label,
    job: status.job.name,
    contributors: run.contributors,
    capped: run.capped,
    stalled: run.stalled,
    trainingSeconds: (status.now - trainStartAt) / 1000,
    wallSeconds: (status.now - status.startedAt) / 1000,
    reached: hit && {
      version: hit.version,
      examples: hit.examples,
      accuracy: hit.accuracy,
      trainingSeconds: (hit.versionAt - trainStartAt) / 1000,
      wallSeconds: (hit.versionAt - status.startedAt) / 1000,
    },
    final,
    rounds: status.rounds.length,
    medianRoundSeconds: median(durations),
    slowestRoundSeconds: Math.max(0, ...durations),
    bytes: bytesPerExample(run.samples, status.rounds, run.contributors),
    curve,
    run,
  };
}

function describeRun(r: JobResult): void {
  const { run } = r;
  log(`  [${r.label}] ${r.rounds} rounds (median ${seconds(r.medianRoundSeconds)}, slowest ${seconds(r.slowestRoundSeconds)}), training ${seconds(r.trainingSeconds)}, wall ${seconds(r.wallSeconds)}`);
  log(`  [${r.label}] accuracy ${r.final ? `${(100 * r.final.accuracy).toFixed(2)}% at ${r.final.examples.toLocaleString('en-US')} examples (v${r.final.version})` : 'never evaluated'}; 88% ${r.reached ? `at v${r.reached.version} after ${seconds(r.reached.trainingSeconds)} of training` : 'not reached'}`);
  if (r.bytes) {
    const b = r.bytes;
    const per = (x: number) => (x / b.examples).toFixed(0);
    log(`  [${r.label}] bytes per example (down + up): wire ${per(b.wire.down)} + ${per(b.wire.up)}, messages ${per(b.messages.down)} + ${per(b.messages.up)} (rounds ${b.fromRound}–${b.toRound - 1}, ${b.examples.toLocaleString('en-US')} examples)`);
  }
  log(`  [${r.label}] ledger: ${Object.entries(run.ledger.kinds).map(([k, n]) => `${k} ${n}`).join(', ')}; backends ${run.backends.join(', ')}`);
  for (const line of [...run.ledger.incidents, ...run.serverIncidents, ...run.pageIncidents].slice(0, 12)) log(`  [${r.label}] ! ${line}`);
}

interface LocalRates {
  /** Each page's training examples/s over the common window (its evaluations left out), and their sum. */
  perPage: number[];
  examplesPerSecond: number;
  /** The same over wall time (evaluations included), for reference. */
  wallPerPage: number[];
  windowSeconds: number;
}

/**
 * The contributors stop (their pages close), then each of the same browsers opens train.html
 * by its own link and trains locally, batch 32 with SGD as the job's inner steps. All pages
 * start together; their progress lines are read while every one of them is past its first
 * evaluation and still training, `windowSeconds` apart, and the rates over that common window
 * are summed (a page that finished early would leave the others the machine to themselves).
 */
async function trainLocallyInEach(pages: Page[], links: readonly ShapedLink[], port: number, work: { batch: number; lr: number }, windowSeconds: number): Promise<LocalRates> {
  const browsers = pages.map((p) => p.context().browser()!);
  await Promise.all(pages.map((p) => p.context().close()));
  const contexts = await Promise.all(browsers.map((b) => b.newContext()));
  try {
    const trainPages = await Promise.all(
      contexts.map(async (context, i) => {
        const page = await context.newPage();
        // The page and its assets cross the 20 Mbit/s link, on a machine the other browsers keep busy.
        await page.goto(`${links[i].originFor(port)}/train.html`, { timeout: 180_000 });
        await page.waitForFunction(() => !(document.getElementById('start') as HTMLButtonElement | null)?.disabled, null, { timeout: 180_000 });
        // Long enough that no page finishes within the window.
        await page.getByLabel('Training examples').fill('60000');
        await page.getByLabel('Epochs').fill('10');
        await page.getByLabel('Batch').fill(String(work.batch));
        await page.getByLabel('Learning rate').fill(String(work.lr));
        await page.getByLabel('Optimizer').selectOption('sgd');
        return page;
      }),
    );
    await Promise.all(trainPages.map((p) => p.getByRole('button', { name: 'Train' }).click()));
    const read = async () => {
      const at = Date.now();
      const texts = await Promise.all(trainPages.map((p) => p.locator('#train-status').textContent()));
      return texts.map((t) => parseLocalProgress(t ?? '', at));
    };
    const deadline = Date.now() + 600_000;
    // Past the first evaluation (step 100) everywhere: warm, and in the steady pattern.
    let first: LocalProgress[] | null = null;
    while (!first) {
      if (Date.now() > deadline) throw new Error('train.html did not get past its first evaluation in 10 minutes');
      const r = await read();
      if (r.every((p) => p && p.step > 100)) first = r as LocalProgress[];
      else await new Promise((resolve) => setTimeout(resolve, 500));
    }
    await new Promise((resolve) => setTimeout(resolve, windowSeconds * 1000));
    const last = (await read()) as (LocalProgress | null)[];
    const failed = await Promise.all(trainPages.map((p) => p.evaluate(() => window.swarmgradLocalRun?.state)));
    if (failed.some((s) => s !== 'running')) throw new Error(`train.html left its run during the window (${failed.join(', ')})`);
    await Promise.all(trainPages.map((p) => p.getByRole('button', { name: 'Stop' }).click()));
    const rates = first.map((a, i) => localWindowRate(a, last[i]!, work.batch));
    return {
      perPage: rates.map((r) => r.training),
      examplesPerSecond: rates.reduce((s, r) => s + r.training, 0),
      wallPerPage: rates.map((r) => r.wall),
      windowSeconds: (last[0]!.at - first[0].at) / 1000,
    };
  } finally {
    // A browser that crashed has closed its context already.
    await Promise.all(contexts.map((c) => c.close().catch(() => {})));
  }
}

function timeCheck(baseline: JobResult, local: JobResult): Check {
  const description = `time to ${100 * TARGET_ACCURACY}% (training): every-step baseline / local steps ≥ ${TIME_BAR}, ${CONTRIBUTORS} shaped contributors`;
  if (!local.reached) {
    const why = local.stalled ? `, stalled: ${local.stalled}` : '';
    return { id: 'swarm-time-to-88', description, pass: false, detail: `local steps did not reach ${100 * TARGET_ACCURACY}% (${local.final ? (100 * local.final.accuracy).toFixed(2) : '–'}% after ${seconds(local.trainingSeconds)}${why})` };
  }
  if (baseline.stalled && !baseline.reached) return { id: 'swarm-time-to-88', description, pass: false, detail: `the baseline stalled: ${baseline.stalled}` };
  if (baseline.reached) {
    const ratio = baseline.reached.trainingSeconds / local.reached.trainingSeconds;
    return { id: 'swarm-time-to-88', description, pass: ratio >= TIME_BAR, detail: `${ratio.toFixed(1)}× (${seconds(baseline.reached.trainingSeconds)} / ${seconds(local.reached.trainingSeconds)})` };
  }
  const bound = baseline.trainingSeconds / local.reached.trainingSeconds;
  const at = baseline.final ? `${(100 * baseline.final.accuracy).toFixed(2)}% at ${baseline.final.examples.toLocaleString('en-US')} examples` : 'never evaluated';
  return {
    id: 'swarm-time-to-88',
    description,
    pass: bound >= TIME_BAR,
    detail: `≥ ${bound.toFixed(1)}× (baseline not reached in ${seconds(baseline.trainingSeconds)}: ${at}; local steps ${seconds(local.reached.trainingSeconds)})`,
  };
}

function bytesCheck(baseline: JobResult, local: JobResult): Check {
  const description = `bytes per example (down + up): every-step baseline / local steps ≥ ${BYTES_BAR}×, on the wire (tbf) and in messages`;
  if (!baseline.bytes || !local.bytes) return { id: 'swarm-bytes-per-example', description, pass: false, detail: 'too few rounds to count bytes' };
  const wire = baseline.bytes.wirePerExample / local.bytes.wirePerExample;
  const messages = baseline.bytes.messagesPerExample / local.bytes.messagesPerExample;
  return {
    id: 'swarm-bytes-per-example',
    description,
    pass: wire >= BYTES_BAR && messages >= BYTES_BAR,
    detail: `wire ${wire.toFixed(1)}× (${baseline.bytes.wirePerExample.toFixed(0)} / ${local.bytes.wirePerExample.toFixed(0)} B), messages ${messages.toFixed(1)}× (${baseline.bytes.messagesPerExample.toFixed(0)} / ${local.bytes.messagesPerExample.toFixed(0)} B)`,
  };
}

function accuracyCheck(baseline: JobResult, local: JobResult): { check: Check; equal: EqualExamples | null } {
  const description = `test accuracy at equal examples: local steps at most ${100 * ACCURACY_BAR} points below the every-step baseline`;
  const equal = accuracyAtEqualExamples(baseline.curve, local.curve);
  if (!equal) return { equal, check: { id: 'swarm-accuracy-equal-examples', description, pass: false, detail: 'the runs have no evaluations to compare' } };
  const points = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)} points`;
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  const n = (x: number) => x.toLocaleString('en-US');
  const gap = equal.localAccuracy - equal.baselineAccuracy;
  const at = `${pct(equal.localAccuracy)} vs ${pct(equal.baselineAccuracy)} at ${n(equal.examples)} examples (${points(gap)}; the ${equal.setBy} run's last evaluation, the other interpolated)`;
  // Judged on the window's means: one evaluation is ±0.5–1 point off the next (swarm-metrics.ts EqualExamples.window).
  const w = equal.window;
  const windowGap = w ? w.localAccuracy - w.baselineAccuracy : gap;
  return {
    equal,
    check: {
      id: 'swarm-accuracy-equal-examples',
      description,
      pass: windowGap >= -ACCURACY_BAR,
      detail: w ? `mean over ${n(w.from)}–${n(equal.examples)} examples ${pct(w.localAccuracy)} vs ${pct(w.baselineAccuracy)} (${points(windowGap)}); at the end ${at}` : `${at}; no window (a curve does not reach back to ${EQUAL_WINDOW_FRACTION * 100}% before it)`,
    },
  };
}

const scalingDescription = (n: number) =>
  `${n} shaped contributor${n === 1 ? '' : 's'} through the network ≥ ${100 * SCALING_BAR}% of the same browsers training locally (local steps, steady rounds)`;

function scalingCheck(row: ScalingRow): Check {
  return {
    id: `swarm-scaling-${row.contributors}`,
    description: scalingDescription(row.contributors),
    pass: row.ratio >= SCALING_BAR,
    detail: `${(100 * row.ratio).toFixed(0)}% (${Math.round(row.network.examplesPerSecond)} vs ${Math.round(row.local.examplesPerSecond)} examples/s)`,
  };
}

function report(jobs: JobResult[], equal: EqualExamples | null, scaling: ScalingRow[], checks: Check[]): string {
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const out: string[] = [];
  if (jobs.length) {
    out.push(
      `Jobs (${CONTRIBUTORS} contributors, each on ${jobs[0].run.downMbit} Mbit/s down, ${jobs[0].run.upMbit} up)`,
      markdownTable(
        ['job', `time to ${100 * TARGET_ACCURACY}% (training)`, 'job wall time', 'last evaluation', 'rounds (median)', 'wire bytes/example', 'message bytes/example', 'down / up per example (wire)'],
        jobs.map((r) => [
          r.label,
          r.reached ? seconds(r.reached.trainingSeconds) : `not reached in ${seconds(r.trainingSeconds)}`,
          r.reached ? seconds(r.reached.wallSeconds) : `${seconds(r.wallSeconds)}${r.stalled ? ' (stalled)' : r.capped ? ' (capped)' : ''}`,
          r.final ? `${(100 * r.final.accuracy).toFixed(2)}% at ${n(r.final.examples)}` : '–',
          `${r.rounds} (${seconds(r.medianRoundSeconds)})`,
          r.bytes ? n(r.bytes.wirePerExample) : '–',
          r.bytes ? n(r.bytes.messagesPerExample) : '–',
          r.bytes ? `${n(r.bytes.wire.down / r.bytes.examples)} / ${n(r.bytes.wire.up / r.bytes.examples)}` : '–',
        ]),
        [false, true, true, true, true, true, true, true],
      ),
      '',
    );
    if (equal) {
      out.push(`Equal examples (${n(equal.examples)}): local steps ${(100 * equal.localAccuracy).toFixed(2)}%, baseline ${(100 * equal.baselineAccuracy).toFixed(2)}%`);
      if (equal.window) out.push(`  mean over ${n(equal.window.from)}–${n(equal.examples)}: local steps ${(100 * equal.window.localAccuracy).toFixed(2)}%, baseline ${(100 * equal.window.baselineAccuracy).toFixed(2)}%`);
      out.push('');
    }
  }
  if (scaling.length) {
    out.push(
      'Scaling (local-steps job, steady rounds, vs the same browsers on train.html at batch 32, SGD, all at once)',
      markdownTable(
        ['contributors', 'network examples/s', 'local examples/s (sum)', 'network / local', 'round time', 'wire down / up per round'],
        scaling.map((r) => [
          String(r.contributors),
          n(r.network.examplesPerSecond),
          `${n(r.local.examplesPerSecond)}${r.local.perPage.length > 1 ? ` (${r.local.perPage.map(n).join(' + ')})` : ''}`,
          `${(100 * r.ratio).toFixed(0)}%`,
          seconds(r.network.seconds / r.network.rounds),
          r.wireBytesPerRound ? `${(r.wireBytesPerRound.down / 1024).toFixed(0)} / ${(r.wireBytesPerRound.up / 1024).toFixed(0)} KiB` : '–',
        ]),
        [true, true, true, true, true, true],
      ),
      '',
    );
  }
  out.push(markdownTable(['bar', 'measured', 'result'], checks.map((c) => [c.description, c.detail, c.pass ? 'PASS' : 'FAIL'])));
  return out.join('\n');
}

async function main(): Promise<number> {
  const started = Date.now();
  const { values } = parseArgs({
    options: {
      site: { type: 'string', default: 'dist' },
      out: { type: 'string' },
      'baseline-minutes': { type: 'string', default: '45' },
      'baseline-evaluate-every': { type: 'string', default: '20' },
      'local-minutes': { type: 'string', default: '10' },
      scaling: { type: 'string', default: '1,2,4' },
      'scaling-rounds': { type: 'string', default: '30' },
      warmup: { type: 'string', default: '12' },
      'local-window': { type: 'string', default: '20' },
      parts: { type: 'string', default: 'links,baseline,local,scaling' },
      'baseline-job': { type: 'string', default: BASELINE_JOB },
      'local-job': { type: 'string', default: LOCAL_JOB },
      /** Keep the runs' output folders (ledgers, summaries, logs) and print where they are. */
      keep: { type: 'boolean', default: false },
    },
  });
  const number = (name: keyof typeof values, min: number) => {
    const x = Number(values[name]);
    if (!(x >= min)) throw new Error(`--${name} must be a number ≥ ${min}, got ${values[name]}`);
    return x;
  };
  const baselineMinutes = number('baseline-minutes', 0.1);
  const baselineEvaluateEvery = Math.round(number('baseline-evaluate-every', 1));
  const localMinutes = number('local-minutes', 0.1);
  const scalingRounds = Math.round(number('scaling-rounds', 2));
  const warmup = Math.round(number('warmup', 1));
  const localWindow = number('local-window', 5);
  if (warmup >= scalingRounds) throw new Error(`--warmup (${warmup}) must leave rounds of --scaling-rounds (${scalingRounds}) to measure`);
  const counts = values.scaling!.split(',').filter(Boolean).map(Number);
  if (counts.some((c) => !Number.isInteger(c) || c < 1)) throw new Error(`--scaling must list contributor counts, got ${values.scaling}`);
  const parts = new Set(values.parts!.split(','));
  for (const p of parts) if (!['links', 'baseline', 'local', 'scaling'].includes(p)) throw new Error(`--parts: unknown part ${p} (links, baseline, local, scaling)`);
  const site = resolve(values.site!);
  if (!existsSync(join(site, 'train.html'))) throw new Error(`${site} has no built pages: run \`npx vite build\` first`);

  const work = mkdtempSync(join(tmpdir(), 'swarmgrad-bench-swarm-'));
  // Read when a part needs it (a long baseline runs first, and the file may be a candidate still being chosen).
  type LocalJob = Record<string, unknown> & { optimizer: { lr: number }; sync?: { innerBatch?: number } };
  const readLocalJob = () => JSON.parse(readFileSync(values['local-job']!, 'utf8')) as LocalJob;
  // train.html with the inner steps' batch and SGD (the default job's inner optimizer), so that it is the same work.
  const localWorkOf = (job: LocalJob) => ({ batch: job.sync?.innerBatch ?? 32, lr: job.optimizer.lr });
  try {
    const jobs: JobResult[] = [];
    const checks: Check[] = [];
    // A part that throws is a failed check with its error; the other parts still run.
    const attempt = async <T>(part: string, body: () => Promise<T>): Promise<T | null> => {
      try {
        return await body();
      } catch (error) {
        log(`swarm: the ${part} part failed: ${(error as Error).stack ?? error}`);
        checks.push({ id: `swarm-${part}`, description: `the swarm benchmark's ${part} part ran`, pass: false, detail: (error as Error).message.split('\n')[0] });
        return null;
      }
    };
    const runJob = (label: string, file: string, capMinutes: number) =>
      attempt(label, async () => {
        const { run } = await runShapedSwarm({ label, job: file, contributors: CONTRIBUTORS, site, out: join(work, `run-${label.replace(/\W+/g, '-')}`), trainingCapMs: capMinutes * 60_000, log });
        const result = jobResult(run);
        describeRun(result);
        jobs.push(result);
        return result;
      });

    let baseline: JobResult | null = null;
    let local: JobResult | null = null;
    if (parts.has('links')) {
      // The link's rates, which the e2e test only reports: bulk TCP each way, timed at the receiver.
      await attempt('links', async () => {
        const shaped = createShapedLinks(1);
        try {
          const link = shaped.links[0];
          const t = await bulkTransfers(link, 5_000_000, 2_000_000);
          log(`swarm: shaped link: down ${t.down.mbit.toFixed(1)} Mbit/s (link ${link.downMbit}), up ${t.up.mbit.toFixed(1)} Mbit/s (link ${link.upMbit}); tbf +${t.tbf.down} / +${t.tbf.up} bytes`);
          for (const [dir, measured, rate] of [['down', t.down.mbit, link.downMbit], ['up', t.up.mbit, link.upMbit]] as const) {
            checks.push({
              id: `swarm-link-${dir}`,
              description: `a shaped link's bulk TCP ${dir} within ${100 * LINK_LOW}–${100 * LINK_HIGH}% of its ${rate} Mbit/s`,
              pass: measured >= rate * LINK_LOW && measured <= rate * LINK_HIGH,
              detail: `${measured.toFixed(1)} Mbit/s`,
            });
          }
        } finally {
          shaped.close();
        }
      });
    }
    if (parts.has('baseline')) {
      log(`swarm: every-step baseline, ${CONTRIBUTORS} shaped contributors, at most ${baselineMinutes} min of training (evaluated every ${baselineEvaluateEvery} rounds)…`);
      const job = { ...JSON.parse(readFileSync(values['baseline-job']!, 'utf8')), evaluateEvery: baselineEvaluateEvery };
      baseline = await runJob('baseline', writeJob(work, 'baseline', job), baselineMinutes);
    }
    if (parts.has('local')) {
      log(`swarm: local-steps job, ${CONTRIBUTORS} shaped contributors, until ${100 * TARGET_ACCURACY}% (at most ${localMinutes} min of training)…`);
      local = await runJob('local steps', writeJob(work, 'local', readLocalJob()), localMinutes);
    }
    let equal: EqualExamples | null = null;
    if (baseline && local) {
      checks.push(timeCheck(baseline, local), bytesCheck(baseline, local));
      const accuracy = accuracyCheck(baseline, local);
      equal = accuracy.equal;
      checks.push(accuracy.check);
    }

    const scaling: ScalingRow[] = [];
    if (parts.has('scaling')) {
      // The job as it is, ended after a fixed number of rounds. Not stop.rounds: that would shorten
      // its cosine schedule, and an honest lease at the shorter schedule's rate fails its spot check.
      // Its test-set evaluations are left out, as train.html's are from its rate: on this machine the
      // coordinator's evaluation thread would take the cores the browsers train on.
      const localJob = readLocalJob();
      const localWork = localWorkOf(localJob);
      const jobFile = writeJob(work, 'scaling', { ...localJob, evaluateEvery: 1_000_000 });
      for (const count of counts) {
        log(`swarm: scaling, ${count} shaped contributor${count === 1 ? '' : 's'}, ${scalingRounds} rounds (${warmup} warm-up), then the same browsers on train.html…`);
        const row = await attempt(`scaling-${count}`, () => scalingRow(count, jobFile, localWork));
        if (row === null) continue;
        if ('notMeasured' in row) {
          checks.push({ id: `swarm-scaling-${count}`, description: scalingDescription(count), pass: false, detail: `not measured: ${row.notMeasured}` });
          continue;
        }
        scaling.push(row);
        checks.push(scalingCheck(row));
      }
    }
    async function scalingRow(count: number, jobFile: string, localWork: { batch: number; lr: number }): Promise<ScalingRow | { notMeasured: string }> {
      const { run, after } = await runShapedSwarm(
        { label: `scaling ${count}`, job: jobFile, contributors: count, site, out: join(work, `run-scaling-${count}`), stopAfterRounds: scalingRounds, log },
        ({ pages, links, port }) => trainLocallyInEach(pages, links, port, localWork, localWindow),
      );
      const incidents = [...run.ledger.incidents, ...run.serverIncidents, ...run.pageIncidents].slice(0, 12);
      for (const line of incidents) log(`  [scaling ${count}] ! ${line}`);
      const full = run.fullFromRound === null ? [] : run.status.rounds.slice(run.fullFromRound);
      if (run.stalled || full.length <= warmup) {
        const why = run.stalled ?? `only ${full.length} rounds with all ${count} contributors`;
        log(`  [scaling ${count}] no steady rounds to measure: ${why}`);
        return { notMeasured: why };
      }
      // Rounds that every contributor had from their start, less the warm-up.
      const network = steadyRate(full, warmup);
      const localRates = after!;
      const bytes = bytesPerExample(run.samples, run.status.rounds, count);
      const spanRounds = bytes ? bytes.toRound - bytes.fromRound : 0;
      log(`  [scaling ${count}] network ${Math.round(network.examplesPerSecond)} examples/s over ${network.rounds} rounds (${seconds(network.seconds)}); local ${localRates.perPage.map((x) => Math.round(x)).join(' + ')} examples/s over ${seconds(localRates.windowSeconds)} (wall, evaluations included: ${localRates.wallPerPage.map((x) => Math.round(x)).join(' + ')}); backends ${run.backends.join(', ')}`);
      return {
        contributors: count,
        network,
        local: localRates,
        ratio: network.examplesPerSecond / localRates.examplesPerSecond,
        wireBytesPerRound: bytes && spanRounds > 0 ? { down: bytes.wire.down / spanRounds, up: bytes.wire.up / spanRounds } : null,
        backends: run.backends,
        run,
      };
    }

    const totalSeconds = (Date.now() - started) / 1000;
    console.log(`\nSwarm over shaped links\n${report(jobs, equal, scaling, checks)}\n`);
    for (const c of checks) console.log(`${c.pass ? 'PASS' : 'FAIL'} ${c.description}: ${c.detail}`);
    console.log(`swarm bench: ${seconds(totalSeconds)} in all`);
    if (values.out) {
      writeFileSync(
        values.out,
        JSON.stringify(
          {
            settings: { baselineMinutes, baselineEvaluateEvery, localMinutes, scaling: counts, scalingRounds, warmup, localWindow, targetAccuracy: TARGET_ACCURACY },
            jobs,
            equalExamples: equal,
            scaling,
            checks,
            totalSeconds,
          },
          null,
          2,
        ) + '\n',
      );
    }
    return checks.every((c) => c.pass) ? 0 : 1;
  } finally {
    if (values.keep) console.log(`swarm: the runs' folders are kept in ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`swarm bench failed: ${(error as Error).stack ?? error}`);
    process.exit(2);
  },
);
