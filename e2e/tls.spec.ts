// HTTPS end to end: `npm start -- --tls-cert --tls-key` on an address that is not loopback
// (so that only TLS makes the page a secure context), with a certificate this test makes.
// A Chromium that trusts that certificate (as a browser trusts one its owner installed:
// --ignore-certificate-errors-spki-list with the key's hash, not "ignore every error") gets a
// secure context with WebGPU, contributes over wss:// signaling and WebRTC, and the job
// finishes; a Chromium that does not trust it refuses the page; the same address over plain
// HTTP is no secure context at all.
// Runs inside ../shared/isolated-net via `node scripts/e2e.mjs`: it adds an address to that
// namespace's loopback, which needs its root.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, expect, test } from '@playwright/test';
import { chromiumArgs, chromiumPath } from '../scripts/chromium.mjs';
import { trustCertificateFlag } from '../src/server/contributorLauncher.ts';
import { freePort, startJobServer, type JobServer } from './support/jobServer.ts';
import { addLoopbackAddress, requireIsolatedRoot } from './support/namespaces.ts';

/** In the benchmarking range (RFC 2544, which isolated-net uses too): never routed, not loopback. */
const ADDRESS = '198.18.50.1';

test.describe.configure({ timeout: 5 * 60_000 });

let out = '';
let server: JobServer | null = null;

test.beforeAll(() => {
  requireIsolatedRoot('the TLS tests (they add an address to the namespace)');
  addLoopbackAddress(ADDRESS);
});

test.beforeEach(() => {
  out = mkdtempSync(join(tmpdir(), 'swarmgrad-e2e-tls-'));
});

test.afterEach(async ({}, testInfo) => {
  if (server && testInfo.status !== testInfo.expectedStatus) console.error(server.output());
  await server?.kill('SIGKILL');
  server = null;
  rmSync(out, { recursive: true, force: true });
});

test('serves pages, API, relay and WebRTC over TLS, a secure context only for a browser that trusts the certificate', async ({ browser }) => {
  const [cert, key] = [join(out, 'cert.pem'), join(out, 'key.pem')];
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=swarmgrad e2e', '-addext', `subjectAltName=IP:${ADDRESS}`, '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  const port = await freePort();
  server = await startJobServer({ job: 'e2e/jobs/small.json', port, out, fresh: true, extraArgs: ['--host', ADDRESS, '--tls-cert', cert, '--tls-key', key] });
  expect(server.origin).toBe(`https://${ADDRESS}:${port}`);

  // A browser that does not trust the certificate never gets the page.
  const untrusting = await browser.newPage();
  const refused = await untrusting.goto(`${server.origin}/`).then(() => 'loaded', (error: Error) => error.message);
  expect(refused).toMatch(/net::ERR_CERT_AUTHORITY_INVALID/);
  await untrusting.close();

  // The same address over plain HTTP is no secure context: no WebGPU there.
  const plain = createServer((_, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>plain</title>'));
  const plainPort = await freePort();
  await new Promise<void>((ok) => plain.listen(plainPort, ADDRESS, ok));
  const plainPage = await browser.newPage();
  await plainPage.goto(`http://${ADDRESS}:${plainPort}/`);
  expect(await plainPage.evaluate(() => [window.isSecureContext, 'gpu' in navigator])).toEqual([false, false]);
  await plainPage.close();
  plain.close();

  // A browser that trusts it contributes over HTTPS, wss:// and WebRTC until the job is done.
  const trusting = await chromium.launch({ executablePath: chromiumPath(), args: [...chromiumArgs(), trustCertificateFlag(readFileSync(cert, 'utf8'))] });
  try {
    const page = await trusting.newPage();
    page.on('pageerror', (error) => console.error(`[contributor page] ${error.message}`));
    await page.goto(`${server.origin}/`);
    expect(await page.evaluate(() => [window.isSecureContext, 'gpu' in navigator, location.protocol])).toEqual([true, true, 'https:']);
    await page.getByRole('button', { name: 'Donate my GPU' }).click();
    await expect.poll(() => page.evaluate(() => window.swarmgradContributor?.tasks ?? 0), { timeout: 120_000 }).toBeGreaterThan(0);
    expect(await server.exited, server.output()).toBe(0);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { status: string; coverage: { exact: boolean }; contributors: { examples: number }[] };
    expect(summary.status).toBe('done');
    expect(summary.coverage.exact).toBe(true);
    console.log(`tls e2e: ${JSON.stringify({ origin: server.origin, rounds: (summary as unknown as { rounds: number }).rounds })}`);
  } finally {
    await trusting.close();
  }
});
