// The WebRTC transport end to end: a real Chromium page (src/net/browserPeer.ts) connects
// through the real PeerJS relay to a real Node coordinator peer (node-datachannel), in a
// server process of its own (e2e/support/netServer.ts) that this file starts, kills and
// restarts. Runs inside ../shared/isolated-net via `node scripts/e2e.mjs e2e/net.spec.ts`.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { buildNetPage } from './support/buildNetPage.ts';
import { startNetServer, type NetServerProcess } from './support/netServerProcess.ts';

const MiB = 1024 * 1024;

test.describe.configure({ mode: 'serial', timeout: 120_000 });

let pageDir = '';
let server: NetServerProcess | null = null;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  pageDir = mkdtempSync(join(tmpdir(), 'swarmgrad-net-page-'));
  await buildNetPage(pageDir);
  server = await startNetServer({ pageDir });
});

test.afterEach(async ({}, testInfo) => {
  if (testInfo.status !== testInfo.expectedStatus && server) {
    await testInfo.attach('netServer stderr', { body: server.stderr(), contentType: 'text/plain' });
    console.error(`netServer stderr:\n${server.stderr()}`);
  }
});

test.afterAll(async () => {
  await server?.stop();
  rmSync(pageDir, { recursive: true, force: true });
});

interface NetStatus {
  relay: { connectedPeers: number; connects: number; disconnects: number; errors: number };
  openChannels: number;
  negotiating: number;
}

async function netStatus(): Promise<NetStatus> {
  const response = await fetch(`http://127.0.0.1:${server!.port}/net-status`);
  return (await response.json()) as NetStatus;
}

async function openContributorPage(page: Page): Promise<void> {
  await page.goto(`http://127.0.0.1:${server!.port}/`);
  await page.waitForFunction(() => 'netTest' in window);
  await page.evaluate(() => window.netTest.startLink());
  await page.waitForFunction(() => window.netTest.linkState() === 'open', null, { timeout: 30_000 });
}

test('16 MiB echo arrives intact, and the page reconnects by itself after the server is killed and restarted', async ({ page }) => {
  await openContributorPage(page);
  const echo = await page.evaluate((bytes) => window.netTest.echo(bytes), 16 * MiB);
  expect(echo.receivedBytes).toBe(16 * MiB);
  expect(echo.receivedSha256).toBe(echo.sentSha256);
  const mibPerSecond = (16 / (echo.ms / 1000)).toFixed(1);
  test.info().annotations.push({ type: 'echo throughput', description: `16 MiB each way in ${Math.round(echo.ms)} ms (${mibPerSecond} MiB/s)` });
  console.log(`echo: 16 MiB each way in ${Math.round(echo.ms)} ms (${mibPerSecond} MiB/s)`);
  expect(await netStatus()).toMatchObject({ openChannels: 1, negotiating: 0 });

  // A crash, not a clean shutdown: the page learns of it only through ICE going quiet.
  const port = server!.port;
  await server!.stop('SIGKILL');
  await page.waitForFunction(() => /^(closed|retrying)/.test(window.netTest.linkState()), null, { timeout: 45_000 });
  server = await startNetServer({ pageDir, port });
  await page.waitForFunction(() => window.netTest.linkState() === 'open', null, { timeout: 45_000 });

  const states = await page.evaluate(() => window.netTest.states);
  expect(states.some((s) => s.startsWith('closed: '))).toBe(true);
  expect(states.some((s) => s.startsWith('retrying in '))).toBe(true);
  const again = await page.evaluate((bytes) => window.netTest.echo(bytes), MiB);
  expect(again.receivedSha256).toBe(again.sentSha256);
  expect(await netStatus()).toMatchObject({ openChannels: 1 });
});

test('a closed tab leaves nothing behind on the coordinator or the relay', async ({ browser }) => {
  const before = await netStatus();
  const page = await browser.newPage();
  await openContributorPage(page);
  expect((await netStatus()).openChannels).toBe(before.openChannels + 1);
  await page.close(); // pagehide closes the channel, so the coordinator hears of it at once
  await expect.poll(async () => (await netStatus()).openChannels, { timeout: 10_000 }).toBe(before.openChannels);
  await expect.poll(async () => (await netStatus()).relay.connectedPeers, { timeout: 10_000 }).toBe(before.relay.connectedPeers);
  expect((await netStatus()).negotiating).toBe(0);
});

test('a crashed tab is released once ICE gives up on it', async ({ browser }) => {
  const before = await netStatus();
  const page = await browser.newPage();
  await openContributorPage(page);
  expect((await netStatus()).openChannels).toBe(before.openChannels + 1);
  // No pagehide, no goodbye: the renderer dies and only ICE consent checks notice (libjuice: 30 s).
  const cdp = await page.context().newCDPSession(page);
  const crashed = page.waitForEvent('crash');
  // Not awaited: the call never answers, the page that would answer is gone.
  void cdp.send('Page.crash').catch(() => {});
  await crashed;
  await expect.poll(async () => (await netStatus()).openChannels, { timeout: 50_000, intervals: [1_000] }).toBe(before.openChannels);
  expect((await netStatus()).negotiating).toBe(0);
  await page.close();
});

test('a contributor gets a message it can act on when the coordinator or the relay is not there', async ({ page }) => {
  await page.goto(`http://127.0.0.1:${server!.port}/`);
  await page.waitForFunction(() => 'netTest' in window);
  const unknownCoordinator = await page.evaluate(() => window.netTest.connectError({ coordinatorId: 'nobody-here' }));
  expect(unknownCoordinator).toMatch(/coordinator "nobody-here" is not connected to it/);
  const noRelay = await page.evaluate(() => window.netTest.connectError({ port: 9 }));
  expect(noRelay).toMatch(/Cannot reach the coordinator's signaling relay at ws:\/\/127\.0\.0\.1:9\/peerjs/);
});
