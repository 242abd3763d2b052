// The shaped links of e2e/support/shapedNet.ts do what the benchmarks rely on: bulk TCP each
// way stays under the link's rate, the tbf counters see the traffic, and a browser inside the
// namespace trains through the real server by the link's address, in a secure context, with
// its WebRTC traffic on the shaped veth pair; and browsers, each behind a link of its own,
// train a local-steps job with int8 updates and deltas to its target. Runs inside ../shared/isolated-net as root via
// `node scripts/e2e.mjs e2e/shaped.spec.ts`.
//
// The rates are checked against an upper bound only: a shaper that works can only be slower
// than its rate (a busy machine makes it slower still), so no machine fails that bound.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, test } from '@playwright/test';
import type { LaunchedContributors } from '../src/server/contributorLauncher.ts';
import type { RunStatusSnapshot } from '../src/server/runStatus.ts';
import { freePort, startJobServer, type JobServer } from './support/jobServer.ts';
import { createShapedLinks, launchShapedContributors, type ShapedLink, type ShapedLinks } from './support/shapedNet.ts';

const MB = 1_000_000;
/** A measured rate may exceed the link's by this much (the tbf's 32 KB burst, timer granularity). */
const RATE_SLACK = 1.25;
const ROUNDS = 8;

type Status = RunStatusSnapshot & { traffic: { bytesSent: number; bytesReceived: number } | null };

test.describe.configure({ mode: 'serial', timeout: 3 * 60_000 });

let shaped: ShapedLinks;
let link: ShapedLink;

test.beforeAll(() => {
  shaped = createShapedLinks(2);
  link = shaped.links[0];
});

test.afterAll(() => shaped?.close());

/**
 * The client end of a bulk transfer, run inside the namespace: `down` reads to the end and
 * prints its bytes and the seconds from first byte to last, `up` writes `size` bytes and ends.
 */
const CLIENT = `
const [host, port, mode, size] = process.argv.slice(1);
const socket = require('node:net').connect(Number(port), host);
if (mode === 'up') socket.on('connect', () => socket.end(Buffer.alloc(Number(size))));
let bytes = 0, first = 0;
socket.on('data', (chunk) => { first ||= performance.now(); bytes += chunk.length; });
socket.on('end', () => console.log(JSON.stringify({ bytes, seconds: (performance.now() - first) / 1000 })));
`;

/** A server on the link's host end for one connection, handled by `serve`. */
async function listenOnHostEnd(serve: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(serve);
  await new Promise<void>((resolve) => server.listen(0, link.hostAddress, resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

function runClient(port: number, mode: 'down' | 'up', size = 0): Promise<{ stdout: string }> {
  const [command, ...args] = link.inNamespace([process.execPath, '-e', CLIENT, link.hostAddress, String(port), mode, String(size)]);
  return promisify(execFile)(command, args, { timeout: 60_000 });
}

const mbit = (bytes: number, seconds: number) => (bytes * 8) / seconds / 1e6;

test('bulk TCP each way stays under the shaped rate, and the tbf counters carry it', async () => {
  const before = link.bytes();

  // Down: the host end sends, the client inside times what arrives.
  const downBytes = 5 * MB;
  const down = await listenOnHostEnd((socket) => socket.end(Buffer.alloc(downBytes)));
  const received = JSON.parse((await runClient(down.port, 'down')).stdout) as { bytes: number; seconds: number };
  down.server.close();

  // Up: the client inside sends, the host end times what arrives.
  const upBytes = 2 * MB;
  let sent: { bytes: number; seconds: number } | null = null;
  const up = await listenOnHostEnd((socket) => {
    let bytes = 0;
    let first = 0;
    socket.on('data', (chunk) => {
      first ||= performance.now();
      bytes += chunk.length;
    });
    socket.on('end', () => {
      sent = { bytes, seconds: (performance.now() - first) / 1000 };
      socket.end();
    });
  });
  await runClient(up.port, 'up', upBytes);
  up.server.close();

  const after = link.bytes();
  const downRate = mbit(received.bytes, received.seconds);
  const upRate = mbit(sent!.bytes, sent!.seconds);
  console.log(`shaped link ${link.namespace}: down ${downRate.toFixed(1)} Mbit/s (link ${link.downMbit}), up ${upRate.toFixed(1)} Mbit/s (link ${link.upMbit})`);
  console.log(`  tbf counters: down +${after.down - before.down} bytes, up +${after.up - before.up} bytes`);

  expect(received.bytes).toBe(downBytes);
  expect(sent!.bytes).toBe(upBytes);
  expect(downRate).toBeLessThanOrEqual(link.downMbit * RATE_SLACK);
  expect(upRate).toBeLessThanOrEqual(link.upMbit * RATE_SLACK);
  // Every payload byte crossed the tbf of its direction (headers and ACKs come on top).
  expect(after.down - before.down).toBeGreaterThanOrEqual(downBytes);
  expect(after.up - before.up).toBeGreaterThanOrEqual(upBytes);
});

test('a browser behind the link trains through the real server by the link address, its WebRTC on the shaped pair', async () => {
  const out = mkdtempSync(join(tmpdir(), 'swarmgrad-e2e-shaped-'));
  const job = JSON.parse(readFileSync('e2e/jobs/small.json', 'utf8')) as Record<string, unknown>;
  writeFileSync(join(out, 'job.json'), JSON.stringify({ ...job, stop: { rounds: ROUNDS } }));
  const port = await freePort();
  const log: string[] = [];
  let server: JobServer | null = null;
  let contributors: LaunchedContributors | null = null;
  try {
    server = await startJobServer({ job: join(out, 'job.json'), port, out: join(out, 'run'), fresh: true, extraArgs: ['--host', '0.0.0.0', '--stay'] });
    const before = link.bytes();
    contributors = await launchShapedContributors([link], port, (line) => log.push(line));
    const [page] = contributors.pages;
    expect(await page.evaluate(() => ({ origin: location.origin, secure: window.isSecureContext, gpu: 'gpu' in navigator }))).toEqual({
      origin: link.originFor(port),
      secure: true,
      gpu: true,
    });

    let status: Status;
    for (;;) {
      status = (await (await fetch(`${server.origin}/api/status`)).json()) as Status;
      if (status.state !== 'running') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const after = link.bytes();
    console.log(`  ${ROUNDS} rounds: messages ${status.traffic!.bytesSent} bytes down, ${status.traffic!.bytesReceived} up; tbf ${after.down - before.down} down, ${after.up - before.up} up`);
    expect(status.state).toBe('done');
    expect(status.round).toBe(ROUNDS);
    // The namespace has no other way out, and the counters saw at least every message byte.
    expect(after.down - before.down).toBeGreaterThanOrEqual(status.traffic!.bytesSent);
    expect(after.up - before.up).toBeGreaterThanOrEqual(status.traffic!.bytesReceived);
  } catch (error) {
    console.error(`server output:\n${server?.output()}\ncontributor log:\n${log.join('\n')}`);
    throw error;
  } finally {
    await contributors?.close();
    await server?.kill('SIGKILL');
    rmSync(out, { recursive: true, force: true });
  }
});

test('browsers, each behind its own link, train a local-steps job with int8 both ways to its target, and nobody honest is banned', async () => {
  const out = mkdtempSync(join(tmpdir(), 'swarmgrad-e2e-shaped-local-'));
  const port = await freePort();
  const log: string[] = [];
  let server: JobServer | null = null;
  let contributors: LaunchedContributors | null = null;
  try {
    server = await startJobServer({ job: 'e2e/jobs/local-steps.json', port, out: join(out, 'run'), fresh: true, extraArgs: ['--host', '0.0.0.0', '--stay'] });
    const before = shaped.links.map((l) => l.bytes());
    contributors = await launchShapedContributors(shaped.links, port, (line) => log.push(line));
    let status: Status;
    for (;;) {
      status = (await (await fetch(`${server.origin}/api/status`)).json()) as Status;
      if (status.state !== 'running') break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(status.state).toBe('done');
    const summary = JSON.parse(readFileSync(join(out, 'run', 'summary.json'), 'utf8'));
    expect(summary.stopReason).toBe('target-accuracy');
    expect(summary.finalTestAccuracy).toBeGreaterThanOrEqual(0.76);
    expect(summary.coverage.exact).toBe(true);
    // Whoever computed was spot-checked on its first results (probation) and found honest. (One run in three, the
    // second browser had not connected before the job ended: both are not required, see the README's known problems.)
    const computed = summary.contributors.filter((c: { examples: number }) => c.examples > 0).length;
    expect(computed).toBeGreaterThanOrEqual(1);
    const ledger = readFileSync(join(out, 'run', 'ledger.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { kind: string });
    expect(ledger.filter((e) => e.kind === 'banned')).toEqual([]);
    const results = ledger.filter((e) => e.kind === 'resultAccepted').length;
    // Each result is an int8 Δ: a byte per parameter and a scale per 128, not 4 bytes per parameter.
    const parameters = 784 * 64 + 64 + 64 * 10 + 10;
    const int8Bytes = parameters + (4 * parameters) / 128;
    expect(status.traffic!.bytesReceived / results).toBeLessThan(1.1 * int8Bytes + 2048);
    // Down: the parameters whole once per contributor, then int8 deltas, one per round.
    expect(status.traffic!.bytesSent).toBeLessThan(2 * 4 * parameters + 2 * (status.round + 1) * (1.1 * int8Bytes) + results * 4096);
    expect(shaped.links.reduce((sum, l, i) => sum + l.bytes().up - before[i].up, 0)).toBeGreaterThanOrEqual(status.traffic!.bytesReceived);
    console.log(`  local steps: ${computed} of 2 contributors computed; ${status.round} rounds, ${results} results, ${summary.examples} examples, test accuracy ${summary.finalTestAccuracy}; messages ${status.traffic!.bytesSent} bytes down, ${status.traffic!.bytesReceived} up`);
  } catch (error) {
    console.error(`server output:\n${server?.output()}\ncontributor log:\n${log.join('\n')}`);
    throw error;
  } finally {
    await contributors?.close();
    await server?.kill('SIGKILL');
    rmSync(out, { recursive: true, force: true });
  }
});
