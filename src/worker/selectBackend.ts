// Backend selection: time each available backend on the job's own model and micro-batch
// for about a second (gradients of real micro-batches, after a warm-up) and keep the
// fastest, unless the visitor named one. The policy is pure; the timing drives real
// backends; the result travels in BackendReport.selection.

import { randomDataset, tokenWindowsOf, type ImageDataset } from '../data/dataset.ts';
import type { OptimizerHyper } from '../kernels/optimizer.ts';
import { initModelParameters, type ResolvedModel } from '../model/layers/spec.ts';
import { Random } from '../util/random.ts';
import type { BackendChoice, BackendMeasurement, BackendReport, BackendSelection } from './api.ts';
import type { BackendFactory, TrainingBackend } from './backend.ts';

export type BackendKind = BackendMeasurement['backend'];

export const DEFAULT_SELECTION_BATCH = 128;
export const DEFAULT_SELECTION_BUDGET_MS = 1000;
/**
 * A candidate that cannot even start (create, load, warm up) within this long loses: a
 * software GPU adapter spends tens of seconds compiling pipelines, and a visitor should not
 * wait that long to learn it would have been the slower choice anyway.
 */
export const DEFAULT_STARTUP_BUDGET_MS = 6000;
/**
 * When every candidate missed the start-up budget the device is busy, not unable: the CPU is
 * tried once more with this long (a page that loads while other tabs or a game load the cores
 * would otherwise be told it cannot contribute at all).
 */
export const DEFAULT_BUSY_STARTUP_BUDGET_MS = 90_000;
const WARMUP_RUNS = 2;
const MIN_RUNS = 3;

const TITLE: Record<BackendKind, string> = { webgpu: 'WebGPU', cpu: 'CPU' };
const rate = (x: number) => `${Math.round(x).toLocaleString('en-US')} examples/s`;

/** The pure policy: a named backend wins outright; 'auto' takes the most examples per second. */
export function chooseBackend(requested: BackendChoice, candidates: BackendMeasurement[]): { chosen: BackendKind; reason: string } {
  if (requested === 'webgpu' || requested === 'cpu') return { chosen: requested, reason: `${TITLE[requested]}, chosen by the visitor` };
  if (requested !== 'auto') throw new Error(`The backend is 'webgpu', 'cpu' or 'auto', got ${JSON.stringify(requested)}`);
  const working = candidates.filter((c) => c.examplesPerSecond !== null && c.examplesPerSecond > 0);
  if (working.length === 0) {
    const why = candidates.map((c) => `${TITLE[c.backend]}: ${c.error ?? 'no measurement'}`).join('; ');
    throw new Error(`No backend can train on this device (${why || 'none was tried'})`);
  }
  const best = working.reduce((a, b) => (b.examplesPerSecond! > a.examplesPerSecond! ? b : a));
  const others = candidates.filter((c) => c !== best);
  const versus = others.map((c) => (c.examplesPerSecond ? `${TITLE[c.backend]} ${rate(c.examplesPerSecond)}` : `${TITLE[c.backend]} unavailable (${c.error})`));
  return { chosen: best.backend, reason: `fastest on this job: ${TITLE[best.backend]} ${rate(best.examplesPerSecond!)}${versus.length ? ` vs ${versus.join(', ')}` : ''}` };
}

export interface TimingOptions {
  batch?: number;
  budgetMs?: number;
  startupBudgetMs?: number;
  /** The CPU's second try when no candidate started within startupBudgetMs. */
  busyStartupBudgetMs?: number;
}

class StartupTimeout extends Error {}

/**
 * `work` or a StartupTimeout after `ms`; a backend that `work` still produces later is
 * disposed of as soon as it exists (its compile cannot be cancelled, only abandoned).
 */
function withStartupDeadline(work: Promise<TrainingBackend>, ms: number, what: string): Promise<TrainingBackend> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StartupTimeout(`${what} did not start within ${ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(0)} s`}`)), ms);
  });
  return Promise.race([work, timeout]).then(
    (backend) => {
      clearTimeout(timer);
      return backend;
    },
    (error) => {
      clearTimeout(timer);
      if (error instanceof StartupTimeout) work.then((late) => late.dispose(), () => {});
      throw error;
    },
  );
}

/**
 * Creates a backend and times its gradient on `batch` random examples of the job's shapes
 * for about budgetMs. Returns the backend (datasets cleared) unless it failed to start or run.
 */
export async function measureBackend(
  kind: BackendKind,
  factory: BackendFactory,
  model: ResolvedModel,
  options: TimingOptions = {},
): Promise<{ backend: TrainingBackend | null; measurement: BackendMeasurement; startupTimedOut?: boolean }> {
  // A next-token model's example is a window of T positions: time 128 positions' worth of them.
  const batch = options.batch ?? Math.max(1, Math.floor(DEFAULT_SELECTION_BATCH / model.labelsPerExample));
  const budgetMs = options.budgetMs ?? DEFAULT_SELECTION_BUDGET_MS;
  const failed = (error: unknown, runs = 0): BackendMeasurement => ({
    backend: kind, examplesPerSecond: null, msPerBatch: null, batch, runs, error: (error as Error)?.message ?? String(error),
  });
  const indices = Uint32Array.from({ length: batch }, (_, i) => i);
  // A model with dropout is timed with it on, as it trains.
  const dropout = { seed: 1, positions: indices };
  // Creation, loading and warm-up together must fit the start-up budget.
  const startup = (async () => {
    const backend = await factory();
    try {
      await backend.setDatasets(randomDataset(new Random(1), batch, model.inputSize, model.classes, tokenWindowsOf(model)), null);
      await backend.setParameters(initModelParameters(model, 1));
      for (let i = 0; i < WARMUP_RUNS; i++) await backend.gradient(indices, dropout);
      return backend;
    } catch (error) {
      backend.dispose();
      throw error;
    }
  })();
  let backend: TrainingBackend;
  try {
    backend = await withStartupDeadline(startup, options.startupBudgetMs ?? DEFAULT_STARTUP_BUDGET_MS, TITLE[kind]);
  } catch (error) {
    return { backend: null, measurement: failed(error), startupTimedOut: error instanceof StartupTimeout };
  }
  try {
    const times: number[] = [];
    const start = performance.now();
    while (times.length < MIN_RUNS || performance.now() - start < budgetMs) {
      const t0 = performance.now();
      await backend.gradient(indices, dropout);
      times.push(performance.now() - t0);
    }
    await backend.setDatasets(null, null);
    const msPerBatch = times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
    return {
      backend,
      measurement: { backend: kind, examplesPerSecond: (batch / msPerBatch) * 1000, msPerBatch, batch, runs: times.length, kernel: backend.report().kernel },
    };
  } catch (error) {
    backend.dispose();
    return { backend: null, measurement: failed(error) };
  }
}

/** A backend whose report carries how it was chosen. */
class SelectedBackend implements TrainingBackend {
  constructor(
    private readonly inner: TrainingBackend,
    private readonly selection: BackendSelection,
  ) {}
  get kind() { return this.inner.kind; }
  get lost() { return this.inner.lost; }
  report(): BackendReport { return { ...this.inner.report(), selection: this.selection }; }
  setDatasets(train: ImageDataset | null, test: ImageDataset | null) { return this.inner.setDatasets(train, test); }
  setParameters(params: Float32Array) { return this.inner.setParameters(params); }
  setOptimizerState(state1: Float32Array, state2: Float32Array) { return this.inner.setOptimizerState(state1, state2); }
  readState() { return this.inner.readState(); }
  gradient(indices: Uint32Array) { return this.inner.gradient(indices); }
  trainStep(indices: Uint32Array, hyper: OptimizerHyper, t: number) { return this.inner.trainStep(indices, hyper, t); }
  optimizerStep(hyper: OptimizerHyper, t: number, gradient?: Float32Array) { return this.inner.optimizerStep(hyper, t, gradient); }
  evaluate(split: 'train' | 'test', indices: Uint32Array) { return this.inner.evaluate(split, indices); }
  simulateLoss() { return this.inner.simulateLoss(); }
  dispose() { this.inner.dispose(); }
}

export function withSelection(backend: TrainingBackend, selection: BackendSelection): TrainingBackend {
  return new SelectedBackend(backend, selection);
}

/** A way to build each backend, or why this context cannot have it (e.g. no navigator.gpu). */
export type BackendCandidates = Record<BackendKind, BackendFactory | { unavailable: string }>;

/**
 * The factory the Trainer calls: the first call selects (times every available candidate
 * one after the other, so they do not compete for the cores) and keeps the winner; later
 * calls (recovery from a lost device) build the chosen kind again without re-timing.
 */
export function selectingFactory(requested: BackendChoice, candidates: BackendCandidates, model: ResolvedModel, timing: TimingOptions = {}): BackendFactory {
  let selection: BackendSelection | null = null;
  const factoryOf = (kind: BackendKind): BackendFactory => {
    const candidate = candidates[kind];
    if (typeof candidate !== 'function') throw new Error(`The ${TITLE[kind]} backend is not available here: ${candidate.unavailable}`);
    return candidate;
  };
  return async () => {
    if (selection) return withSelection(await factoryOf(selection.chosen)(), selection);
    if (requested !== 'auto') {
      const choice = chooseBackend(requested, []);
      const backend = await factoryOf(choice.chosen)();
      selection = { requested, ...choice, candidates: [] };
      return withSelection(backend, selection);
    }
    const measurements: BackendMeasurement[] = [];
    const made = new Map<BackendKind, TrainingBackend>();
    let timedOut = false;
    // The CPU first: it starts in well under a second, so a GPU candidate that is abandoned
    // at its start-up deadline has not delayed the measurement of the CPU.
    const order = (Object.keys(candidates) as BackendKind[]).sort((a, b) => Number(b === 'cpu') - Number(a === 'cpu'));
    for (const kind of order) {
      const candidate = candidates[kind];
      if (typeof candidate !== 'function') {
        measurements.push({ backend: kind, examplesPerSecond: null, msPerBatch: null, batch: timing.batch ?? DEFAULT_SELECTION_BATCH, runs: 0, error: candidate.unavailable });
        continue;
      }
      const { backend, measurement, startupTimedOut } = await measureBackend(kind, candidate, model, timing);
      measurements.push(measurement);
      timedOut ||= startupTimedOut === true;
      if (backend) made.set(kind, backend);
    }
    const cpu = candidates.cpu;
    if (made.size === 0 && typeof cpu === 'function' && timedOut) {
      // Busy, not unable: the CPU once more, with time to start.
      const retry = await measureBackend('cpu', cpu, model, { ...timing, startupBudgetMs: timing.busyStartupBudgetMs ?? DEFAULT_BUSY_STARTUP_BUDGET_MS });
      const i = measurements.findIndex((m) => m.backend === 'cpu');
      if (retry.backend) {
        measurements[i] = retry.measurement;
        made.set('cpu', retry.backend);
      } else {
        measurements[i] = { ...retry.measurement, error: `${measurements[i].error}; on a second try: ${retry.measurement.error}` };
      }
    }
    let choice: { chosen: BackendKind; reason: string };
    try {
      choice = chooseBackend('auto', measurements);
    } catch (error) {
      for (const backend of made.values()) backend.dispose();
      throw error;
    }
    for (const [kind, backend] of made) if (kind !== choice.chosen) backend.dispose();
    selection = { requested, ...choice, candidates: measurements };
    return withSelection(made.get(choice.chosen)!, selection);
  };
}
