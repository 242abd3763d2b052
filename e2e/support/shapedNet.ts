// Shaped links: each browser contributor behind a home-like connection of its own, for the
// benchmarks and end-to-end tests that must see a real link rather than loopback.
//
// Link N is a network namespace (`sgc-<pid>-N`) joined to this one by a veth pair:
// 198.19.N.1 stays here (the coordinator's end), 198.19.N.2 lives inside. A token-bucket
// filter (tbf) on each end's egress sets the rate: here toward the contributor is its
// download, inside toward the coordinator its upload. The namespace has no other interface
// and no default route, so everything its browser sends crosses the shaped pair. There is
// no delay emulation: this kernel has no netem, so the links have bandwidth, not latency.
//
// Needs root inside ../shared/isolated-net: the veth ends and routes this side then live in
// the throwaway namespace that isolated-net creates, never on the machine's own network.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { chromiumArgs, chromiumPath } from '../../scripts/chromium.mjs';
import type { LaunchedContributors } from '../../src/server/contributorLauncher.ts';
import { removeStaleNamespaces, requireIsolatedRoot, run as runCommand } from './namespaces.ts';

export interface ShapedLinkOptions {
  /** Coordinator → contributor, Mbit/s (default 20). */
  downMbit?: number;
  /** Contributor → coordinator, Mbit/s (default 5). */
  upMbit?: number;
}

export interface ShapedLink {
  /** The network namespace the contributor runs in. */
  readonly namespace: string;
  /** The coordinator's end of the link, in this namespace: 198.19.N.1. */
  readonly hostAddress: string;
  /** The contributor's end, inside `namespace`: 198.19.N.2. */
  readonly contributorAddress: string;
  readonly downMbit: number;
  readonly upMbit: number;
  /** An executable that starts Chromium inside `namespace`: Playwright's `executablePath`. */
  readonly chromiumWrapper: string;
  /** Where a page inside the namespace reaches a server listening here on 0.0.0.0:port. */
  originFor(port: number): string;
  /** Chromium flags for that origin: it is not localhost, yet WebGPU and crypto.subtle need a secure context. */
  chromiumArgsFor(port: number): string[];
  /** `command` run inside the namespace (for spawn or execFile). */
  inNamespace(command: string[]): string[];
  /** Bytes each tbf has sent since the link was made: `down` toward the contributor, `up` from it. */
  bytes(): { down: number; up: number };
}

export interface ShapedLinks {
  readonly links: ShapedLink[];
  /** Removes the namespaces (their veth pairs go with them) and the Chromium wrappers. */
  close(): void;
}

/** `sgc-<pid of the process that made it>-<N>`: a namespace whose process is gone is stale. */
const NAMESPACE = /^sgc-(\d+)-\d+$/;
/** The tbf's bucket, and its queue before it drops: bulk TCP gets 19.3 of 20 Mbit/s with these. */
const TBF = ['burst', '32kb', 'latency', '200ms'];
/** Link numbers in use by this process: the third byte of their addresses, 1–254. */
const inUse = new Set<number>();

const run = (command: string, args: string[]) => runCommand('shaped links', command, args);

function sentBytes(args: string[]): number {
  const [qdisc] = JSON.parse(run('tc', ['-j', '-s', ...args])) as { bytes: number }[];
  return qdisc.bytes;
}

function addLink(n: number, downMbit: number, upMbit: number, wrapperDir: string): ShapedLink {
  const namespace = `sgc-${process.pid}-${n}`;
  const hostAddress = `198.19.${n}.1`;
  const contributorAddress = `198.19.${n}.2`;
  const hostDev = `sgh${n}`;
  const contributorDev = `sgc${n}`;
  run('ip', ['netns', 'add', namespace]);
  try {
    run('ip', ['link', 'add', hostDev, 'type', 'veth', 'peer', 'name', contributorDev, 'netns', namespace]);
    run('ip', ['addr', 'add', `${hostAddress}/24`, 'dev', hostDev]);
    run('ip', ['link', 'set', hostDev, 'mtu', '1500', 'up']);
    run('ip', ['-n', namespace, 'addr', 'add', `${contributorAddress}/24`, 'dev', contributorDev]);
    run('ip', ['-n', namespace, 'link', 'set', contributorDev, 'mtu', '1500', 'up']);
    run('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
    run('tc', ['qdisc', 'add', 'dev', hostDev, 'root', 'tbf', 'rate', `${downMbit}mbit`, ...TBF]);
    run('tc', ['-n', namespace, 'qdisc', 'add', 'dev', contributorDev, 'root', 'tbf', 'rate', `${upMbit}mbit`, ...TBF]);
  } catch (error) {
    run('ip', ['netns', 'del', namespace]); // its veth pair goes with it
    throw error;
  }

  const chromiumWrapper = join(wrapperDir, `chromium-${n}.sh`);
  writeFileSync(chromiumWrapper, `#!/bin/sh\nexec ip netns exec '${namespace}' '${chromiumPath()}' "$@"\n`, { mode: 0o755 });
  const originFor = (port: number) => `http://${hostAddress}:${port}`;
  return {
    namespace,
    hostAddress,
    contributorAddress,
    downMbit,
    upMbit,
    chromiumWrapper,
    originFor,
    chromiumArgsFor: (port) => [...chromiumArgs(), `--unsafely-treat-insecure-origin-as-secure=${originFor(port)}`],
    inNamespace: (command) => ['ip', 'netns', 'exec', namespace, ...command],
    bytes: () => ({
      down: sentBytes(['qdisc', 'show', 'dev', hostDev]),
      up: sentBytes(['-n', namespace, 'qdisc', 'show', 'dev', contributorDev]),
    }),
  };
}

/** `count` links of `downMbit`/`upMbit` (default 20/5 Mbit/s), numbered from the lowest free 198.19.N. */
export function createShapedLinks(count: number, { downMbit = 20, upMbit = 5 }: ShapedLinkOptions = {}): ShapedLinks {
  requireIsolatedRoot('shaped links');
  removeStaleNamespaces(NAMESPACE);
  const wrapperDir = mkdtempSync(join(tmpdir(), 'swarmgrad-shaped-'));
  const links: ShapedLink[] = [];
  const numbers: number[] = [];
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    process.off('exit', close);
    for (const link of links) run('ip', ['netns', 'del', link.namespace]);
    for (const n of numbers) inUse.delete(n);
    rmSync(wrapperDir, { recursive: true, force: true });
  };
  // A test that throws before close() must not leave its namespaces behind.
  process.on('exit', close);
  try {
    for (let n = 1; links.length < count; n++) {
      if (n > 254) throw new Error(`shaped links: no free 198.19.N/24 left for ${count} links`);
      if (inUse.has(n)) continue;
      inUse.add(n);
      numbers.push(n);
      links.push(addLink(n, downMbit, upMbit, wrapperDir));
    }
  } catch (error) {
    close();
    throw error;
  }
  return { links, close };
}

/**
 * One headless Chromium per link, inside its namespace, each opening the contributor page of
 * the server on `port` (listening on 0.0.0.0) by the link's address and pressing its consent
 * button as a visitor would (as src/server/contributorLauncher.ts does on loopback).
 */
export async function launchShapedContributors(links: readonly ShapedLink[], port: number, log: (line: string) => void): Promise<LaunchedContributors> {
  const browsers: Browser[] = [];
  const pages: Page[] = [];
  const close = async () => {
    await Promise.all(browsers.map((b) => b.close()));
  };
  try {
    for (const [i, link] of links.entries()) {
      const browser = await chromium.launch({ executablePath: link.chromiumWrapper, args: link.chromiumArgsFor(port), headless: true });
      browsers.push(browser);
      const page = await (await browser.newContext()).newPage();
      const name = `contributor ${i + 1} (${link.contributorAddress})`;
      page.on('pageerror', (error) => log(`[${name}] page error: ${error.message}`));
      page.on('console', (message) => {
        if (message.type() === 'error' || message.type() === 'warning') log(`[${name}] ${message.text()}`);
      });
      await page.goto(`${link.originFor(port)}/`);
      await page.getByRole('button', { name: /donate my gpu/i }).click();
      pages.push(page);
      log(`[${name}] started`);
    }
  } catch (error) {
    await close();
    throw new Error(`Could not start shaped contributors: ${(error as Error).message}`);
  }
  return { pages, close };
}

/**
 * The client end of a bulk transfer, run inside a link's namespace: `down` reads to the end and
 * prints its bytes and the seconds from first byte to last, `up` writes `size` bytes and ends.
 */
const BULK_CLIENT = `
const [host, port, mode, size] = process.argv.slice(1);
const socket = require('node:net').connect(Number(port), host);
if (mode === 'up') socket.on('connect', () => socket.end(Buffer.alloc(Number(size))));
let bytes = 0, first = 0;
socket.on('data', (chunk) => { first ||= performance.now(); bytes += chunk.length; });
socket.on('end', () => console.log(JSON.stringify({ bytes, seconds: (performance.now() - first) / 1000 })));
`;

export interface Transfer {
  bytes: number;
  seconds: number;
  mbit: number;
}

export interface BulkTransfers {
  down: Transfer;
  up: Transfer;
  /** What the link's two tbfs counted meanwhile (payload plus headers and ACKs). */
  tbf: { down: number; up: number };
}

/** One bulk TCP transfer each way across `link` (host end ↔ a client inside its namespace), timed at the receiver. */
export async function bulkTransfers(link: ShapedLink, downBytes: number, upBytes: number): Promise<BulkTransfers> {
  const transfer = (bytes: number, seconds: number): Transfer => ({ bytes, seconds, mbit: (bytes * 8) / seconds / 1e6 });
  const listen = async (serve: (socket: Socket) => void) => {
    const server = createServer(serve);
    await new Promise<void>((resolve) => server.listen(0, link.hostAddress, resolve));
    return { server, port: (server.address() as AddressInfo).port };
  };
  const client = (port: number, mode: 'down' | 'up', size = 0) =>
    new Promise<string>((resolve, reject) => {
      const [command, ...args] = link.inNamespace([process.execPath, '-e', BULK_CLIENT, link.hostAddress, String(port), mode, String(size)]);
      execFile(command, args, { timeout: 60_000 }, (error, stdout) => (error ? reject(error) : resolve(stdout)));
    });
  const before = link.bytes();
  // Down: the host end sends, the client inside times what arrives.
  const down = await listen((socket) => socket.end(Buffer.alloc(downBytes)));
  const received = JSON.parse(await client(down.port, 'down')) as { bytes: number; seconds: number };
  down.server.close();
  // Up: the client inside sends, the host end times what arrives.
  let sent: { bytes: number; seconds: number } | null = null;
  const up = await listen((socket) => {
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
  await client(up.port, 'up', upBytes);
  up.server.close();
  const after = link.bytes();
  if (!sent) throw new Error(`the upload across ${link.namespace} did not end`);
  const { bytes, seconds } = sent as { bytes: number; seconds: number };
  return { down: transfer(received.bytes, received.seconds), up: transfer(bytes, seconds), tbf: { down: after.down - before.down, up: after.up - before.up } };
}
