// The trust acceptance test: the real server, three honest browser contributors and one
// malicious Node contributor at a time (1 in 4), cycling through every cheat in
// src/testing/cheats.ts. Each cheater joins with its own key, behaves for its first results,
// then cheats until the coordinator bans it (an error 'banned'); banned, it tries to come back
// with the same key and must be refused. Then: every cheater was banned, no cheating result
// was counted, the job reached its end, and its final test accuracy is within 1 point of a
// clean run of the same job (exactly-once scheduling makes the aggregate independent of who
// computed what, up to float summation order). Runs inside ../shared/isolated-net.
//
// The clean run is the same job through the real Coordinator with honest simulated
// contributors in one Node process (scripts/simulate-job.ts): the aggregate it reaches is what
// any honest swarm reaches. SWARMGRAD_ADVERSARIAL_CLEAN=browsers runs it with the same real
// browsers and an honest Node contributor instead (minutes longer).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Browser, type BrowserContext } from '@playwright/test';
import type { DatasetSplits } from '../src/data/dataset.ts';
import { loadFashionMnistFromDir } from '../src/data/fashionMnistNode.ts';
import type { RunStatusSnapshot } from '../src/server/runStatus.ts';
import { Adversary, type AdversaryReport } from '../src/testing/adversary.ts';
import { CHEAT_MODES } from '../src/testing/cheats.ts';
import { freePort, startJobServer, type JobServer } from './support/jobServer.ts';

const CLEAN_RUN = process.env.SWARMGRAD_ADVERSARIAL_CLEAN ?? 'simulated';
/** SWARMGRAD_ADVERSARIAL_ROUNDS=480 is the long run (`npm run bench` runs it with the browser clean run). */
const JOB_FILE = ((): string => {
  const rounds = process.env.SWARMGRAD_ADVERSARIAL_ROUNDS;
  if (!rounds) return 'e2e/jobs/adversarial.json';
  if (!/^\d+$/.test(rounds) || Number(rounds) < 1) throw new Error(`SWARMGRAD_ADVERSARIAL_ROUNDS must be a whole number of rounds, got ${rounds}`);
  const job = JSON.parse(readFileSync('e2e/jobs/adversarial.json', 'utf8'));
  const file = join(mkdtempSync(join(tmpdir(), 'swarmgrad-e2e-adversarial-job-')), 'adversarial.json');
  writeFileSync(file, JSON.stringify({ ...job, stop: { rounds: Number(rounds) } }));
  return file;
})();
const HONEST_BROWSERS = 3;
/**
 * Honest results before a cheater starts cheating, so that detection cannot key on a first result.
 * Some modes cannot cheat on their next result after these: stale needs a second parameter
 * version, replay an earlier result of the same size, steal a neighbour's lease; they answer
 * honestly until they can. The job's probation (every result of a new key spot-checked) is 16
 * results so that the first cheat of every mode falls inside it whatever the timing; a cheater
 * patient beyond probation meets only screening and the sampled checks (5% spot checks, 10%
 * replication), each unit-tested in src/coordinator/verification.test.ts.
 */
const HONEST_FIRST = 2;
/**
 * A cheater goes on until it is banned, or until it has cheated this often unbanned (then it
 * counts as not banned and the next one comes): every cheat inside probation is spot-checked,
 * so the first one must ban. Not a time limit: a slow machine only makes each turn longer.
 */
const MAX_CHEATS_UNBANNED = 4;

// Every mode has had its turn by round ~40 of the job's 160 (about 1.5 min on 2 cores).
test.describe.configure({ timeout: (process.env.SWARMGRAD_ADVERSARIAL_ROUNDS ? 30 : 12) * 60_000 });

interface RunOutcome {
  summary: { status: string; rounds: number; examples: number; finalTestAccuracy: number; coverage: { exact: boolean } };
  cheaters: AdversaryReport[];
  seconds: number;
}

const servers: JobServer[] = [];
const dirs: string[] = [];
let dataset: DatasetSplits | null = null;

test.afterEach(async ({}, testInfo) => {
  if (testInfo.status !== testInfo.expectedStatus) {
    const log = servers.map((s, i) => `--- server ${i + 1} ---\n${s.output()}`).join('\n');
    await testInfo.attach('server output', { body: log, contentType: 'text/plain' });
  }
  for (const s of servers) await s.kill('SIGKILL');
  servers.length = 0;
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.length = 0;
});

async function honestBrowser(browser: Browser, origin: string): Promise<BrowserContext> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`[contributor page] ${error.message}`));
  await page.goto(`${origin}/`);
  await page.getByRole('button', { name: 'Donate my GPU' }).click();
  return context;
}

async function status(server: JobServer): Promise<RunStatusSnapshot> {
  return (await (await fetch(`${server.origin}/api/status`)).json()) as RunStatusSnapshot;
}

/**
 * One run of the job: three honest browsers, and a fourth contributor in Node that is
 * either honest all along (clean) or a sequence of cheaters, one mode after another.
 */
async function runJob(browser: Browser, adversarial: boolean): Promise<RunOutcome> {
  const started = Date.now();
  const out = mkdtempSync(join(tmpdir(), 'swarmgrad-e2e-adversarial-'));
  dirs.push(out);
  const server = await startJobServer({ job: JOB_FILE, port: await freePort(), out, fresh: true });
  servers.push(server);
  dataset ??= await loadFashionMnistFromDir();
  const log = (line: string) => console.log(line);
  const contexts: BrowserContext[] = [];
  for (let i = 0; i < HONEST_BROWSERS; i++) contexts.push(await honestBrowser(browser, server.origin));
  // The fourth contributor joins once the three browsers compute, so that it gets a quarter of the work, not all of it.
  const deadline = Date.now() + 90_000;
  while ((await status(server)).contributors.filter((c) => c.connected && c.tasks > 0).length < HONEST_BROWSERS) {
    if (Date.now() > deadline) throw new Error(`the ${HONEST_BROWSERS} browsers did not all compute within 90 s:\n${server.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const cheaters: AdversaryReport[] = [];
  let running = true;
  void server.exited.then(() => (running = false));

  if (!adversarial) {
    // Honest all along: the same four-way split of the work as the adversarial run.
    const honest = new Adversary({ origin: server.origin, mode: 'zeros', honestFirst: Number.POSITIVE_INFINITY, train: dataset.train, log });
    await honest.start();
    await server.exited;
    honest.stop();
  } else {
    for (const [i, mode] of CHEAT_MODES.entries()) {
      if (!running) {
        console.log(`adversarial e2e: the job ended before mode ${mode} could join`);
        break;
      }
      const cheater = new Adversary({ origin: server.origin, mode, honestFirst: HONEST_FIRST, train: dataset.train, seed: i + 1, log });
      await cheater.start();
      const report = await cheater.waitBanned({ maxCheats: MAX_CHEATS_UNBANNED });
      if (report.banned && running) await cheater.tryRejoin().catch((error) => log(`[adversary ${mode}] rejoin: ${(error as Error).message}`));
      cheater.stop('next cheater');
      cheaters.push(structuredClone(report));
      const s = await status(server).catch(() => null);
      console.log(
        `adversarial e2e: ${mode}: ${report.honestResults} honest, ${report.cheats} cheats, ${report.cheatsAccepted.length} cheats accepted, ` +
          `banned ${report.banned ? `${report.banned.how} after ${report.banned.at - (report.firstCheatAt ?? report.banned.at)} ms` : 'NO'}, ` +
          `rejoin refused ${report.rejoinRefused}, errors ${JSON.stringify([...new Set(report.errors.map((e) => e.code))])}, round ${s?.round ?? '?'}`,
      );
    }
  }
  const code = await server.exited;
  for (const context of contexts) await context.close();
  expect(code, server.output()).toBe(0);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as RunOutcome['summary'];
  return { summary, cheaters, seconds: (Date.now() - started) / 1000 };
}

/** The same job with honest simulated contributors: the real Coordinator, real data, CPU gradients. */
function simulatedCleanRun(): RunOutcome {
  const started = Date.now();
  const out = mkdtempSync(join(tmpdir(), 'swarmgrad-e2e-clean-'));
  dirs.push(out);
  const file = join(out, 'summary.json');
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/simulate-job.ts', '--job', JOB_FILE, '--speeds', '3000,3000,3000,3000', '--out', file], { encoding: 'utf8' });
  expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
  const r = JSON.parse(readFileSync(file, 'utf8')) as { rounds: number; examples: number; finalTestAccuracy: number; coverageExact: boolean };
  return { summary: { status: 'done', rounds: r.rounds, examples: r.examples, finalTestAccuracy: r.finalTestAccuracy, coverage: { exact: r.coverageExact } }, cheaters: [], seconds: (Date.now() - started) / 1000 };
}

test('with 1 in 4 contributors malicious, every cheater is banned, no poison is counted, and accuracy matches a clean run', async ({ browser }) => {
  const clean = CLEAN_RUN === 'browsers' ? await runJob(browser, false) : simulatedCleanRun();
  console.log(`adversarial e2e: clean run (${CLEAN_RUN}) ${clean.summary.rounds} rounds, accuracy ${(100 * clean.summary.finalTestAccuracy).toFixed(2)}%, ${clean.seconds.toFixed(0)} s`);
  const attacked = await runJob(browser, true);
  console.log(`adversarial e2e: attacked run ${attacked.summary.rounds} rounds, accuracy ${(100 * attacked.summary.finalTestAccuracy).toFixed(2)}%, ${attacked.seconds.toFixed(0)} s`);

  expect(clean.summary.status).toBe('done');
  expect(attacked.summary.status).toBe('done');
  expect(attacked.summary.rounds).toBe(clean.summary.rounds);
  expect(attacked.summary.coverage.exact).toBe(true);
  // Every mode got its turn while the job ran, and actually cheated.
  expect(attacked.cheaters.map((c) => c.mode)).toEqual([...CHEAT_MODES]);
  for (const c of attacked.cheaters) expect.soft(c.cheats, `${c.mode} cheated`).toBeGreaterThan(0);
  // The trust guarantees, soft so that one run reports every mode.
  for (const c of attacked.cheaters) {
    expect.soft(c.banned, `${c.mode} was banned`).not.toBeNull();
    expect.soft(c.rejoinRefused, `${c.mode}'s key was refused when it came back`).toBe(true);
    expect.soft(c.cheatsAccepted, `${c.mode}: cheating results counted`).toEqual([]);
  }
  expect(Math.abs(attacked.summary.finalTestAccuracy - clean.summary.finalTestAccuracy)).toBeLessThanOrEqual(0.01);
});
