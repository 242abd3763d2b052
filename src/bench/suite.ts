// What every benchmark measures into: suites of named rows, and bars checked on them.
// The bench page and `npm run bench` run the registered suites in one browser session, so
// that every ratio compares figures measured side by side.

export interface BenchRow {
  /** The suite's id, e.g. "matmul". */
  suite: string;
  /** What was measured, e.g. "ours 4x8_wg8x8_direct", "onnxruntime-web webgpu". */
  name: string;
  /** Problem size where it applies (matmul N, batch). */
  size?: number;
  value: number;
  unit: string;
  /** Milliseconds per run, where it applies. */
  ms?: number;
  /** Anything else worth keeping in the JSON (threads, repetitions, skipped reason). */
  details?: Record<string, unknown>;
  /**
   * Why there is no measurement (a time cap, an error): `value` is then NaN (null in JSON),
   * and tables, charts and checks treat the row as not measured.
   */
  skipped?: string;
}

export interface BenchCheck {
  /** The bar as stated in the issue, e.g. "best matmul ≥ 5× the plain tiled reference at N=1024". */
  bar: string;
  pass: boolean;
  /** The figures behind the verdict. */
  detail: string;
}

export interface BenchContext {
  log(message: string): void;
  signal?: AbortSignal;
}

export interface BenchSuite {
  id: string;
  title: string;
  /** What a row's `size` is, for table columns and chart axes (e.g. "N"); "size" when absent. */
  sizeLabel?: string;
  run(ctx: BenchContext, emit: (row: BenchRow) => void): Promise<void>;
  /** Bars this suite is responsible for, judged on all rows measured in the session. */
  checks?(rows: BenchRow[]): BenchCheck[];
}
