// `npm test`: the whole suite, in the order that fails fastest. Typecheck; unit tests in
// Node; kernel, model and worker tests in Chromium with WebGPU; end-to-end tests of the
// built pages (inside ../shared/isolated-net when present). Ends with one summary line.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';

mkdirSync('test-results', { recursive: true });
const VITEST_JSON = 'test-results/vitest.json';
const E2E_JSON = 'test-results/e2e.json';
for (const f of [VITEST_JSON, E2E_JSON]) rmSync(f, { force: true });

const phases = [];
const run = (label, cmd, args) => {
  console.log(`\n── ${label} ──`);
  const started = Date.now();
  const status = spawnSync(cmd, args, { stdio: 'inherit' }).status ?? 1;
  phases.push({ label, seconds: (Date.now() - started) / 1000, status });
  if (status !== 0) console.log(`${label}: failed (exit ${status})`);
  return status;
};
const clock = (seconds) => `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;

const extra = process.argv.slice(2);
const steps = [
  run('typecheck', 'npx', ['tsc', '--noEmit', '-p', 'tsconfig.json']),
  run('unit and GPU tests (vitest)', 'npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile=${VITEST_JSON}`, ...extra]),
  run('end-to-end tests (playwright)', 'node', ['scripts/e2e.mjs']),
];

let passed = 0;
let failed = 0;
let skipped = 0;
if (existsSync(VITEST_JSON)) {
  const v = JSON.parse(readFileSync(VITEST_JSON, 'utf8'));
  passed += v.numPassedTests;
  failed += v.numFailedTests;
  skipped += v.numPendingTests + v.numTodoTests;
}
if (existsSync(E2E_JSON)) {
  const s = JSON.parse(readFileSync(E2E_JSON, 'utf8')).stats;
  passed += s.expected + s.flaky;
  failed += s.unexpected;
  skipped += s.skipped;
}
// A step that failed without reporting tests (a type error, a crashed runner) still fails.
const failedSteps = steps.filter((s) => s !== 0).length;
console.log('\nphases:');
for (const p of phases) console.log(`  ${clock(p.seconds).padStart(7)}  ${p.label}${p.status === 0 ? '' : ` (failed, exit ${p.status})`}`);
console.log(`  ${clock(phases.reduce((n, p) => n + p.seconds, 0)).padStart(7)}  in all`);
console.log(`\n${passed} passed, ${failed + (failed === 0 ? failedSteps : 0)} failed, ${skipped} skipped`);
process.exit(failedSteps ? 1 : 0);
