// Contributors behind NAT, with a real TURN server (coturn) and real routers (network
// namespaces, nftables masquerade): the one whose network lets no UDP through but to the TURN
// server trains through the relay; the one behind an ordinary NAT trains directly and does
// not use the relay. The test reports which candidate pair each connection used, from the
// browser's stats and from the coordinator's log. Then the TURN server goes down: the blocked
// contributor's page says there is no network path and what to do, and the coordinator's log
// says at which ICE stage that contributor's negotiation stopped.
// Runs inside ../shared/isolated-net via `node scripts/e2e.mjs` (root there; nothing leaves it).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, expect, test, type Browser, type Page } from '@playwright/test';
import { isRelayed, type LinkRoute } from '../src/net/route.ts';
import { freePort, startJobServer, type JobServer } from './support/jobServer.ts';
import { createNatNet, startTurnServer, type NatHost, type NatNet, type TurnServer } from './support/natNet.ts';

/** The TURN server's address: in the benchmarking range, on this namespace's loopback device. */
const TURN = { address: '198.18.60.1', port: 3478 };

test.describe.configure({ timeout: 5 * 60_000 });

let dir = '';
let server: JobServer | null = null;
let turn: TurnServer | null = null;
let net: NatNet | null = null;
const browsers: Browser[] = [];

test.beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'swarmgrad-e2e-nat-'));
});

test.afterEach(async ({}, testInfo) => {
  if (testInfo.status !== testInfo.expectedStatus) {
    console.error(`--- server ---\n${server?.output() ?? ''}\n--- turnserver ---\n${turn?.output() ?? ''}`);
  }
  for (const b of browsers.splice(0)) await b.close().catch(() => {});
  await server?.kill('SIGKILL');
  await turn?.stop();
  net?.close();
  [server, turn, net] = [null, null, null];
  rmSync(dir, { recursive: true, force: true });
});

async function contribute(host: NatHost, port: number): Promise<Page> {
  const browser = await chromium.launch({ executablePath: host.chromiumWrapper, args: host.chromiumArgsFor(port) });
  browsers.push(browser);
  const page = await browser.newPage();
  page.on('pageerror', (error) => console.error(`[${host.namespace}] ${error.message}`));
  await page.goto(`${host.originFor(port)}/`);
  await page.getByRole('button', { name: 'Donate my GPU' }).click();
  return page;
}

const routeOf = (page: Page) => page.evaluate(() => window.swarmgradContributor?.route ?? null) as Promise<LinkRoute | null>;

test('a contributor with no direct path trains through TURN, one with a direct path does not, and without TURN the page says what to do', async () => {
  turn = await startTurnServer(TURN.address, TURN.port, dir);
  net = createNatNet([true, false], TURN);
  const [blocked, open] = net.hosts;
  const port = await freePort();
  server = await startJobServer({
    job: 'e2e/jobs/nat.json',
    port,
    out: join(dir, 'run'),
    fresh: true,
    extraArgs: ['--host', '0.0.0.0', '--ice-server', turn.urls[0], '--turn-secret-file', turn.secretFile],
  });

  const pages = [await contribute(blocked, port), await contribute(open, port)];
  for (const page of pages) await expect.poll(() => page.evaluate(() => window.swarmgradContributor?.tasks ?? 0), { timeout: 120_000 }).toBeGreaterThan(0);
  // ICE may first select a relayed pair that answered first, then switch to a direct one.
  await expect.poll(async () => { const r = await routeOf(pages[1]); return r && isRelayed(r); }, { timeout: 30_000 }).toBe(false);
  const [relayed, direct] = [(await routeOf(pages[0]))!, (await routeOf(pages[1]))!];
  console.log(`nat e2e: behind a router that blocks direct paths: ${JSON.stringify(relayed)}; behind an ordinary NAT: ${JSON.stringify(direct)}`);
  expect(isRelayed(relayed)).toBe(true);
  expect(relayed.local).toMatchObject({ type: 'relay', address: TURN.address });
  expect(isRelayed(direct)).toBe(false);
  await expect(pages[0].locator('#status-facts')).toContainText(/Connection\s*through the job's TURN relay/);
  await expect(pages[1].locator('#status-facts')).toContainText(/Connection\s*direct \(/);
  // The coordinator's log says the same from its side (the NATed address of each router).
  const output = server.output();
  expect(output).toMatch(/\[coordinator peer\] contributor \S+ connected through a TURN relay: \w+ [\d.]+:\d+ ↔ relay 198\.18\.60\.1:\d+/);
  await expect.poll(() => server!.output(), { timeout: 20_000 }).toMatch(new RegExp(`\\[coordinator peer\\] contributor \\S+ (connected|now goes) directly: \\w+ [\\d.]+:\\d+ ↔ \\w+ ${open.publicAddress.replace(/\./g, '\\.')}:\\d+`));

  // TURN goes down: the blocked contributor loses its only path and says so, with what to do.
  await turn.stop();
  await expect(pages[0].locator('#status')).toContainText('no network path for the data connection, not even through the job\'s TURN relay', { timeout: 120_000 });
  await expect(pages[0].locator('#status')).toContainText('try another network, or tell the job\'s owner');
  await expect.poll(() => server!.output(), { timeout: 60_000 }).toMatch(/\[coordinator peer\] (no data channel from contributor \S+ within \d+ ms|.*contributor \S+.*, before any data channel opened): ICE [\w-]+, gathering [\w-]+; its candidates: /);
  // The open one keeps computing on its direct path.
  const before = await pages[1].evaluate(() => window.swarmgradContributor!.tasks);
  await expect.poll(() => pages[1].evaluate(() => window.swarmgradContributor!.tasks), { timeout: 60_000 }).toBeGreaterThan(before);
  console.log(`nat e2e: with TURN down: ${await pages[0].locator('#status').textContent()}`);
  console.log(`nat e2e: coordinator: ${/\[coordinator peer\] .*(no data channel from|before any data channel opened).*/.exec(server.output())![0]}`);
});
