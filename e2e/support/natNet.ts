// Contributors behind home routers, for the NAT end-to-end test: each is a network namespace
// (`sgn-<pid>-N`, the contributor's machine, 192.168.N.2) behind another (`sgr-<pid>-N`, its
// router, which masquerades to its WAN address 198.18.(100+N).2). The router's WAN end is
// joined to this namespace by a veth pair (198.18.(100+N).1 here), where the coordinator and
// the TURN server run. A router may also block direct paths: then the only UDP it forwards
// goes to the TURN server's port, as on a network that lets nothing but a known relay through.
// Linux masquerading maps by the full 5-tuple, so even an open router lets in only replies to
// what went out: the coordinator cannot reach the contributor first.
//
// Needs root inside ../shared/isolated-net, and nftables; everything lives in namespaces that
// go away on close() or when this process exits.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromiumArgs, chromiumPath } from '../../scripts/chromium.mjs';
import { addLoopbackAddress, removeStaleNamespaces, requireIsolatedRoot, run as runCommand } from './namespaces.ts';

export interface NatHost {
  readonly namespace: string;
  readonly router: string;
  /** The router's WAN address, as the coordinator sees every packet of this contributor. */
  readonly publicAddress: string;
  /** This namespace's end of the WAN link: where the contributor reaches the server. */
  readonly serverAddress: string;
  readonly blocksDirect: boolean;
  /** Playwright's executablePath: Chromium inside the contributor's namespace. */
  readonly chromiumWrapper: string;
  originFor(port: number): string;
  chromiumArgsFor(port: number): string[];
}

export interface NatNet {
  readonly hosts: NatHost[];
  close(): void;
}

const NAMES = /^sg[nr]-(\d+)-\d+$/;

const run = (command: string, args: string[], input?: string) => runCommand('NAT net', command, args, input);

/**
 * One contributor machine and its router per entry of `blocksDirect`; `turn` is the TURN
 * server's address and UDP port that a blocking router still lets through.
 */
export function createNatNet(blocksDirect: readonly boolean[], turn: { address: string; port: number }): NatNet {
  requireIsolatedRoot('NAT routers');
  removeStaleNamespaces(NAMES);
  const wrapperDir = mkdtempSync(join(tmpdir(), 'swarmgrad-nat-'));
  const namespaces: string[] = [];
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    process.off('exit', close);
    for (const ns of namespaces) run('ip', ['netns', 'del', ns]);
    rmSync(wrapperDir, { recursive: true, force: true });
  };
  process.on('exit', close);
  const hosts: NatHost[] = [];
  try {
    blocksDirect.forEach((blocks, i) => {
      const n = i + 1;
      const [host, router] = [`sgn-${process.pid}-${n}`, `sgr-${process.pid}-${n}`];
      const [serverAddress, publicAddress] = [`198.18.${100 + n}.1`, `198.18.${100 + n}.2`];
      const [lanRouter, lanHost] = [`192.168.${n}.1`, `192.168.${n}.2`];
      for (const ns of [router, host]) {
        run('ip', ['netns', 'add', ns]);
        namespaces.push(ns);
        run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      }
      // WAN: this namespace ↔ the router.
      run('ip', ['link', 'add', `snw${n}`, 'type', 'veth', 'peer', 'name', 'wan', 'netns', router]);
      run('ip', ['addr', 'add', `${serverAddress}/24`, 'dev', `snw${n}`]);
      run('ip', ['link', 'set', `snw${n}`, 'up']);
      run('ip', ['-n', router, 'addr', 'add', `${publicAddress}/24`, 'dev', 'wan']);
      run('ip', ['-n', router, 'link', 'set', 'wan', 'up']);
      run('ip', ['-n', router, 'route', 'add', 'default', 'via', serverAddress]);
      // LAN: the router ↔ the contributor's machine.
      run('ip', ['-n', router, 'link', 'add', 'lan', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host]);
      run('ip', ['-n', router, 'addr', 'add', `${lanRouter}/24`, 'dev', 'lan']);
      run('ip', ['-n', router, 'link', 'set', 'lan', 'up']);
      run('ip', ['-n', host, 'addr', 'add', `${lanHost}/24`, 'dev', 'eth0']);
      run('ip', ['-n', host, 'link', 'set', 'eth0', 'up']);
      run('ip', ['-n', host, 'route', 'add', 'default', 'via', lanRouter]);
      run('ip', ['netns', 'exec', router, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
      const filter = blocks
        ? `
table inet filter {
  chain forward {
    type filter hook forward priority 0; policy accept;
    ct state established,related accept
    iifname "lan" ip daddr ${turn.address} udp dport ${turn.port} accept
    iifname "lan" meta l4proto udp drop
  }
}`
        : '';
      run('ip', ['netns', 'exec', router, 'nft', '-f', '-'], `
table ip nat {
  chain postrouting {
    type nat hook postrouting priority 100;
    oifname "wan" masquerade
  }
}${filter}
`);
      const chromiumWrapper = join(wrapperDir, `chromium-${n}.sh`);
      writeFileSync(chromiumWrapper, `#!/bin/sh\nexec ip netns exec '${host}' '${chromiumPath()}' "$@"\n`, { mode: 0o755 });
      const originFor = (port: number) => `http://${serverAddress}:${port}`;
      hosts.push({
        namespace: host,
        router,
        publicAddress,
        serverAddress,
        blocksDirect: blocks,
        chromiumWrapper,
        originFor,
        chromiumArgsFor: (port) => [...chromiumArgs(), `--unsafely-treat-insecure-origin-as-secure=${originFor(port)}`],
      });
    });
  } catch (error) {
    close();
    throw error;
  }
  return { hosts, close };
}

export interface TurnServer {
  readonly urls: string[];
  readonly secretFile: string;
  output(): string;
  stop(): Promise<void>;
}

/**
 * coturn (`turnserver`, Debian's package) on `address`:`port` in this namespace, with the REST
 * shared secret that the coordinator hands out credentials for (use-auth-secret).
 */
export async function startTurnServer(address: string, port: number, dir: string): Promise<TurnServer> {
  addLoopbackAddress(address);
  const secret = `e2e-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  const secretFile = join(dir, 'turn-secret');
  writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
  const args = [
    '-n', '--listening-ip', address, '--relay-ip', address, '--listening-port', String(port), '--min-port', '49160', '--max-port', '49400',
    '--use-auth-secret', '--static-auth-secret', secret, '--realm', 'swarmgrad.test', '--fingerprint',
    '--no-tls', '--no-dtls', '--no-tcp-relay', '--no-cli', '--log-file', 'stdout', '--simple-log', '--pidfile', join(dir, 'turnserver.pid'),
  ];
  const child: ChildProcess = spawn('turnserver', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  for (const stream of [child.stdout!, child.stderr!]) stream.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 10_000;
  while (!/listener opened on|Total General servers/i.test(output)) {
    if (child.exitCode !== null) throw new Error(`turnserver exited at start:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`turnserver did not start within 10 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    urls: [`turn:${address}:${port}?transport=udp`],
    secretFile,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
