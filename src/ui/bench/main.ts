// The benchmark page: detects the adapter, runs every registered suite, and shows the tables,
// charts and checks as they come. `?sizes=256,1024&quick=1&auto=1` sets it up from the URL,
// which is how `npm run bench` and the end-to-end test drive it.

import '../styles.css';
import './bench.css';
import { wasmThreadCount } from '../../bench/matmul/onnxruntime.ts';
import { REPORT_FORMAT, reportJson, type BenchPageState, type BenchReport } from '../../bench/report.ts';
import { runBench } from '../../bench/runner.ts';
import { parseBenchSettings, settingsQuery, type BenchSettings } from '../../bench/settings.ts';
import { benchSuites } from '../../bench/suites.ts';
import { textReport } from '../../bench/table.ts';
import { GpuContext, type AdapterReport } from '../../gpu/context.ts';
import { byId, el, setFacts } from '../dom.ts';
import { ResultsView } from './resultsView.ts';

const form = byId<HTMLFormElement>('settings');
const runButton = byId<HTMLButtonElement>('run');
const stopButton = byId<HTMLButtonElement>('stop');
const downloadButton = byId<HTMLButtonElement>('download');
const deviceStatus = byId('device-status');
const benchStatus = byId('bench-status');
const settingsError = byId('settings-error');
const logView = byId('log');
const results = new ResultsView(byId('results'), byId('checks'));

const page: BenchPageState = { state: 'idle', rows: [], checks: [], adapter: null };
window.swarmgradBench = page;
let abort: AbortController | null = null;
const t0 = performance.now();

/** Each line goes to the page and to the console, where `npm run bench` streams it from. */
function log(message: string): void {
  const line = `[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${message}`;
  logView.append(line + '\n');
  logView.scrollTop = logView.scrollHeight;
  console.log(`[bench] ${line}`);
}

async function detectAdapter(): Promise<AdapterReport | null> {
  try {
    const ctx = await GpuContext.create();
    const report = ctx.report;
    ctx.destroy();
    return report;
  } catch (error) {
    deviceStatus.textContent = `No WebGPU here: ${(error as Error).message} The WebGPU rows will fail; onnxruntime-web's WASM rows still run.`;
    deviceStatus.className = 'bad';
    return null;
  }
}

function showDevice(adapter: AdapterReport | null): void {
  const facts: [string, string][] = [];
  if (adapter) {
    const name = [adapter.vendor, adapter.architecture, adapter.device, adapter.description].filter(Boolean).join(' ') || 'unnamed adapter';
    facts.push(['Adapter', `${name}${adapter.isFallbackAdapter ? ' (software fallback)' : ''}`]);
    facts.push(['Timestamp queries', adapter.features.includes('timestamp-query') ? 'yes: kernels timed on the GPU' : 'no: wall-clock timing']);
    facts.push(['Workgroup memory', `${adapter.limits.maxComputeWorkgroupStorageSize} bytes`]);
    deviceStatus.textContent = adapter.isFallbackAdapter ? 'A software (fallback) GPU adapter: correct, but slow.' : 'WebGPU adapter found.';
  }
  facts.push(['Logical cores', String(navigator.hardwareConcurrency || 'unknown')]);
  facts.push(['Cross-origin isolated', globalThis.crossOriginIsolated ? 'yes' : 'no (onnxruntime-web WASM runs on one thread)']);
  facts.push(['onnxruntime-web WASM threads', String(wasmThreadCount())]);
  setFacts(byId('device-facts'), facts);
}

function showSettings(s: BenchSettings): void {
  (form.elements.namedItem('sizes') as HTMLInputElement).value = s.sizes.join(',');
  (form.elements.namedItem('quick') as HTMLInputElement).checked = s.quick;
  (form.elements.namedItem('cap') as HTMLInputElement).value = String(s.capMs / 1000);
}

function settingsFromForm(): BenchSettings {
  const f = new FormData(form);
  const params = new URLSearchParams({ sizes: String(f.get('sizes') ?? ''), cap: String(f.get('cap') ?? '') });
  if (f.get('quick')) params.set('quick', '1');
  return parseBenchSettings(params);
}

function setRunning(running: boolean): void {
  runButton.disabled = running;
  stopButton.disabled = !running;
  downloadButton.disabled = running || !page.report;
}

async function run(settings: BenchSettings): Promise<void> {
  abort = new AbortController();
  Object.assign(page, { state: 'running', rows: [], checks: [], error: undefined, report: undefined });
  setRunning(true);
  results.clear();
  const suites = benchSuites(settings);
  const startedAt = new Date().toISOString();
  log(`Measuring sizes ${settings.sizes.join(', ')}${settings.quick ? ' (quick run)' : ''}`);
  try {
    const outcome = await runBench(
      suites,
      {
        log,
        row: (row) => {
          page.rows.push(row);
          results.showRows(suites, page.rows);
        },
        suiteStarted: (suite, i) => (benchStatus.textContent = `Suite ${i + 1} of ${suites.length}: ${suite.title}…`),
      },
      abort.signal,
    );
    page.checks = outcome.checks;
    results.showChecks(outcome.checks);
    const report: BenchReport = {
      format: REPORT_FORMAT,
      startedAt,
      finishedAt: new Date().toISOString(),
      settings,
      environment: {
        userAgent: navigator.userAgent,
        hardwareConcurrency: navigator.hardwareConcurrency,
        crossOriginIsolated: globalThis.crossOriginIsolated === true,
      },
      adapter: page.adapter,
      rows: outcome.rows,
      checks: outcome.checks,
      text: textReport(suites, outcome.rows, outcome.checks),
    };
    page.report = report;
    page.state = 'done';
    const passed = outcome.checks.filter((c) => c.pass).length;
    benchStatus.textContent = `Done in ${((Date.parse(report.finishedAt) - Date.parse(startedAt)) / 1000).toFixed(0)} s: ${passed} of ${outcome.checks.length} checks pass.`;
    benchStatus.className = passed === outcome.checks.length ? 'good' : 'bad';
    log(benchStatus.textContent);
  } catch (error) {
    const message = (error as Error).message;
    page.error = message;
    page.state = abort.signal.aborted ? 'stopped' : 'failed';
    benchStatus.textContent = abort.signal.aborted ? 'Stopped: the figures so far are in the table, not in a report.' : `The benchmark failed: ${message}`;
    benchStatus.className = abort.signal.aborted ? 'warn' : 'bad';
    log(benchStatus.textContent);
  } finally {
    setRunning(false);
  }
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  let settings: BenchSettings;
  try {
    settings = settingsFromForm();
  } catch (error) {
    // The form keeps what was typed, so it can be corrected.
    settingsError.textContent = (error as Error).message;
    return;
  }
  settingsError.textContent = '';
  history.replaceState(null, '', `?${settingsQuery(settings)}`);
  void run(settings);
});

stopButton.addEventListener('click', () => abort?.abort(new Error('stopped from the page')));

downloadButton.addEventListener('click', () => {
  if (!page.report) return;
  const url = URL.createObjectURL(new Blob([reportJson(page.report)], { type: 'application/json' }));
  const link = el('a', { href: url, download: `swarmgrad-bench-${page.report.startedAt.replace(/[:.]/g, '-')}.json` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
});

async function start(): Promise<void> {
  results.clear();
  let settings: BenchSettings | null = null;
  try {
    settings = parseBenchSettings(new URLSearchParams(location.search));
    showSettings(settings);
  } catch (error) {
    // Nothing runs; the form keeps its defaults so that a corrected run is one click away.
    const message = `The page address has a bad setting: ${(error as Error).message}`;
    Object.assign(page, { state: 'failed', error: message });
    settingsError.textContent = message;
    log(message);
  }
  page.adapter = await detectAdapter();
  showDevice(page.adapter);
  runButton.disabled = false;
  if (settings?.auto) await run(settings);
}

void start();
