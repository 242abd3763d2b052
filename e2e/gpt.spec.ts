// A next-token job end to end: the real `npm start` server reads a text (the first 60,000
// characters of Tiny Shakespeare, written beside the job file), two real Chromium contributors
// train a small GPT on its windows by local steps, the dashboard plots training and validation
// loss and shows the text the model writes, the job stops at its validation-loss target, and
// the exported ONNX model carries the vocabulary and gives our logits in onnxruntime-web.
// Runs inside ../shared/isolated-net via `node scripts/e2e.mjs`.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, test, type Browser, type Page } from '@playwright/test';
import * as ort from 'onnxruntime-web';
import { CpuModel } from '../src/cpu/cpuModel.ts';
import { gptSpec } from '../src/model/layers/gpt.ts';
import { resolveModel } from '../src/model/layers/spec.ts';
import { VOCABULARY_METADATA_KEY } from '../src/model/onnx.ts';
import { onnx } from '../src/model/onnxProto.ts';
import { freePort, startJobServer, type JobServer } from './support/jobServer.ts';

const CONTEXT = 32;
const MODEL = gptSpec({ layers: 1, heads: 2, features: 32, context: CONTEXT, vocabulary: 65 });
const TARGET_LOSS = 2.5;

test.describe.configure({ timeout: 6 * 60_000 });

let dir = '';
let server: JobServer | null = null;

test.beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'swarmgrad-e2e-gpt-'));
  const text = readFileSync(resolve('datasets/tinyshakespeare/input.txt'), 'utf8').slice(0, 60_000);
  writeFileSync(join(dir, 'input.txt'), text);
  const job = {
    name: 'e2e char GPT',
    model: MODEL,
    data: { kind: 'text', file: 'input.txt', testExamples: 120 },
    optimizer: { kind: 'adamw', lr: 0.003, beta2: 0.99, weightDecay: 0.1, maxGradNorm: 1, schedule: { warmupSteps: 3, decay: 'cosine', finalLrFraction: 0.1 } },
    sync: { mode: 'local-steps', innerSteps: 4, innerBatch: 8 },
    compression: { up: { scheme: 'int8' }, down: { scheme: 'int8' } },
    globalBatch: 64,
    lease: { minExamples: 1, maxExamples: 32, targetSeconds: 1, timeoutMs: 20_000 },
    stop: { epochs: 12, targetLoss: TARGET_LOSS },
    sample: { prompt: 'ROMEO:', length: 80 },
    evaluateEvery: 5,
    checkpointEvery: 5,
    seed: 5,
  };
  writeFileSync(join(dir, 'job.json'), JSON.stringify(job, null, 2));
});

test.afterEach(async ({}, testInfo) => {
  if (server && testInfo.status !== testInfo.expectedStatus) {
    await testInfo.attach('server output', { body: server.output(), contentType: 'text/plain' });
    console.error(server.output());
  }
  await server?.kill('SIGKILL');
  server = null;
});

test.afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function contributor(browser: Browser, origin: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  page.on('pageerror', (error) => console.error(`[contributor page] ${error.message}`));
  await page.goto(`${origin}/`);
  await page.getByRole('button', { name: 'Donate my GPU' }).click();
  return page;
}

test('two browsers train a char GPT on a text to its validation loss; the dashboard shows both losses and its writing; the export keeps the vocabulary', async ({ browser }) => {
  const out = join(dir, 'run');
  server = await startJobServer({ job: join(dir, 'job.json'), port: await freePort(), out, fresh: true });
  expect(server.output()).toMatch(/data: input\.txt: 60,000 characters, \d+ distinct; 54,000 train and 6,000 validation tokens, windows of 32/);

  const pages = [await contributor(browser, server.origin), await contributor(browser, server.origin)];
  const dashboard = await browser.newPage();
  await dashboard.goto(`${server.origin}/dashboard.html`);
  // The first evaluation brings a validation loss, the training loss beside it, and a text.
  await dashboard.waitForFunction(() => {
    const s = window.swarmgradDashboard;
    return !!s && s.samples.length > 0 && s.evaluations.some((e) => e.trainLoss != null);
  }, undefined, { timeout: 180_000 });
  await expect(dashboard.locator('#accuracy-title')).toHaveText('Training and validation loss');
  await expect(dashboard.locator('#run-facts')).toContainText(/Latest validation loss\s*\d\.\d{4} at version \d+ \(target 2\.5\)/);
  await expect(dashboard.locator('#sample-panel')).toBeVisible();
  await expect(dashboard.locator('#sample-facts')).toContainText('80 characters after the prompt "ROMEO:", temperature 0.8');
  const shown = await dashboard.locator('#sample').textContent();
  expect(shown?.startsWith('ROMEO:')).toBe(true);
  expect([...shown!.slice('ROMEO:'.length)]).toHaveLength(80);
  await dashboard.close();

  const code = await server.exited;
  expect(code, server.output()).toBe(0);
  for (const page of pages) await page.close();
  type Summary = {
    stopReason: string; finalTestLoss: number; coverage: { exact: boolean }; vocabulary: string[];
    losses: { version: number; trainLoss: number | null; testLoss: number }[];
    sample: { version: number; prompt: string; text: string; temperature: number };
    contributors: { examples: number }[];
  };
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
  expect(summary.stopReason).toBe('target-loss');
  expect(summary.finalTestLoss).toBeLessThanOrEqual(TARGET_LOSS);
  expect(summary.coverage.exact).toBe(true);
  expect(summary.contributors.filter((c) => c.examples > 0)).toHaveLength(2);
  // Both curves, and a model that learned: the validation loss fell from the uniform guess of ln 65 ≈ 4.17.
  expect(summary.losses.length).toBeGreaterThanOrEqual(2);
  expect(summary.losses.every((p) => p.trainLoss !== null && p.trainLoss > 0)).toBe(true);
  expect(summary.losses[0].testLoss).toBeGreaterThan(summary.losses.at(-1)!.testLoss);
  // The vocabulary is the text's, sorted; the final sample is written in it.
  const text = readFileSync(join(dir, 'input.txt'), 'utf8');
  expect(summary.vocabulary).toEqual([...new Set(text)].sort());
  expect(summary.sample).toMatchObject({ prompt: 'ROMEO:', temperature: 0.8 });
  expect([...summary.sample.text].every((c) => summary.vocabulary.includes(c))).toBe(true);
  console.log(`gpt e2e: validation loss ${summary.losses.map((p) => `${p.testLoss.toFixed(3)} (v${p.version})`).join(", ")}; it writes:\n${summary.sample.prompt}${summary.sample.text}`);

  // The export: the vocabulary travels in its metadata, and onnxruntime-web gives our logits.
  const bytes = readFileSync(join(out, 'model.onnx'));
  const metadata = onnx.ModelProto.decode(bytes).metadataProps;
  expect(JSON.parse(metadata.find((p) => p.key === VOCABULARY_METADATA_KEY)!.value!)).toEqual(summary.vocabulary);
  const raw = readFileSync(join(out, 'parameters.f32'));
  const params = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const ids = [...text.slice(1000, 1000 + 2 * CONTEXT)].map((c) => summary.vocabulary.indexOf(c));
  const cpu = await CpuModel.create(resolveModel(MODEL), { threads: 1 });
  cpu.setParameters(params);
  const ours = await cpu.logits(Float32Array.from(ids), 2);
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(bytes);
  const result = await session.run({ input: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [2, CONTEXT]) });
  const theirs = result.logits.data as Float32Array;
  expect(theirs.length).toBe(ours.length);
  let worst = 0;
  for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i] - theirs[i]) / (1e-3 + Math.abs(ours[i])));
  expect(worst).toBeLessThan(1e-3);
  await session.release();
});
