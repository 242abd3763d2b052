// What a benchmark session measures, read from the page's URL (`bench.html?sizes=256,1024&quick=1`)
// so that a script, a test and a person share one entry point.

import type { RepeatPolicy } from '../gpu/timing.ts';

export interface BenchSettings {
  /** Matmul sizes N (C[N×N] = A[N×N]·B[N×N]), ascending, distinct. */
  sizes: number[];
  /** Few repetitions and a short training run: checks that everything works, not figures. */
  quick: boolean;
  /** Start measuring as soon as the page has loaded. */
  auto: boolean;
  /** Above the bar size, skip a size where one run is predicted to take longer than this. */
  capMs: number;
  /** How each matmul measurement repeats. */
  repeat: Omit<RepeatPolicy, 'signal'>;
  /** MLP training: untimed steps first, then timed steps. */
  trainWarmupSteps: number;
  trainTimedSteps: number;
  /** Only these suites (by id), in the session's order; null: all of them. */
  suites: string[] | null;
}

/** The size every implementation is measured at whatever the cap: the bars are judged there. */
export const BAR_SIZE = 1024;
export const DEFAULT_SIZES = [256, 512, 1024, 2048];
export const MIN_SIZE = 16;
export const MAX_SIZE = 4096;
const DEFAULT_CAP_S = 10;

export class BenchSettingsError extends Error {
  override name = 'BenchSettingsError';
}

export function parseBenchSettings(params: URLSearchParams): BenchSettings {
  const quick = parseFlag(params, 'quick');
  const auto = parseFlag(params, 'auto');
  const sizesText = params.get('sizes');
  const sizes = sizesText === null ? (quick ? [256] : DEFAULT_SIZES) : parseSizes(sizesText);
  const capText = params.get('cap');
  const capS = capText === null ? DEFAULT_CAP_S : Number(capText);
  if (capText !== null && (capText.trim() === '' || !(capS > 0) || !Number.isFinite(capS))) {
    throw new BenchSettingsError(`cap is the longest one run may take above N=${BAR_SIZE}, in seconds (e.g. cap=10); got "${capText}"`);
  }
  return {
    sizes,
    quick,
    auto,
    capMs: capS * 1000,
    repeat: quick ? { warmups: 1, repetitions: 1 } : { warmups: 1, repetitions: 5, budgetMs: 3000 },
    trainWarmupSteps: quick ? 1 : 5,
    trainTimedSteps: quick ? 3 : 40,
    suites: parseSuiteIds(params.get('suites')),
  };
}

/** "256, 512,1024" → [256, 512, 1024]; anything else is an error that names the bad part. */
export function parseSizes(text: string): number[] {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.every((p) => p === '')) {
    throw new BenchSettingsError(`sizes must list at least one matrix size, e.g. sizes=256,1024; got "${text}"`);
  }
  const sizes = parts.map((p) => {
    const n = Number(p);
    if (p === '' || !Number.isInteger(n) || n < MIN_SIZE || n > MAX_SIZE) {
      throw new BenchSettingsError(`sizes must be comma-separated integers from ${MIN_SIZE} to ${MAX_SIZE}; "${p}" in "${text}" is not`);
    }
    return n;
  });
  return [...new Set(sizes)].sort((a, b) => a - b);
}

/** "cnn-webgpu,cnn-cpu" → the ids; which ids exist is checked where the suites are (benchSuites). */
function parseSuiteIds(text: string | null): string[] | null {
  if (text === null) return null;
  const ids = text.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (ids.length === 0) throw new BenchSettingsError(`suites lists suite ids to run, e.g. suites=cnn-webgpu,cnn-cpu; got "${text}"`);
  return [...new Set(ids)];
}

function parseFlag(params: URLSearchParams, name: string): boolean {
  const v = params.get(name);
  if (v === null || v === '0' || v === 'false') return false;
  if (v === '' || v === '1' || v === 'true') return true;
  throw new BenchSettingsError(`${name} is a flag: ${name}=1 or ${name}=0; got "${v}"`);
}

/** The URL query that reproduces `settings` (for the form and the JSON report). */
export function settingsQuery(s: Pick<BenchSettings, 'sizes' | 'quick' | 'capMs'>): string {
  const q = new URLSearchParams({ sizes: s.sizes.join(',') });
  if (s.quick) q.set('quick', '1');
  if (s.capMs !== DEFAULT_CAP_S * 1000) q.set('cap', String(s.capMs / 1000));
  return q.toString();
}
