// Builds the pages, then runs the Playwright end-to-end tests. On this project's machines
// they run inside ../shared/isolated-net (a network namespace with only loopback and a
// private veth pair): WebRTC between the browsers and the coordinator never leaves it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const run = (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit' }).status ?? 1;

if (run('npx', ['vite', 'build', '--logLevel', 'warn']) !== 0) process.exit(1);

const isolate = resolve('..', 'shared', 'isolated-net');
const playwright = ['npx', 'playwright', 'test', ...process.argv.slice(2)];
if (existsSync(isolate)) {
  process.exit(run(isolate, playwright));
}
console.warn(`note: ${isolate} not found; running end-to-end tests in the normal network namespace`);
process.exit(run(playwright[0], playwright.slice(1)));
