// The volunteer network end to end: the real `npm start` server (relay + coordinator +
// pages) and three real Chromium contributors pressing "Donate my GPU". One contributor is
// closed while it computes, one joins late, and the coordinator is SIGKILLed mid-run and
// restarted from its checkpoint; the pages reconnect by themselves. The job must still count
// every example of every round exactly once, reach its accuracy, and export an ONNX model
// that onnxruntime-web runs to the same predictions as our forward pass.
// Runs inside ../shared/isolated-net via `node scripts/e2e.mjs` (WebRTC stays on loopback).

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Browser, type Page } from '@playwright/test';
import * as ort from 'onnxruntime-web';
import { CpuModel } from '../src/cpu/cpuModel.ts';
import { loadFashionMnistFromDir } from '../src/data/fashionMnistNode.ts';
import { resolveModel } from '../src/model/layers/spec.ts';
import { mlpLayout } from '../src/model/mlp.ts';
import type { RunStatusSnapshot } from '../src/server/runStatus.ts';
import { verifyLog } from '../src/ledger/verify.ts';
import { sha256 } from '../src/server/ledgerFile.ts';
import { nodeVerifier } from '../src/server/nodeSigning.ts';
import { freePort, startJobServer, type JobServer } from './support/jobServer.ts';

const JOB_FILE = 'e2e/jobs/network.json';
const JOB = JSON.parse(readFileSync(JOB_FILE, 'utf8')) as { model: { widths: number[]; activation: 'relu' | 'gelu' }; stop: { targetAccuracy: number } };

test.describe.configure({ timeout: 8 * 60_000 });

let out = '';
let server: JobServer | null = null;
const servers: JobServer[] = [];

test.beforeEach(() => {
  out = mkdtempSync(join(tmpdir(), 'swarmgrad-e2e-run-'));
});

test.afterEach(async ({}, testInfo) => {
  if (testInfo.status !== testInfo.expectedStatus) {
    const log = servers.map((s, i) => `--- server ${i + 1} ---\n${s.output()}`).join('\n');
    await testInfo.attach('server output', { body: log, contentType: 'text/plain' });
    console.error(log);
  }
  for (const s of servers) await s.kill('SIGKILL');
  servers.length = 0;
  rmSync(out, { recursive: true, force: true });
});

async function start(port: number, fresh: boolean): Promise<JobServer> {
  server = await startJobServer({ job: JOB_FILE, port, out, fresh });
  servers.push(server);
  return server;
}

async function status(): Promise<RunStatusSnapshot> {
  const response = await fetch(`${server!.origin}/api/status`);
  return (await response.json()) as RunStatusSnapshot;
}

async function until<T>(what: string, probe: () => Promise<T | false>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => false as const);
    if (value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A new visitor: its own browser context (storage, worker, peer), consent pressed. */
async function contributor(browser: Browser): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`[contributor page] ${error.message}`));
  await page.goto(`${server!.origin}/`);
  await page.getByRole('button', { name: 'Donate my GPU' }).click();
  return page;
}

const checkpoints = () => readdirSync(join(out, 'checkpoints')).filter((f) => f.endsWith('.sgck')).length;

test('three contributors, one leaving mid-round and one joining late, survive a coordinator kill and finish the job exactly once', async ({ browser }) => {
  const port = await freePort();
  await start(port, true);

  const first = await contributor(browser);
  const second = await contributor(browser);
  await until('round 6', async () => (await status()).round >= 6 || false);

  const late = await contributor(browser);
  await until('the late contributor to compute', () => late.evaluate(() => (window.swarmgradContributor?.tasks ?? 0) > 0));
  // Its page shows the job's progress, the others computing beside it and its share.
  await expect(late.locator('#progress-facts')).toContainText(/Contributing now\s*you and 2 others/, { timeout: 15_000 });
  await expect(late.locator('#progress-facts')).toContainText(/Round\s*\d+/);
  await expect(late.locator('#progress-facts')).toContainText(/Estimated time left\s*ETA \S+ \(round \d+, or 84\.5% first\) at [\d,]+ examples\/s/);
  await expect(late.locator('#progress-facts')).toContainText(/Your share\s*\d+\.\d% of the [\d,]+ examples counted in this run/);

  // The owner's dashboard sees all three with their throughput.
  const dashboard = await browser.newPage();
  await dashboard.goto(`${server!.origin}/dashboard.html`);
  await dashboard.waitForFunction(() => {
    const s = window.swarmgradDashboard;
    return !!s && s.contributors.filter((c) => c.connected && c.tasks > 0).length >= 3 && s.rounds.length > 0;
  });
  await expect(dashboard.locator('#contributors')).toContainText('cpu');
  // …when the job should end at this pace, and how much of the time the contributors compute.
  await expect(dashboard.locator('#run-facts')).toContainText(/Estimated time left\s*ETA \d+(s|m\d\ds|h\d\dm) \(round \d+, or 84\.5% first\)/);
  await expect(dashboard.locator('#run-facts')).toContainText(/Contributors computing\s*\d+% of the time, waiting \d+%/);
  // …and the ledger's newest signed head, its signature checked in the browser.
  await expect(dashboard.locator('#ledger-facts')).toContainText('verified in this browser with the coordinator key');
  await dashboard.close();

  // Close the first contributor while it holds a lease: its micro-batch must go to someone else.
  const firstId = await until('the first contributor to be computing', () =>
    first.evaluate(() => (window.swarmgradContributor?.computing ? window.swarmgradContributor.contributorId : false)),
  );
  await first.context().close();
  await until('the coordinator to see the first contributor leave', async () => {
    const s = await status();
    return s.contributors.some((c) => c.id === firstId && !c.connected) || false;
  });

  // Kill the coordinator without warning once it has written a checkpoint past the departure.
  const roundAtDeparture = (await status()).round;
  await until('a later checkpoint', async () => (await status()).round >= roundAtDeparture + 6 && checkpoints() >= 2);
  const killedAt = (await status()).round;
  expect(await server!.kill('SIGKILL')).toBeNull();

  await start(port, false);
  expect(server!.output()).toMatch(/resuming from .* \(round \d+\)/);
  const resumedRound = Number(/resuming from .* \(round (\d+)\)/.exec(server!.output())![1]);
  expect(resumedRound).toBeLessThanOrEqual(killedAt);

  // The remaining pages reconnect by themselves and the job runs to its end.
  const code = await server!.exited;
  expect(code, server!.output()).toBe(0);
  for (const page of [second, late]) {
    expect(await page.evaluate(() => window.swarmgradContributor?.tasks ?? 0)).toBeGreaterThan(0);
  }

  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  expect(summary.status).toBe('done');
  expect(summary.coverage.exact).toBe(true);
  expect(summary.coverage.examples).toBe(summary.examples);
  expect(summary.rounds).toBeGreaterThan(killedAt);
  expect(summary.finalTestAccuracy).toBeGreaterThanOrEqual(JOB.stop.targetAccuracy);
  const credited = (summary.contributors as { id: string; examples: number }[]).filter((c) => c.examples > 0);
  expect(credited.length).toBeGreaterThanOrEqual(3);
  expect(credited.map((c) => c.id)).toContain(firstId);

  // The transparency log survived the kill: it verifies end to end with the coordinator's key,
  // and the pages hold receipts for their counted results that they checked themselves.
  const coordinatorKey = (JSON.parse(readFileSync(join(out, 'coordinator.pub'), 'utf8')) as { publicKey: string }).publicKey;
  const log = await verifyLog(readFileSync(join(out, 'ledger.jsonl'), 'utf8'), readFileSync(join(out, 'ledger-heads.jsonl'), 'utf8'), {
    hash: sha256,
    verifier: nodeVerifier,
    expectedKey: coordinatorKey,
  });
  expect(log.unsigned).toBe(0);
  expect(log.kinds.roundClosed).toBeGreaterThanOrEqual(summary.rounds);
  for (const page of [second, late]) {
    const credit = await page.evaluate(() => window.swarmgradContributor!.credit);
    expect(credit.failed).toBe(0);
    expect(credit.receipts).toBeGreaterThan(0);
  }
  const receipts = await second.evaluate(() => window.swarmgradContributor!.credit.receipts);

  console.log(
    `network e2e: ${summary.rounds} rounds, ${summary.examples} examples, killed at round ${killedAt}, resumed from ${resumedRound}, ` +
      `test accuracy ${(100 * summary.finalTestAccuracy).toFixed(2)}%, ${credited.length} contributors credited; ` +
      `ledger ${log.size} entries under ${log.heads.length} signed heads, verified; ${receipts} receipts verified by one page`,
  );

  // The exported model runs in onnxruntime-web and predicts what our forward pass predicts.
  const layout = mlpLayout(JOB.model);
  const raw = readFileSync(join(out, 'parameters.f32'));
  const params = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  expect(params.length).toBe(layout.total);
  const { test: testSet } = await loadFashionMnistFromDir();
  const rows = 64;
  const input = new Float32Array(rows * 784);
  for (let i = 0; i < input.length; i++) input[i] = testSet.images[i] / 255;
  const cpu = await CpuModel.create(resolveModel(JOB.model), { threads: 1 });
  cpu.setParameters(params);
  const ours = await cpu.logits(input, rows);
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(readFileSync(join(out, 'model.onnx')));
  const result = await session.run({ input: new ort.Tensor('float32', input, [rows, 784]) });
  const theirs = result.logits.data as Float32Array;
  expect(theirs.length).toBe(ours.length);
  let worst = 0;
  for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i] - theirs[i]) / (1e-3 + Math.abs(ours[i])));
  expect(worst).toBeLessThan(1e-3);
  const argmax = (v: Float32Array, r: number) => {
    const row = v.subarray(r * 10, r * 10 + 10);
    return row.indexOf(Math.max(...row));
  };
  for (let r = 0; r < rows; r++) expect(argmax(theirs, r)).toBe(argmax(ours, r));
  await session.release();
});
