// Teams, key links and the leaderboard, end to end: the real `npm start` server and two real
// Chromium visitors. A team name with markup is refused on the page with a clear message and
// nothing starts; with good names both contribute. One visitor hands its credit to the other's
// key through the page (signed in its browser, checked and recorded by the coordinator), and
// the refusals of a bad link reach the page in words. /api/leaderboard then ranks one person
// holding both keys' verified credit, the dashboard shows it, and `npm run ledger --
// leaderboard --expect` recounts the same ranking offline from the ledger file.
// Runs inside ../shared/isolated-net via `node scripts/e2e.mjs` (WebRTC stays on loopback).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Browser, type Page } from '@playwright/test';
import type { Leaderboard } from '../src/ledger/credit.ts';
import { recountLeaderboard } from '../src/ledger/credit.ts';
import { verifyLog } from '../src/ledger/verify.ts';
import { sha256 } from '../src/server/ledgerFile.ts';
import { nodeVerifier } from '../src/server/nodeSigning.ts';
import { freePort, startJobServer, type JobServer } from './support/jobServer.ts';

test.describe.configure({ timeout: 6 * 60_000 });

let out = '';
let server: JobServer | null = null;

test.beforeEach(() => {
  out = mkdtempSync(join(tmpdir(), 'swarmgrad-e2e-leaderboard-'));
});

test.afterEach(async ({}, testInfo) => {
  if (server && testInfo.status !== testInfo.expectedStatus) {
    await testInfo.attach('server output', { body: server.output(), contentType: 'text/plain' });
    console.error(server.output());
  }
  await server?.kill('SIGKILL');
  server = null;
  rmSync(out, { recursive: true, force: true });
});

async function visitor(browser: Browser): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  page.on('pageerror', (error) => console.error(`[contributor page] ${error.message}`));
  await page.goto(`${server!.origin}/`);
  await expect(page.getByRole('button', { name: 'Donate my GPU' })).toBeEnabled();
  return page;
}

async function leaderboard(): Promise<Leaderboard> {
  return (await (await fetch(`${server!.origin}/api/leaderboard`)).json()) as Leaderboard;
}

const receipts = (page: Page) => page.evaluate(() => window.swarmgradContributor?.credit.receipts ?? 0);

test('teams are plain text, key links merge credit, and the leaderboard recounts offline from the ledger', async ({ browser }) => {
  server = await startJobServer({ job: 'e2e/jobs/leaderboard.json', port: await freePort(), out, fresh: true, extraArgs: ['--stay'] });

  // 1. A team name with markup: a clear message, and nothing runs.
  const a = await visitor(browser);
  await a.locator('#team').fill('<b>Lab</b>');
  await a.getByRole('button', { name: 'Donate my GPU' }).click();
  await expect(a.locator('#team-error')).toHaveText('Not started: a team name is plain text: "<" is not allowed (no markup).');
  await expect(a.locator('#team')).toHaveAttribute('aria-invalid', 'true');
  expect(await a.evaluate(() => window.swarmgradContributor ?? null)).toBeNull();
  expect((await leaderboard()).contributors).toEqual([]);

  // 2. Good names: both contribute.
  await a.locator('#team').fill('  Lab 1 ');
  await a.getByRole('button', { name: 'Donate my GPU' }).click();
  await expect(a.locator('#team-error')).toHaveText('');
  const b = await visitor(browser);
  await b.locator('#team').fill('Night owls');
  await b.getByRole('button', { name: 'Donate my GPU' }).click();
  await expect.poll(() => receipts(a), { timeout: 120_000 }).toBeGreaterThan(0);
  await expect.poll(() => receipts(b), { timeout: 120_000 }).toBeGreaterThan(0);
  const before = await leaderboard();
  expect(before.contributors).toHaveLength(2);
  expect(before.teams.map((t) => t.team).sort()).toEqual(['Lab 1', 'Night owls']);

  // 3. B shows its key code; A refuses a link to itself, then hands its credit to B's key.
  await b.locator('#carry summary').click();
  await expect(b.locator('#key-code')).toHaveText(/^ed25519:|^p256:/);
  const bKey = (await b.locator('#key-code').textContent())!;
  await a.locator('#carry summary').click();
  await expect(a.locator('#key-code')).toHaveText(/^ed25519:|^p256:/);
  const aKey = (await a.locator('#key-code').textContent())!;
  await a.locator('#link-to').fill(aKey);
  await a.getByRole('button', { name: 'Sign and send' }).click();
  await expect(a.locator('#link-result')).toHaveText('Not linked: that is this browser’s own key: paste the key code of the browser that should get the credit');
  await a.locator('#link-to').fill(`${bKey.slice(0, 30)}\n${bKey.slice(30)}`); // as pasted across a line break
  await a.getByRole('button', { name: 'Sign and send' }).click();
  await expect(a.locator('#link-result')).toHaveText(/^Done: this browser's credit now counts for /);
  // The coordinator's own refusal reaches the page in words: a key is linked once.
  await a.getByRole('button', { name: 'Sign and send' }).click();
  await expect(a.locator('#link-result')).toHaveText(`Not linked: ${aKey} already hands its credit to ${bKey}: a key is linked once`);

  const linked = await leaderboard();
  expect(linked.contributors).toHaveLength(1);
  const [person] = linked.contributors;
  expect(person.key).toBe(bKey);
  expect([...person.keys].sort()).toEqual([aKey, bKey].sort());
  expect(person.examples).toBeGreaterThanOrEqual(before.contributors[0].examples + before.contributors[1].examples);

  // 4. The dashboard ranks it, team names shown as text.
  const dashboard = await browser.newPage();
  await dashboard.goto(`${server.origin}/dashboard.html`);
  await expect(dashboard.locator('#leaderboard tbody tr')).toHaveCount(1, { timeout: 15_000 });
  await expect(dashboard.locator('#leaderboard tbody')).toContainText('(+1 linked)');
  await expect(dashboard.locator('#team-leaderboard tbody tr')).toHaveCount(1);
  await dashboard.close();

  // 5. The job runs to its end (the server stays, --stay); what the API answers then is
  // recounted offline from the ledger file, by the library and by the CLI.
  await expect.poll(async () => ((await (await fetch(`${server!.origin}/api/status`)).json()) as { state: string }).state, { timeout: 240_000 }).toBe('done');
  await expect.poll(() => server!.output(), { timeout: 30_000 }).toContain('still serving the pages (--stay)');
  const final = await leaderboard();
  expect(final.contributors).toHaveLength(1);
  expect(final.contributors[0].examples).toBeGreaterThan(person.examples);
  const coordinatorKey = (JSON.parse(readFileSync(join(out, 'coordinator.pub'), 'utf8')) as { publicKey: string }).publicKey;
  const log = await verifyLog(readFileSync(join(out, 'ledger.jsonl'), 'utf8'), readFileSync(join(out, 'ledger-heads.jsonl'), 'utf8'), { hash: sha256, verifier: nodeVerifier, expectedKey: coordinatorKey });
  expect(log.kinds.keyLinked).toBe(1);
  expect(final.entries).toBe(log.size);
  expect(recountLeaderboard(log.genesis.jobId, log.lines, nodeVerifier, linked.entries)).toEqual(linked);
  const claimed = join(out, 'leaderboard.json');
  for (const board of [linked, final]) {
    writeFileSync(claimed, JSON.stringify(board));
    const cli = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/ledger.mts', 'leaderboard', join(out, 'ledger.jsonl'), '--expect', claimed, '--key', coordinatorKey], { encoding: 'utf8' });
    expect(cli.stderr).toBe('');
    expect(cli.stdout).toContain(`ok: ${claimed} matches the recount over the log's first ${board.entries} entries (1 contributor, 1 team)`);
    expect(cli.status).toBe(0);
  }
  console.log(`leaderboard e2e: at the link ${linked.entries} entries, ${person.examples} examples for the linked person; at the end ${final.entries} entries, ${final.contributors[0].examples} examples, team "${final.contributors[0].team}"`);
});
