// The session's results as one JSON document: what the page offers for download and what
// `npm run bench` writes to bench-results.json.

import type { AdapterReport } from '../gpu/context.ts';
import type { BenchSettings } from './settings.ts';
import type { BenchCheck, BenchRow } from './suite.ts';

export const REPORT_FORMAT = 'swarmgrad-bench/1';

export interface BenchEnvironment {
  userAgent: string;
  hardwareConcurrency: number;
  crossOriginIsolated: boolean;
}

export interface BenchReport {
  format: typeof REPORT_FORMAT;
  startedAt: string;
  finishedAt: string;
  settings: BenchSettings;
  environment: BenchEnvironment;
  /** null when no WebGPU adapter was found. */
  adapter: AdapterReport | null;
  /** Unmeasured rows have value null (NaN in the page) and say why in `skipped`. */
  rows: BenchRow[];
  checks: BenchCheck[];
  /** The tables and checks as aligned text, as `npm run bench` prints them. */
  text: string;
}

/** What the page exposes for scripts and tests while and after it measures. */
export interface BenchPageState {
  state: 'idle' | 'running' | 'done' | 'stopped' | 'failed';
  rows: BenchRow[];
  checks: BenchCheck[];
  adapter: AdapterReport | null;
  error?: string;
  /** Set when state is 'done'. */
  report?: BenchReport;
}

declare global {
  interface Window {
    swarmgradBench?: BenchPageState;
  }
}

/** The report as JSON text; NaN (not measured) becomes null, as JSON has no NaN. */
export function reportJson(report: BenchReport): string {
  return JSON.stringify(report, null, 2) + '\n';
}
