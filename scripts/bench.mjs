// `npm run bench`: builds the pages, serves them with `vite preview`, runs bench.html in
// headless Chromium (real WebGPU; SwiftShader without a GPU), streams its log, prints the
// tables and checks, then runs the network row (scripts/bench-network.ts: one contributor
// through the real server vs the same browser training locally), the widget row
// (scripts/bench-widget.ts: the demo game's frames with the widget computing vs paused), the
// swarm row (scripts/bench-swarm.ts: contributors behind 20/5 Mbit/s links, the every-step
// baseline against local steps, and 1, 2, 4 contributors against the same browsers training
// locally; ~25 min, not with --quick) and the long adversarial run (480 rounds, clean run in
// the browsers; not with --quick), writes bench-results.json, and fails if a check fails.
//
// After the page, PyTorch CPU eager trains the page's CNN (issue 11) at the same batch and
// thread counts (scripts/torch-train.py --speed-only), for the bar "our CPU backend ≥ 0.5×
// PyTorch"; where torch is not installed the report says so.
//
//   npm run bench                          sizes 256, 512, 1024, 2048
//   npm run bench -- --sizes=256,1024 --cap=10 --quick
//   npm run bench -- --suites=cnn-webgpu,cnn-cpu   those page suites (and PyTorch) alone, no other rows
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright';
import { chromiumArgs, chromiumPath } from './chromium.mjs';

const RESULTS_FILE = 'bench-results.json';
/** The whole session; the page skips slow sizes itself, this only catches a hang. */
const SESSION_TIMEOUT_MS = 30 * 60_000;

function pageQuery(argv) {
  const query = new URLSearchParams({ auto: '1' });
  for (const arg of argv) {
    const m = /^--(sizes|cap|suites)=(.+)$/.exec(arg);
    if (m) query.set(m[1], m[2]);
    else if (arg === '--quick') query.set('quick', '1');
    else throw new Error(`Unknown option ${arg}. Options: --sizes=256,512,1024 --cap=SECONDS --quick --suites=ID,ID`);
  }
  return query;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitForServer(url, child, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`vite preview exited with code ${child.exitCode} before serving ${url}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // Not listening yet: try again shortly.
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`vite preview did not serve ${url} within ${timeoutMs / 1000} s`);
}

/** One benchmark script in its own process: its report (and its checks added to `checks`), or a failed check saying it did not run. */
function runRow(args, reportFile, id, description, checks) {
  const run = spawnSync(process.execPath, args, { stdio: 'inherit' });
  try {
    const report = JSON.parse(readFileSync(reportFile, 'utf8'));
    checks.push(...report.checks);
    return report;
  } catch {
    checks.push({ id, description, pass: false, detail: `exit code ${run.status}` });
    return null;
  }
}

const CNN_SUITE = 'cnn-cpu';
const CNN_TRAIN_ROW = /^CNN trainStep: ours CPU CpuModel, /;
const TORCH_BAR = 0.5;
/** PyTorch runs per thread count; the fastest counts, as the page keeps its fastest repeat. */
const TORCH_RUNS = 3;

/**
 * PyTorch CPU eager training images/s of the page's CNN (the same model, batch, thread
 * counts and AdamW) and the bar ours ≥ 0.5× it, pushed into `checks`; null when the page
 * measured no CNN training. Without torch: a report saying so, and no check.
 */
function runTorchBaseline(rows, checks) {
  const ours = rows.filter((r) => r.suite === CNN_SUITE && CNN_TRAIN_ROW.test(r.name) && Number.isFinite(r.value));
  if (ours.length === 0) return null;
  const probe = spawnSync('python3', ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    const reason = probe.error ? `python3 did not start (${probe.error.message})` : `python3 -c "import torch" failed: ${(probe.stderr || '').trim().split('\n').pop()}`;
    console.log(`\nPyTorch is not installed here (${reason}): the CNN's PyTorch baseline and its ≥ ${TORCH_BAR}× bar are not measured.`);
    return { available: false, reason, rows: [] };
  }
  const { model, optimizer, batch, modelSource } = ours[0].details;
  const dir = mkdtempSync(join(tmpdir(), 'swarmgrad-torch-'));
  const jobFile = join(dir, 'cnn-job.json');
  const { lr, beta1, beta2, eps, weightDecay } = optimizer;
  writeFileSync(jobFile, JSON.stringify({ name: `the bench's CNN (${modelSource})`, model, optimizer: { kind: 'adamw', lr, beta1, beta2, eps, weightDecay } }));
  console.log(`\nPyTorch ${probe.stdout.trim()} CPU eager, the same CNN, batch ${batch}, AdamW (scripts/torch-train.py --speed-only, ${TORCH_RUNS} runs per thread count):`);
  const result = { available: true, torch: probe.stdout.trim(), rows: [] };
  try {
    for (const row of ours) {
      const threads = row.details.threads;
      const runs = [];
      for (let i = 0; i < TORCH_RUNS; i++) {
        const run = spawnSync('python3', ['scripts/torch-train.py', jobFile, '--speed-only', '--batch', String(batch), '--threads', String(threads), '--steps', '40'], { encoding: 'utf8' });
        const line = run.stdout?.trim().split('\n').pop();
        try {
          runs.push(JSON.parse(line).imagesPerSecond);
        } catch {
          throw new Error(`scripts/torch-train.py exited with code ${run.status} without its JSON line: ${(run.stderr || '').trim().split('\n').slice(-3).join(' | ')}`);
        }
      }
      const torch = Math.max(...runs);
      const ratio = row.value / torch;
      const fmt = (x) => Math.round(x).toLocaleString('en-US');
      console.log(`  ${threads} thread(s): PyTorch ${fmt(torch)} images/s (runs ${runs.map(fmt).join(', ')}); ours CpuModel ${fmt(row.value)}: ${ratio.toFixed(2)}×`);
      result.rows.push({ threads, batch, imagesPerSecond: torch, runs, ours: row.value, ratio });
      checks.push({
        bar: `CNN training (issue 11), batch ${batch}, ${threads} thread(s): our CPU backend ≥ ${TORCH_BAR}× PyTorch CPU eager's images/s`,
        pass: ratio >= TORCH_BAR,
        detail: `ours CpuModel ${fmt(row.value)} vs PyTorch ${fmt(torch)} images/s: ${ratio.toFixed(2)}×`,
      });
    }
  } catch (error) {
    console.log(`  PyTorch failed: ${error.message}`);
    checks.push({ bar: `CNN training (issue 11): the PyTorch baseline runs`, pass: false, detail: error.message });
    result.error = error.message;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

async function main() {
  const query = pageQuery(process.argv.slice(2));
  const started = Date.now();
  // A build of its own: dist/ may be served to someone else's end-to-end run at this moment.
  const outDir = mkdtempSync(join(tmpdir(), 'swarmgrad-bench-'));
  let preview = null;
  let browser;
  try {
    console.log(`Building the pages into ${outDir} (vite build)…`);
    if (spawnSync('npx', ['vite', 'build', '--logLevel', 'warn', '--outDir', outDir, '--emptyOutDir'], { stdio: 'inherit' }).status !== 0) {
      throw new Error('vite build failed; fix the build errors above and run npm run bench again');
    }
    const port = await freePort();
    // Its own process group, so that stopping it also stops the server npx started.
    preview = spawn('npx', ['vite', 'preview', '--outDir', outDir, '--port', String(port), '--strictPort', '--host', '127.0.0.1'], {
      stdio: ['ignore', 'ignore', 'inherit'],
      detached: true,
    });
    const base = `http://127.0.0.1:${port}`;
    await waitForServer(`${base}/bench.html`, preview);
    browser = await chromium.launch({ executablePath: chromiumPath(), args: chromiumArgs() });
    const page = await browser.newPage();
    page.on('console', (msg) => {
      const text = msg.text();
      if (text.startsWith('[bench] ')) console.log(text.slice(8));
      else if (msg.type() === 'error' || msg.type() === 'warning') console.log(`(page ${msg.type()}) ${text}`);
    });
    page.on('pageerror', (error) => console.log(`(page error) ${error.stack ?? error.message}`));
    page.on('response', (res) => {
      if (res.status() >= 400) console.log(`(page) HTTP ${res.status()} for ${res.url()}`);
    });
    const url = `${base}/bench.html?${query}`;
    console.log(`Opening ${url}`);
    await page.goto(url);
    await page.waitForFunction(() => ['done', 'failed', 'stopped'].includes(window.swarmgradBench?.state ?? ''), null, {
      timeout: SESSION_TIMEOUT_MS,
      polling: 1000,
    });
    const bench = await page.evaluate(() => window.swarmgradBench);
    if (bench.state !== 'done' || !bench.report) {
      throw new Error(`The benchmark page ended in state "${bench.state}": ${bench.error ?? 'no error message'}`);
    }
    console.log(`\n${bench.report.text}\n`);
    await browser.close();
    browser = null;

    const checks = [...bench.report.checks];
    const torch = runTorchBaseline(bench.report.rows, checks);
    if (query.has('suites')) {
      // A partial run: the page's chosen suites (and PyTorch) only.
      writeFileSync(RESULTS_FILE, JSON.stringify({ ...bench.report, torch, checks }, null, 2) + '\n');
      for (const c of checks) console.log(`${c.pass ? 'PASS' : 'FAIL'}  ${c.bar}: ${c.detail}`);
      const failed = checks.filter((c) => !c.pass).length;
      console.log(`Wrote ${RESULTS_FILE} (suites ${query.get('suites')} only). ${checks.length - failed} of ${checks.length} checks pass; ${((Date.now() - started) / 1000).toFixed(0)} s in all.`);
      return failed === 0 ? 0 : 1;
    }

    // The network row needs the real server and WebRTC, so it runs in its own process
    // (inside ../shared/isolated-net) against the same build.
    const networkFile = join(outDir, 'network.json');
    // The CPU backend's own training rate from the page is a second local baseline: the
    // network row is judged against the faster of it and train.html.
    const backendRow = bench.report.rows.find((r) => r.suite === 'cpu-mlp' && /^ours CPU backend, 2 threads/.test(r.name) && Number.isFinite(r.value));
    const networkArgs = ['--import', 'tsx', 'scripts/bench-network.ts', '--site', outDir, '--out', networkFile];
    if (backendRow) networkArgs.push('--backend-rate', String(backendRow.value));
    const networkReport = runRow(networkArgs, networkFile, 'network-vs-local', 'the network benchmark ran', checks);
    // The widget row: the demo game's frame times with the widget computing vs paused, idle and under a CPU hog.
    const widgetFile = join(outDir, 'widget.json');
    const widgetArgs = ['--import', 'tsx', 'scripts/bench-widget.ts', '--site', outDir, '--out', widgetFile];
    const widgetReport = runRow(widgetArgs, widgetFile, 'widget-frames', 'the widget benchmark ran', checks);
    // The swarm row: shaped links like users' own (issue 13's bars: time to 88%, bytes per example, accuracy, scaling).
    let swarmReport = null;
    if (!process.argv.includes('--quick')) {
      const swarmFile = join(outDir, 'swarm.json');
      const swarmArgs = ['--import', 'tsx', 'scripts/bench-swarm.ts', '--site', outDir, '--out', swarmFile];
      swarmReport = runRow(swarmArgs, swarmFile, 'swarm', 'the swarm benchmark ran', checks);
    }
    // The long adversarial run: 480 rounds, the clean run with the same real browsers (CI runs 160 against a simulated clean run).
    if (!process.argv.includes('--quick')) {
      const adversarial = spawnSync(process.execPath, ['scripts/e2e.mjs', 'e2e/adversarial.spec.ts'], {
        stdio: 'inherit',
        env: { ...process.env, SWARMGRAD_ADVERSARIAL_ROUNDS: '480', SWARMGRAD_ADVERSARIAL_CLEAN: 'browsers' },
      });
      checks.push({
        id: 'adversarial-long',
        description: 'adversarial e2e, 480 rounds, clean run in the browsers: every cheater banned, none counted, accuracy within 1 point',
        pass: adversarial.status === 0,
        detail: `exit code ${adversarial.status}`,
      });
    }
    // Verification overhead (screening, spot checks, replication on suspicion, aggregation rules): Node only, real data.
    const verificationFile = join(outDir, 'verification.json');
    spawnSync(process.execPath, ['--import', 'tsx', 'scripts/bench-verification.ts', '--out', verificationFile], { stdio: 'inherit' });
    let verification = null;
    try {
      verification = JSON.parse(readFileSync(verificationFile, 'utf8'));
    } catch {
      console.warn('The verification benchmark did not write its figures (see above).');
    }
    writeFileSync(RESULTS_FILE, JSON.stringify({ ...bench.report, torch, network: networkReport, widget: widgetReport, swarm: swarmReport, verification, checks }, null, 2) + '\n');
    const failed = checks.filter((c) => !c.pass).length;
    console.log(`Wrote ${RESULTS_FILE}. ${checks.length - failed} of ${checks.length} checks pass; ${((Date.now() - started) / 1000).toFixed(0)} s in all.`);
    return failed === 0 ? 0 : 1;
  } finally {
    await browser?.close();
    if (preview) {
      try {
        process.kill(-preview.pid, 'SIGTERM');
      } catch (error) {
        if (error.code !== 'ESRCH') console.warn(`Could not stop vite preview (pid ${preview.pid}): ${error.message}`);
      }
    }
    rmSync(outDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`npm run bench failed: ${error.message}`);
    process.exit(1);
  },
);
