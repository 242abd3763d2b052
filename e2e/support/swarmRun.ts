// One job through the real server with N browser contributors, each behind a shaped link of
// its own (e2e/support/shapedNet.ts): what scripts/bench-swarm.ts measures. Polls /api/status,
// samples the coordinator's message bytes and the links' tbf counters as rounds close, and
// reads the run's ledger at the end (the first lease, bans, expired leases). Needs root
// inside ../shared/isolated-net, as the shaped links do.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { LaunchedContributors } from '../../src/server/contributorLauncher.ts';
import type { RunStatusSnapshot } from '../../src/server/runStatus.ts';
import type { TrafficSample } from '../../scripts/swarm-metrics.ts';
import { freePort, startJobServer, type JobServer } from './jobServer.ts';
import { createShapedLinks, launchShapedContributors, type ShapedLink } from './shapedNet.ts';

export type SwarmStatus = RunStatusSnapshot & { traffic: { bytesSent: number; bytesReceived: number } | null };

export interface SwarmRunOptions {
  /** Names the run in progress lines. */
  label: string;
  /** The job file. */
  job: string;
  contributors: number;
  /** A `vite build` output for the server to serve. */
  site: string;
  /** The server's output folder (checkpoints, ledger). */
  out: string;
  downMbit?: number;
  upMbit?: number;
  /** End the run after this much training (from the first contributor's hello) if the job is still running. */
  trainingCapMs?: number;
  /** End the run once this many rounds have closed since every contributor joined (the job itself unchanged, its schedule included). */
  stopAfterRounds?: number;
  /** End the run as stalled when no round closed for this long once a contributor is ready (default 120 s). */
  stallMs?: number;
  /** End the run as stalled when some contributor has not joined this long after the first did (default 180 s). */
  joinTimeoutMs?: number;
  /** How often /api/status is read (default 250 ms). */
  pollMs?: number;
  log: (line: string) => void;
}

/** What a run's ledger says about it. */
export interface LedgerFacts {
  /** The first lease granted: training starts there (pages and dataset are loaded before a contributor says hello). */
  firstLeaseAt: number | null;
  /** Entries per kind (leaseGranted, resultAccepted, resultDiscarded, banned, …). */
  kinds: Record<string, number>;
  /** Bans, rejected results and results discarded by a check (not replication's draws), as the ledger words them (the first few). */
  incidents: string[];
}

export interface SwarmRun {
  label: string;
  contributors: number;
  downMbit: number;
  upMbit: number;
  /** The last status read: state, rounds, evaluations, contributors. */
  status: SwarmStatus;
  /** True when trainingCapMs ended the run while the job still ran. */
  capped: boolean;
  /** Set when no round closed for stallMs (every contributor banned, say): the run was ended there. */
  stalled: string | null;
  /** Training start: the first lease granted (or, without a ledger, the first hello). */
  trainStartAt: number;
  /** The first round that opened with every contributor joined (null if some never did). */
  fullFromRound: number | null;
  samples: TrafficSample[];
  ledger: LedgerFacts;
  /** Each contributor page's compute backend (its kernel's name). */
  backends: string[];
  /** The server's lines that warn, fail or ban, and the pages' errors and warnings. */
  serverIncidents: string[];
  pageIncidents: string[];
}

/** Lines of the server's output worth a look: progress and evaluation lines are not. */
const INCIDENT = /warn|error|fail|ban|could not|bug|expired|refused|closed/i;
const MAX_INCIDENTS = 40;

/**
 * Runs `options.job` with `options.contributors` shaped browser contributors; `afterRun`, when
 * given, runs once the job ended (or was capped) while the server still serves its pages and
 * the contributors' browsers are still open (their pages, one per link), and its result is
 * returned beside the run's.
 */
export async function runShapedSwarm<T = undefined>(
  options: SwarmRunOptions,
  afterRun?: (ctx: { pages: Page[]; links: readonly ShapedLink[]; port: number }) => Promise<T>,
): Promise<{ run: SwarmRun; after: T | undefined }> {
  const { label, log } = options;
  const shaped = createShapedLinks(options.contributors, { downMbit: options.downMbit, upMbit: options.upMbit });
  const port = await freePort();
  const pageIncidents: string[] = [];
  let server: JobServer | null = null;
  let contributors: LaunchedContributors | null = null;
  const cleanups: (() => void)[] = [];
  try {
    server = await startJobServer({ job: options.job, port, out: options.out, fresh: true, extraArgs: ['--host', '0.0.0.0', '--site', options.site, '--stay'] });
    // A bench stopped by a signal exits without reaching `finally`: the server must not outlive it.
    const killServer = () => void server?.kill('SIGKILL');
    process.once('exit', killServer);
    cleanups.push(() => process.off('exit', killServer));
    const wire = () => shaped.links.reduce((s, l) => { const b = l.bytes(); return { down: s.down + b.down, up: s.up + b.up }; }, { down: 0, up: 0 });
    contributors = await launchEach(shaped.links, port, (line) => {
      log(`  [${label}] ${line}`);
      if (!/\] started$/.test(line) && pageIncidents.length < MAX_INCIDENTS) pageIncidents.push(line);
    });

    const samples: TrafficSample[] = [];
    const sample = (status: SwarmStatus): TrafficSample => ({
      at: status.now,
      round: status.round,
      joined: status.contributors.length,
      messages: { down: status.traffic?.bytesSent ?? 0, up: status.traffic?.bytesReceived ?? 0 },
      wire: wire(),
    });
    let status: SwarmStatus;
    let firstHello: number | null = null;
    let fullFromRound: number | null = null;
    let capped = false;
    let stalled: string | null = null;
    let lastRound = { round: -1, at: 0 };
    let lastProgress = Date.now();
    let lastPageCheck = Date.now();
    const restarts = new Map<number, number>();
    for (;;) {
      status = await readStatus(server, label);
      if (status.contributors.length && firstHello === null) {
        firstHello = Math.min(...status.contributors.map((c) => c.joinedAt));
        log(`  [${label}] first contributor ready ${((firstHello - status.startedAt) / 1000).toFixed(1)} s after the server started (pages and dataset over the link)`);
      }
      // Round r was running when the last one joined: round r + 1 is the first they all had from its start.
      if (fullFromRound === null && status.contributors.length >= options.contributors) fullFromRound = status.round + 1;
      if (samples.at(-1)?.round !== status.round) samples.push(sample(status));
      if (status.state !== 'running') break;
      if (options.stopAfterRounds !== undefined && fullFromRound !== null && status.rounds.length >= fullFromRound + options.stopAfterRounds) break;
      if (options.trainingCapMs !== undefined && firstHello !== null && status.now - firstHello >= options.trainingCapMs) {
        capped = true;
        break;
      }
      if (status.round !== lastRound.round) lastRound = { round: status.round, at: status.now };
      const stallMs = options.stallMs ?? 120_000;
      if (firstHello !== null && status.now - Math.max(lastRound.at, firstHello) >= stallMs) {
        const connected = status.contributors.filter((c) => c.connected).length;
        stalled = `no round closed for ${stallMs / 1000} s (round ${status.round} running, ${connected} of ${status.contributors.length} contributors connected)`;
        break;
      }
      // A page that gave up before joining (its backend did not start in time on a busy machine) is asked again, as a visitor would.
      if (fullFromRound === null && Date.now() - lastPageCheck >= 5000) {
        lastPageCheck = Date.now();
        await restartFailedPages(contributors.pages, restarts, (line) => {
          log(`  [${label}] ${line}`);
          if (pageIncidents.length < MAX_INCIDENTS) pageIncidents.push(line);
        });
      }
      const joinTimeoutMs = options.joinTimeoutMs ?? 180_000;
      if (fullFromRound === null && firstHello !== null && status.now - firstHello >= joinTimeoutMs) {
        stalled = `${status.contributors.length} of ${options.contributors} contributors joined within ${joinTimeoutMs / 1000} s of the first; the pages say: ${(await pagePhases(contributors.pages)).join(' | ')}`;
        break;
      }
      if (Date.now() - lastProgress >= 30_000) {
        lastProgress = Date.now();
        const e = status.evaluations.at(-1);
        const training = firstHello === null ? 'waiting for contributors' : `${((status.now - firstHello) / 1000).toFixed(0)} s training`;
        log(`  [${label}] ${training} · round ${status.round} · ${e ? `${(100 * e.accuracy).toFixed(2)}% (v${e.version})` : 'no evaluation yet'} · ${status.contributors.filter((c) => c.connected).length} connected · ${status.roundsPerMinute.toFixed(1)} rounds/min`);
      }
      await new Promise((r) => setTimeout(r, options.pollMs ?? 250));
    }
    samples.push(sample(status));
    // What the server said while the job ran (not the teardown's closed connections).
    const outputAtEnd = server.output();
    const ending = stalled
      ? `stalled: ${stalled}`
      : capped
        ? `capped after ${(options.trainingCapMs! / 60_000).toFixed(1)} min of training`
        : status.state === 'running'
          ? `ended after ${status.rounds.length} rounds as asked`
          : `ended ${status.state}: ${status.message}`;
    log(`  [${label}] ${ending} at round ${status.round}`);
    if (!capped && !stalled && status.state === 'failed') throw new Error(`[${label}] the job ended ${status.state}: ${status.message}\nserver output:\n${server.output().slice(-4000)}`);

    const backends = await Promise.all(
      contributors.pages.map((p) => p.evaluate(() => window.swarmgradContributor?.backend?.kernel ?? 'unknown').catch(() => 'unknown')),
    );
    // A stalled run has nothing to compare against.
    const after = afterRun && !stalled ? await afterRun({ pages: contributors.pages, links: shaped.links, port }) : undefined;
    await contributors.close();
    contributors = null;
    await server.kill('SIGTERM');
    const ledger = readLedger(options.out);
    const serverIncidents = outputAtEnd
      .split('\n')
      .filter((line) => INCIDENT.test(line))
      .slice(0, MAX_INCIDENTS);
    const run: SwarmRun = {
      label,
      contributors: options.contributors,
      downMbit: shaped.links[0].downMbit,
      upMbit: shaped.links[0].upMbit,
      status,
      capped,
      stalled,
      trainStartAt: ledger.firstLeaseAt ?? firstHello ?? status.startedAt,
      fullFromRound,
      samples,
      ledger,
      backends,
      serverIncidents,
      pageIncidents,
    };
    return { run, after };
  } finally {
    await contributors?.close().catch(() => {});
    await server?.kill('SIGKILL');
    for (const cleanup of cleanups) cleanup();
    shaped.close();
  }
}

/** Presses "Donate my GPU again" on each page that failed before it joined, at most twice per page. */
async function restartFailedPages(pages: Page[], restarts: Map<number, number>, log: (line: string) => void): Promise<void> {
  for (const [i, page] of pages.entries()) {
    const state = await page.evaluate(() => window.swarmgradContributor && { phase: window.swarmgradContributor.phase, message: window.swarmgradContributor.message, id: window.swarmgradContributor.contributorId }).catch(() => null);
    if (state?.phase !== 'failed' || state.id || (restarts.get(i) ?? 0) >= 2) continue;
    restarts.set(i, (restarts.get(i) ?? 0) + 1);
    log(`[contributor ${i + 1}] failed before joining (${state.message}); pressing "Donate my GPU again" (${restarts.get(i)} of 2)`);
    // The page's own click handler, without Playwright's wait for a stable element: a starved renderer may not paint for long.
    await page
      .evaluate(() => (document.getElementById('donate') as HTMLButtonElement).click())
      .catch((error: Error) => log(`[contributor ${i + 1}] could not press it: ${error.message.split('\n')[0]}`));
  }
}

/** Each contributor page's phase and message, or why it could not be read (a crashed page). */
function pagePhases(pages: Page[]): Promise<string[]> {
  return Promise.all(
    pages.map((p, i) =>
      p
        .evaluate(() => `${window.swarmgradContributor?.phase ?? 'no state'}: ${window.swarmgradContributor?.message ?? ''}`)
        .then((state) => `${i + 1} ${state}`)
        .catch((error: Error) => `${i + 1} unreadable (${error.message.split('\n')[0]})`),
    ),
  );
}

/**
 * launchShapedContributors one link at a time, each tried twice: on a busy machine a page
 * that opens while the others load the dataset and measure themselves can miss Playwright's
 * 30 s navigation timeout.
 */
async function launchEach(links: readonly ShapedLink[], port: number, log: (line: string) => void): Promise<LaunchedContributors> {
  const launched: LaunchedContributors[] = [];
  const all: LaunchedContributors = { pages: [], close: async () => void (await Promise.all(launched.map((l) => l.close()))) };
  try {
    for (const [i, link] of links.entries()) {
      // Each call numbers its one page "contributor 1": give it its place among all.
      const named = (line: string) => log(line.replace(/^\[contributor 1 /, `[contributor ${i + 1} `));
      const one = await launchShapedContributors([link], port, named).catch((error: Error) => {
        log(`[contributor ${i + 1} (${link.contributorAddress})] ${error.message}; trying once more`);
        return launchShapedContributors([link], port, named);
      });
      launched.push(one);
      all.pages.push(...one.pages);
    }
  } catch (error) {
    await all.close();
    throw error;
  }
  return all;
}

/** /api/status, read again after a failed read (a busy machine), until the server is seen to have exited. */
async function readStatus(server: JobServer, label: string): Promise<SwarmStatus> {
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await fetch(`${server.origin}/api/status`, { signal: AbortSignal.timeout(30_000) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return (await response.json()) as SwarmStatus;
    } catch (error) {
      const cause = (error as { cause?: Error }).cause;
      const why = `${(error as Error).message}${cause ? ` (${cause.message})` : ''}`;
      const exited = await Promise.race([server.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 2000))]);
      if (exited || attempt >= 5) throw new Error(`[${label}] /api/status failed ${attempt} times: ${why}; server output:\n${server.output().slice(-4000)}`);
    }
  }
}

/** The ledger of a finished run (`ledger.jsonl` in its output folder). */
export function readLedger(out: string): LedgerFacts {
  const file = join(out, 'ledger.jsonl');
  const facts: LedgerFacts = { firstLeaseAt: null, kinds: {}, incidents: [] };
  if (!existsSync(file)) return facts;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const entry = JSON.parse(line) as { kind: string; at: number; reason?: string; contributorId?: string; round?: number };
    facts.kinds[entry.kind] = (facts.kinds[entry.kind] ?? 0) + 1;
    if (entry.kind === 'leaseGranted' && facts.firstLeaseAt === null) facts.firstLeaseAt = entry.at;
    // A result drawn for replication is discarded by design (someone else recomputes it): not an incident.
    const incident = entry.kind === 'banned' || entry.kind === 'resultRejected' || (entry.kind === 'resultDiscarded' && !/^replication: drawn/.test(entry.reason ?? ''));
    if (incident && facts.incidents.length < MAX_INCIDENTS) facts.incidents.push(`${entry.kind} ${entry.contributorId ?? ''}${entry.round === undefined ? '' : ` round ${entry.round}`}: ${entry.reason ?? ''}`);
  }
  return facts;
}
