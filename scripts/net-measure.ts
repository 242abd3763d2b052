// Side-by-side measurement of the Node WebRTC implementations behind the coordinator peer:
// a Chromium page (src/net/browserPeer.ts) connects to e2e/support/netServer.ts through the
// relay, then moves 64 MiB each way in 16 KiB frames with backpressure. Rounds alternate the
// implementations so that noise from other work on the machine hits both alike.
//
//   node --import tsx scripts/net-measure.ts [--rounds 3] [--mib 64]
//   WERIFT_DIR=/tmp/werift/node_modules node --import tsx scripts/net-measure.ts   # adds werift
//
// It re-runs itself inside ../shared/isolated-net when that exists: WebRTC stays on this machine.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type Page } from 'playwright';
import { buildNetPage } from '../e2e/support/buildNetPage.ts';
import { startNetServer } from '../e2e/support/netServerProcess.ts';
import { chromiumArgs, chromiumPath } from './chromium.mjs';

const isolate = resolve('..', 'shared', 'isolated-net');
if (process.env.ISOLATED_NET_INSIDE !== '1' && existsSync(isolate)) {
  const rerun = spawnSync(isolate, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(rerun.status ?? 1);
}

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, mib: { type: 'string', default: '64' } } });
const rounds = Number(values.rounds);
const bytes = Number(values.mib) * 1024 * 1024;
const implementations = ['node-datachannel', ...(process.env.WERIFT_DIR ? ['werift'] : [])];

interface Sample {
  connectMs: number[];
  uploadMiBps: number;
  downloadMiBps: number;
  uploadCpuMs: number;
  downloadCpuMs: number;
  serverRssMiB: number;
}

const pageDir = mkdtempSync(join(tmpdir(), 'swarmgrad-net-page-'));
await buildNetPage(pageDir);
const browser = await chromium.launch({ executablePath: chromiumPath(), args: chromiumArgs() });
const samples = new Map<string, Sample[]>(implementations.map((name) => [name, []]));
const names = new Map<string, string>();

try {
  for (let round = 1; round <= rounds; round++) {
    for (const implementation of implementations) {
      const server = await startNetServer({ pageDir, webrtc: implementation });
      names.set(implementation, server.webrtc);
      const page = await browser.newPage();
      try {
        const sample = await measure(page, server.port, server.pid);
        samples.get(implementation)!.push(sample);
        console.error(`round ${round} ${server.webrtc}: ${JSON.stringify(sample)}`);
      } catch (error) {
        console.error(`round ${round} ${implementation} failed: ${(error as Error).message}\nserver stderr:\n${server.stderr()}`);
        throw error;
      } finally {
        await page.close();
        await server.stop();
      }
    }
  }
} finally {
  await browser.close();
  rmSync(pageDir, { recursive: true, force: true });
}

printTable();

async function measure(page: Page, port: number, serverPid: number): Promise<Sample> {
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForFunction(() => 'netTest' in window);
  const connectMs: number[] = [];
  for (let i = 0; i < 5; i++) connectMs.push(await page.evaluate(() => window.netTest.timeConnect()));
  await page.evaluate(() => window.netTest.startLink());
  await page.waitForFunction(() => window.netTest.linkState() === 'open', null, { timeout: 30_000 });
  const upload = await page.evaluate((n) => window.netTest.upload(n), bytes);
  const download = await page.evaluate((n) => window.netTest.download(n), bytes);
  if (upload.report.op !== 'sink-reported' || upload.report.bytes !== bytes || upload.report.outOfOrder !== 0) {
    throw new Error(`upload arrived wrong: ${JSON.stringify(upload.report)}`);
  }
  if (download.report.op !== 'source-done' || download.receivedBytes !== bytes || download.outOfOrder !== 0) {
    throw new Error(`download arrived wrong: ${JSON.stringify(download)}`);
  }
  const mib = bytes / (1024 * 1024);
  return {
    connectMs: connectMs.map(Math.round),
    uploadMiBps: round1(mib / (upload.ms / 1000)),
    downloadMiBps: round1(mib / (download.ms / 1000)),
    uploadCpuMs: Math.round(upload.report.cpuMs),
    downloadCpuMs: Math.round(download.report.cpuMs),
    serverRssMiB: round1(residentMiB(serverPid)),
  };
}

function residentMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  return kib / 1024;
}

function printTable(): void {
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const range = (xs: number[]) => `${median(xs)} (${Math.min(...xs)}–${Math.max(...xs)})`;
  console.log(`\n${rounds} rounds, ${values.mib} MiB each way in 16 KiB frames, Chromium ↔ Node over the veth pair in isolated-net; median (min–max)\n`);
  console.log('| Node WebRTC | connect ms | page→Node MiB/s | Node→page MiB/s | Node CPU ms, receive | Node CPU ms, send | Node RSS MiB |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const [implementation, list] of samples) {
    console.log(
      `| ${names.get(implementation)} | ${range(list.flatMap((s) => s.connectMs))} | ${range(list.map((s) => s.uploadMiBps))} | ` +
        `${range(list.map((s) => s.downloadMiBps))} | ${range(list.map((s) => s.uploadCpuMs))} | ${range(list.map((s) => s.downloadCpuMs))} | ` +
        `${range(list.map((s) => s.serverRssMiB))} |`,
    );
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
