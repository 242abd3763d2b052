// A job on the owner's own .npy files, end to end: the real `npm start` server reads them
// (float32 pixels/255 for training, uint8 for test, int64/uint8 labels: the first 3,000 and
// 1,000 Fashion-MNIST examples, written to a temporary folder beside the job file), serves
// them in swarmgrad-u8 form, and one real Chromium contributor fetches that form, trains
// and reaches the job's target. Runs inside ../shared/isolated-net via `node scripts/e2e.mjs`.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { loadFashionMnistFromDir } from '../src/data/fashionMnistNode.ts';
import { encodeNpy } from '../src/data/npy.ts';
import type { JobAnnouncement } from '../src/server/httpApi.ts';
import { freePort, startJobServer, type JobServer } from './support/jobServer.ts';

const TRAIN = 3000;
const TEST = 1000;

test.describe.configure({ timeout: 4 * 60_000 });

let dir = '';
let server: JobServer | null = null;

test.beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'swarmgrad-e2e-npy-'));
  const { train, test: testSplit } = await loadFashionMnistFromDir();
  const pixels = train.images.subarray(0, TRAIN * 784);
  writeFileSync(join(dir, 'train-x.npy'), encodeNpy('f4', [TRAIN, 1, 28, 28], Float32Array.from(pixels, (p) => p / 255)));
  writeFileSync(join(dir, 'train-y.npy'), encodeNpy('i8', [TRAIN], train.labels.subarray(0, TRAIN)));
  writeFileSync(join(dir, 'test-x.npy'), encodeNpy('u1', [TEST, 1, 28, 28], testSplit.images.subarray(0, TEST * 784)));
  writeFileSync(join(dir, 'test-y.npy'), encodeNpy('u1', [TEST], testSplit.labels.subarray(0, TEST)));
  const job = {
    name: 'e2e own npy data',
    model: { widths: [784, 64, 10], activation: 'relu' },
    data: { kind: 'npy', train: { inputs: 'train-x.npy', labels: 'train-y.npy' }, test: { inputs: 'test-x.npy', labels: 'test-y.npy' } },
    optimizer: { kind: 'adamw', lr: 0.003, schedule: { warmupSteps: 5, decay: 'constant' } },
    globalBatch: 256,
    lease: { minExamples: 16, maxExamples: 128, targetSeconds: 0.3, timeoutMs: 8000 },
    stop: { epochs: 4, targetAccuracy: 0.7 },
    evaluateEvery: 4,
    checkpointEvery: 4,
    seed: 3,
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

test('a job on .npy files trains from the swarmgrad-u8 form the coordinator serves', async ({ browser }) => {
  const out = join(dir, 'run');
  server = await startJobServer({ job: join(dir, 'job.json'), port: await freePort(), out, fresh: true });
  expect(server.output()).toMatch(/data: data\.train \(.*train-x\.npy\): the f4 inputs are exact bytes\/255/);

  const announcement = (await (await fetch(`${server.origin}/api/job`)).json()) as JobAnnouncement;
  expect(announcement.dataset).toEqual({ format: 'swarmgrad-u8', url: expect.stringMatching(/^\/data\/[0-9a-f]{16}\/$/) });
  expect(announcement.trainExamples).toBe(TRAIN);
  // The fashion-mnist files are not this job's: they are not served.
  expect((await fetch(`${server.origin}/data/fashion-mnist/train-labels-idx1-ubyte.gz`)).status).toBe(404);

  const page = await browser.newPage();
  const fetched: string[] = [];
  page.on('requestfinished', (request) => {
    const path = new URL(request.url()).pathname;
    if (path.startsWith('/data/')) fetched.push(path);
  });
  await page.goto(`${server.origin}/`);
  // The page tells the visitor whose data this is, not Fashion-MNIST's description.
  await expect(page.locator('#job-facts')).toContainText("The job owner's own data (");
  await expect(page.locator('#job-facts')).not.toContainText('Fashion-MNIST');
  await page.getByRole('button', { name: 'Donate my GPU' }).click();

  const code = await server.exited;
  expect(code, server.output()).toBe(0);
  await page.close();
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { coverage: { exact: boolean }; evaluations: { accuracy: number }[] };
  expect(summary.coverage.exact).toBe(true);
  expect(Math.max(...summary.evaluations.map((e) => e.accuracy))).toBeGreaterThanOrEqual(0.7);
  const url = announcement.dataset.url;
  expect(fetched.sort()).toEqual(['manifest.json', 'test-images.u8', 'test-labels.u8', 'train-images.u8', 'train-labels.u8'].map((f) => `${url}${f}`));
});
