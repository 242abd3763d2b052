// What the tests that build networks share (shaped links, NAT routers, an address of their
// own): running `ip`/`tc`/`nft` with errors that say which command failed, the check that they
// run as root inside ../shared/isolated-net, and the removal of namespaces that a killed test
// process left behind.

import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

/** Runs `command`; a failure names the command, its arguments and its stderr, after `what`. */
export function run(what: string, command: string, args: string[], input?: string): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', input, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? '').trim();
    throw new Error(`${what}: \`${command} ${args.join(' ')}\` failed: ${stderr || (error as Error).message}`);
  }
}

export function requireIsolatedRoot(what: string): void {
  if (process.getuid?.() !== 0 || process.env.ISOLATED_NET_INSIDE !== '1') {
    throw new Error(`${what} need root inside a network namespace of their own: run inside ../shared/isolated-net (\`node scripts/e2e.mjs FILE\` does for e2e tests), as root`);
  }
}

/** Namespaces named by `pattern` (its group 1: the pid of the process that made them) whose process is gone. */
export function removeStaleNamespaces(pattern: RegExp): void {
  let names: string[];
  try {
    names = readdirSync('/run/netns');
  } catch {
    return; // no namespace was ever added on this machine
  }
  for (const name of names) {
    const owner = pattern.exec(name)?.[1];
    if (owner && !processAlive(Number(owner))) run('stale namespaces', 'ip', ['netns', 'del', name]);
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Puts `address`/32 on this namespace's loopback device, unless it is there already. */
export function addLoopbackAddress(address: string): void {
  const present = run('loopback address', 'ip', ['-4', 'addr', 'show', 'dev', 'lo']);
  if (!present.includes(`${address}/`)) run('loopback address', 'ip', ['addr', 'add', `${address}/32`, 'dev', 'lo']);
}
