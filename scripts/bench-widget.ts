// The widget row of `npm run bench`: the demo game's frame times with the embedded widget
// computing against the same page with the widget paused by its host, side by side in one
// run, alternating, several times, idle and with a CPU hog on every core. Reports each
// condition's p95 and median frame interval (median and spread over the repetitions), the
// ratio of the medians, results counted while computing, and the duty cycle the throttle chose.
//
//   node --import tsx scripts/bench-widget.ts --site DIR [--reps 5] [--seconds 5] [--load idle,hog]
//                                             [--coordinator-nice 10] [--out FILE.json]
//
// The coordinator runs on this machine too, but on a volunteer's laptop it would not: it
// runs at a lower priority (--coordinator-nice) so that what is measured is the widget's
// cost, not the coordinator's. --coordinator-nice 0 measures it at equal priority.
// It re-runs itself inside ../shared/isolated-net when that exists: WebRTC stays on this machine.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type Frame, type Page } from 'playwright-core';
import { freePort, startJobServer, type JobServer } from '../e2e/support/jobServer.ts';
import type { RunStatusSnapshot } from '../src/server/runStatus.ts';
import { droppedFrames, medianOf, percentileOf } from '../src/widget/throttle.ts';
import { chromiumArgs, chromiumPath } from './chromium.mjs';

const isolate = resolve('..', 'shared', 'isolated-net');
if (process.env.ISOLATED_NET_INSIDE !== '1' && existsSync(isolate)) {
  const rerun = spawnSync(isolate, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(rerun.status ?? 1);
}

/** The bar: the game's p95 frame interval with the widget computing within this factor of it paused. */
export const WIDGET_BAR = 1.1;
const JOB_FILE = 'e2e/jobs/widget.json';
const SETTLE_MS = 1000;

type Load = 'idle' | 'hog';

export interface FrameStats {
  p95: number;
  median: number;
  frames: number;
  dropped: number;
}

export interface WidgetRow {
  load: Load;
  reps: number;
  paused: FrameStats[];
  computing: FrameStats[];
  /** Median over repetitions of each condition's p95, and their ratio. */
  pausedP95: number;
  computingP95: number;
  ratio: number;
  resultsWhileComputing: number;
  dutyCycles: number[];
}


async function measureFrames(page: Page, ms: number): Promise<FrameStats> {
  await page.waitForTimeout(SETTLE_MS);
  await page.evaluate(() => ((window as unknown as { gameFrameTimes: number[] }).gameFrameTimes = []));
  await page.waitForTimeout(ms);
  const times = await page.evaluate(() => (window as unknown as { gameFrameTimes: number[] }).gameFrameTimes);
  // The same count of dropped frames as the widget's own monitor, against a 60 Hz cadence.
  return { p95: percentileOf(times, 0.95), median: medianOf(times), frames: times.length, dropped: droppedFrames(times, 1000 / 60) };
}

/** A busy loop on every core at normal priority: another program on the visitor's laptop. */
function startHog(): ChildProcess {
  const code = `const { Worker } = require('node:worker_threads');
for (let i = 0; i < ${cpus().length}; i++) new Worker('for (;;) {}', { eval: true });`;
  return spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
}

async function widgetFrame(page: Page): Promise<Frame> {
  for (let i = 0; i < 600; i++) {
    const frame = page.frames().find((f) => f.url().includes('/embed.html'));
    if (frame) {
      await frame.waitForSelector('#donate:not([disabled])', { timeout: 60_000 });
      return frame;
    }
    await page.waitForTimeout(100);
  }
  throw new Error('the widget frame did not load');
}

async function counted(server: JobServer): Promise<number> {
  const s = (await (await fetch(`${server.origin}/api/status`)).json()) as RunStatusSnapshot;
  return s.contributors.reduce((n, c) => n + c.tasks, 0);
}

const setWidget = (page: Page, running: boolean) =>
  page.evaluate((on) => {
    const w = document.querySelector('swarmgrad-widget') as unknown as { pause(): void; resume(): void };
    if (on) w.resume();
    else w.pause();
  }, running);

const duty = (page: Page) =>
  page.evaluate(() => (document.querySelector('swarmgrad-widget') as unknown as { lastStatus: { dutyCycle: number } | null }).lastStatus?.dutyCycle ?? Number.NaN);

async function widgetRow(site: string, work: string, load: Load, reps: number, seconds: number, nice: number): Promise<WidgetRow> {
  const server = await startJobServer({ job: JOB_FILE, port: await freePort(), out: join(work, `run-${load}`), fresh: true, nice, extraArgs: ['--site', site, '--stay'] });
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: chromiumArgs() });
  let hog: ChildProcess | null = null;
  try {
    const page = await browser.newPage();
    const game = server.origin.replace('127.0.0.1', 'localhost');
    await page.goto(`${game}/demo/game.html?coordinator=${encodeURIComponent(server.origin)}&project=${encodeURIComponent((await (await fetch(`${server.origin}/api/job`)).json()).id)}`);
    const frame = await widgetFrame(page);
    await frame.getByRole('button', { name: 'Donate my GPU' }).click();
    const deadline = Date.now() + 180_000;
    while ((await counted(server)) === 0) {
      if (Date.now() > deadline) throw new Error(`the widget counted no result within 180 s:\n${server.output()}`);
      await page.waitForTimeout(500);
    }
    if (load === 'hog') hog = startHog();
    const paused: FrameStats[] = [];
    const computing: FrameStats[] = [];
    const dutyCycles: number[] = [];
    let results = 0;
    for (let rep = 0; rep < reps; rep++) {
      await setWidget(page, false);
      paused.push(await measureFrames(page, seconds * 1000));
      await setWidget(page, true);
      const before = await counted(server);
      computing.push(await measureFrames(page, seconds * 1000));
      results += (await counted(server)) - before;
      dutyCycles.push(await duty(page));
      console.log(
        `  ${load} rep ${rep + 1}: paused p95 ${paused.at(-1)!.p95.toFixed(2)} ms (${paused.at(-1)!.dropped} dropped), ` +
          `computing p95 ${computing.at(-1)!.p95.toFixed(2)} ms (${computing.at(-1)!.dropped} dropped), duty cycle ${dutyCycles.at(-1)!.toFixed(3)}`,
      );
    }
    const pausedP95 = medianOf(paused.map((s) => s.p95));
    const computingP95 = medianOf(computing.map((s) => s.p95));
    return { load, reps, paused, computing, pausedP95, computingP95, ratio: computingP95 / pausedP95, resultsWhileComputing: results, dutyCycles };
  } finally {
    hog?.kill('SIGKILL');
    await browser.close();
    await server.kill('SIGTERM');
  }
}

const spread = (xs: number[]) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;

export function widgetTable(rows: WidgetRow[]): string {
  return [
    '| load | game p95, widget paused (spread) | game p95, widget computing (spread) | ratio | dropped frames paused / computing | results while computing | duty cycle |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => {
      const drops = (s: FrameStats[]) => s.reduce((n, x) => n + x.dropped, 0);
      return (
        `| ${r.load} | ${r.pausedP95.toFixed(2)} ms (${spread(r.paused.map((s) => s.p95))}) | ${r.computingP95.toFixed(2)} ms (${spread(r.computing.map((s) => s.p95))}) | ` +
        `${r.ratio.toFixed(3)} | ${drops(r.paused)} / ${drops(r.computing)} | ${r.resultsWhileComputing} | ${spread(r.dutyCycles)} |`
      );
    }),
  ].join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      site: { type: 'string', default: 'dist' },
      out: { type: 'string' },
      reps: { type: 'string', default: '5' },
      seconds: { type: 'string', default: '5' },
      load: { type: 'string', default: 'idle,hog' },
      'coordinator-nice': { type: 'string', default: '10' },
    },
  });
  const reps = Number(values.reps);
  const seconds = Number(values.seconds);
  const nice = Number(values['coordinator-nice']);
  const loads = values.load!.split(',') as Load[];
  if (!(Number.isInteger(reps) && reps > 0)) throw new Error(`--reps must be a positive integer, got ${values.reps}`);
  if (!(seconds > 0)) throw new Error(`--seconds must be positive, got ${values.seconds}`);
  if (!(Number.isInteger(nice) && nice >= 0 && nice <= 19)) throw new Error(`--coordinator-nice must be 0–19, got ${values['coordinator-nice']}`);
  for (const l of loads) if (l !== 'idle' && l !== 'hog') throw new Error(`--load takes idle and/or hog, got ${l}`);
  const site = resolve(values.site!);
  if (!existsSync(join(site, 'embed.html'))) throw new Error(`${site} has no built pages: run \`npx vite build\` first`);
  const work = mkdtempSync(join(tmpdir(), 'swarmgrad-bench-widget-'));
  try {
    const rows: WidgetRow[] = [];
    for (const load of loads) {
      console.log(`widget: the demo game, widget paused vs computing, ${load}, ${reps} × ${seconds} s each (coordinator at nice ${nice})…`);
      rows.push(await widgetRow(site, work, load, reps, seconds, nice));
    }
    const checks = rows.map((r) => ({
      id: `widget-frames-${r.load}`,
      description: `the game's p95 frame interval with the widget computing ≤ ${WIDGET_BAR}× paused (${r.load}, median of ${r.reps})`,
      pass: r.ratio <= WIDGET_BAR && r.resultsWhileComputing > 0,
      detail: `${r.computingP95.toFixed(2)} vs ${r.pausedP95.toFixed(2)} ms, ratio ${r.ratio.toFixed(3)}, ${r.resultsWhileComputing} results`,
    }));
    console.log(`\nWidget (demo game, side by side)\n${widgetTable(rows)}\n`);
    for (const c of checks) console.log(`${c.pass ? 'PASS' : 'FAIL'} ${c.description}: ${c.detail}`);
    if (values.out) writeFileSync(values.out, JSON.stringify({ rows, checks }, null, 2) + '\n');
    return checks.every((c) => c.pass) ? 0 : 1;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`widget bench failed: ${(error as Error).stack ?? error}`);
    process.exit(2);
  },
);
