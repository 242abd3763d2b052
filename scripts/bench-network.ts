// The network row of `npm run bench`: one browser contributor training through the real
// server (relay, WebRTC, coordinator), against the same browser training locally on the same
// backend, side by side in one run. Reports examples/s both ways, their ratio, and the
// message bytes per round each way, for a few global batch sizes.
//
//   node --import tsx scripts/bench-network.ts --site DIR [--out FILE.json] [--backend-rate N]
//
// The local baseline is the faster of train.html's local training in the same browser and
// N, the backend's own training examples/s measured by the benchmark page in the same run.
// It re-runs itself inside ../shared/isolated-net when that exists: WebRTC stays on this
// machine. DIR is a `vite build` output (bench.mjs passes its own).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type Browser } from 'playwright-core';
import { freePort, startJobServer } from '../e2e/support/jobServer.ts';
import type { RunStatusSnapshot } from '../src/server/runStatus.ts';
import { chromiumArgs, chromiumPath } from './chromium.mjs';

const isolate = resolve('..', 'shared', 'isolated-net');
if (process.env.ISOLATED_NET_INSIDE !== '1' && existsSync(isolate)) {
  const rerun = spawnSync(isolate, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(rerun.status ?? 1);
}

/** The bar: through the network at least this fraction of local examples/s, at the largest global batch. */
export const NETWORK_BAR = 0.8;
const GLOBAL_BATCHES = [8192, 32768];
const ROUNDS = 14;
/** Rounds left out at the start: connection set-up, first parameters, JIT warm-up. */
const WARMUP_ROUNDS = 3;

type Status = RunStatusSnapshot & { traffic: { bytesSent: number; bytesReceived: number } | null };

export interface NetworkRow {
  globalBatch: number;
  rounds: number;
  networkExamplesPerSecond: number;
  localExamplesPerSecond: number;
  ratio: number;
  bytesDownPerRound: number;
  bytesUpPerRound: number;
  backend: string;
}

function benchJob(globalBatch: number) {
  return {
    name: `bench network B=${globalBatch}`,
    model: { widths: [784, 256, 128, 10], activation: 'relu' },
    data: { dataset: 'fashion-mnist', testExamples: 1000 },
    optimizer: { kind: 'adamw', lr: 0.002 },
    globalBatch,
    // One lease per round and contributor: its share, computed in device-sized chunks.
    lease: { minExamples: 16, maxExamples: 65536, targetSeconds: 30, timeoutMs: 120_000 },
    stop: { rounds: ROUNDS },
    evaluateEvery: 10_000,
    checkpointEvery: 10_000,
    seed: 1,
  };
}

async function networkRun(browser: Browser, site: string, globalBatch: number, work: string, backendRate: number) {
  const jobFile = join(work, `job-${globalBatch}.json`);
  writeFileSync(jobFile, JSON.stringify(benchJob(globalBatch)));
  const server = await startJobServer({ job: jobFile, port: await freePort(), out: join(work, `run-${globalBatch}`), fresh: true, extraArgs: ['--site', site, '--stay'] });
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${server.origin}/`);
    await page.getByRole('button', { name: 'Donate my GPU' }).click();
    // Traffic is sampled as each round closes, so that bytes can be attributed to rounds.
    const samples: { round: number; traffic: NonNullable<Status['traffic']> }[] = [];
    let status: Status;
    for (;;) {
      status = (await (await fetch(`${server.origin}/api/status`)).json()) as Status;
      if (status.traffic && samples.at(-1)?.round !== status.round) samples.push({ round: status.round, traffic: status.traffic });
      if (status.state !== 'running') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    if (status.state !== 'done') throw new Error(`the network run ended ${status.state}: ${status.message}`);
    const rounds = status.rounds;
    const first = rounds[WARMUP_ROUNDS - 1];
    const measured = rounds.slice(WARMUP_ROUNDS);
    const examples = measured.reduce((s, r) => s + r.examples, 0);
    const networkExamplesPerSecond = (examples / (rounds.at(-1)!.at - first.at)) * 1000;
    const a = samples.find((s) => s.round >= WARMUP_ROUNDS) ?? samples[0];
    const b = samples.at(-1)!;
    const span = Math.max(1, b.round - a.round);
    const backend = (await page.evaluate(() => window.swarmgradContributor?.backend?.kernel)) ?? 'unknown';
    await context.close(); // nothing of the contributor may run beside the local measurement
    const local = Math.max(await localRun(browser, server.origin), backendRate);
    return {
      globalBatch,
      rounds: measured.length,
      networkExamplesPerSecond,
      localExamplesPerSecond: local,
      ratio: networkExamplesPerSecond / local,
      bytesDownPerRound: (b.traffic.bytesSent - a.traffic.bytesSent) / span,
      bytesUpPerRound: (b.traffic.bytesReceived - a.traffic.bytesReceived) / span,
      backend,
    } satisfies NetworkRow;
  } finally {
    await context.close();
    await server.kill('SIGTERM');
  }
}

/**
 * The same browser training locally (train.html, backend chosen the same way): the best
 * training examples/s of batch 128 and 4096, so that the network is judged against the
 * faster local setting.
 */
async function localRun(browser: Browser, origin: string): Promise<number> {
  let best = 0;
  for (const batch of [128, 4096]) {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${origin}/train.html`);
      await page.waitForFunction(() => !(document.getElementById('start') as HTMLButtonElement | null)?.disabled, null, { timeout: 120_000 });
      await page.getByLabel('Training examples').fill('60000');
      await page.getByLabel('Epochs').fill('1');
      await page.getByLabel('Batch').fill(String(batch));
      await page.getByRole('button', { name: 'Train' }).click();
      await page.waitForFunction(() => ['done', 'failed'].includes(window.swarmgradLocalRun?.state ?? ''), null, { timeout: 300_000 });
      const run = await page.evaluate(() => window.swarmgradLocalRun!);
      if (run.state !== 'done' || !run.summary) throw new Error(`local training failed: ${run.error}`);
      console.log(`  local training, batch ${batch}: ${Math.round(run.summary.examplesPerSecond)} examples/s`);
      best = Math.max(best, run.summary.examplesPerSecond);
    } finally {
      await context.close();
    }
  }
  return best;
}

export function networkTable(rows: NetworkRow[]): string {
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const kib = (x: number) => `${(x / 1024).toFixed(0)} KiB`;
  const lines = [
    '| global batch | network examples/s | local examples/s | network / local | bytes down per round | bytes up per round | backend |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows.map(
      (r) =>
        `| ${n(r.globalBatch)} | ${n(r.networkExamplesPerSecond)} | ${n(r.localExamplesPerSecond)} | ${(100 * r.ratio).toFixed(0)}% | ${kib(r.bytesDownPerRound)} | ${kib(r.bytesUpPerRound)} | ${r.backend} |`,
    ),
  ];
  return lines.join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { site: { type: 'string', default: 'dist' }, out: { type: 'string' }, 'backend-rate': { type: 'string', default: '0' } } });
  const backendRate = Number(values['backend-rate']);
  if (!(backendRate >= 0)) throw new Error(`--backend-rate must be a number of examples/s, got ${values['backend-rate']}`);
  if (backendRate > 0) console.log(`  local baseline floor: the CPU backend's training rate from the page, ${Math.round(backendRate)} examples/s`);
  const site = resolve(values.site!);
  if (!existsSync(join(site, 'train.html'))) throw new Error(`${site} has no built pages: run \`npx vite build\` first`);
  const work = mkdtempSync(join(tmpdir(), 'swarmgrad-bench-net-'));
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: chromiumArgs() });
  try {
    const rows: NetworkRow[] = [];
    for (const globalBatch of GLOBAL_BATCHES) {
      console.log(`network: one contributor, global batch ${globalBatch}, ${ROUNDS} rounds…`);
      rows.push(await networkRun(browser, site, globalBatch, work, backendRate));
    }
    const largest = rows.at(-1)!;
    const check = {
      id: 'network-vs-local',
      description: `one contributor through the network ≥ ${100 * NETWORK_BAR}% of the same browser training locally (global batch ${largest.globalBatch})`,
      pass: largest.ratio >= NETWORK_BAR,
      detail: `${(100 * largest.ratio).toFixed(0)}%`,
    };
    console.log(`\nNetwork (one contributor, same browser)\n${networkTable(rows)}\n`);
    console.log(`${check.pass ? 'PASS' : 'FAIL'} ${check.description}: ${check.detail}`);
    if (values.out) writeFileSync(values.out, JSON.stringify({ rows, checks: [check] }, null, 2) + '\n');
    return check.pass ? 0 : 1;
  } finally {
    await browser.close();
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`network bench failed: ${(error as Error).stack ?? error}`);
    process.exit(2);
  },
);
