// Runs suites one after another and judges every suite's bars on all rows of the session.
// A suite that fails does not stop the others: its failure becomes a failed check.

import type { BenchCheck, BenchContext, BenchRow, BenchSuite } from './suite.ts';

export interface BenchRunHooks {
  log(message: string): void;
  row(row: BenchRow): void;
  suiteStarted?(suite: BenchSuite, index: number): void;
  suiteFinished?(suite: BenchSuite, error: Error | null): void;
}

export interface BenchOutcome {
  rows: BenchRow[];
  checks: BenchCheck[];
}

/** Rejects with the abort reason when `signal` is aborted; every other failure is in the checks. */
export async function runBench(suites: BenchSuite[], hooks: BenchRunHooks, signal?: AbortSignal): Promise<BenchOutcome> {
  const ids = new Set<string>();
  for (const s of suites) {
    if (ids.has(s.id)) throw new Error(`Two benchmark suites share the id "${s.id}": ids name rows and must be unique`);
    ids.add(s.id);
  }
  const rows: BenchRow[] = [];
  const checks: BenchCheck[] = [];
  for (const [index, suite] of suites.entries()) {
    signal?.throwIfAborted();
    hooks.suiteStarted?.(suite, index);
    hooks.log(`── ${suite.title}`);
    const ctx: BenchContext = { log: hooks.log, signal };
    const emit = (row: BenchRow) => {
      if (row.suite !== suite.id) throw new Error(`Suite "${suite.id}" emitted a row for suite "${row.suite}"`);
      rows.push(row);
      hooks.row(row);
    };
    let failure: Error | null = null;
    try {
      await suite.run(ctx, emit);
    } catch (error) {
      if (signal?.aborted) throw signal.reason ?? error;
      failure = error instanceof Error ? error : new Error(String(error));
      hooks.log(`${suite.title} failed: ${failure.message}`);
      checks.push({ bar: `${suite.title}: the suite runs to completion`, pass: false, detail: failure.message });
    }
    hooks.suiteFinished?.(suite, failure);
  }
  for (const suite of suites) {
    try {
      checks.push(...(suite.checks?.(rows) ?? []));
    } catch (error) {
      checks.push({ bar: `${suite.title}: its checks can be judged`, pass: false, detail: (error as Error).message });
    }
  }
  return { rows, checks };
}
