// Our matmul kernels and the plain 16×16 tiled reference, on one GpuContext, timed with GPU
// timestamps (kernel only: no upload, no readback) as the autotuner times them.

import { GpuContext } from '../../gpu/context.ts';
import type { ComputeRecorder } from '../../gpu/recorder.ts';
import { timeRecordedWork, type RepeatPolicy } from '../../gpu/timing.ts';
import { emptyBuffer, readFloats, upload, writeArray } from '../../gpu/transfer.ts';
import { floats } from '../../kernels/common.ts';
import { MATMUL_CONFIGS, MatmulOp, configFits, configName, type MatmulConfig } from '../../kernels/matmul.ts';
import { ReferenceMatmulOp } from '../../kernels/matmulReference.ts';
import type { MatmulImplementation, MatmulMeasurement, MatmulProblem, MatmulProvider } from './implementation.ts';
import { OURS_PREFIX, REFERENCE_NAME } from './names.ts';


/** A, B and C on the GPU for the problem being measured; replaced when N changes. */
class Workspace {
  private current: { problem: MatmulProblem; a: GPUBuffer; b: GPUBuffer; c: GPUBuffer; nans: Float32Array } | null = null;

  constructor(private readonly ctx: GpuContext) {}

  /** Buffers holding `problem`, with C filled with NaN so that an output a kernel skips is caught. */
  prepare(problem: MatmulProblem) {
    if (this.current?.problem !== problem) {
      this.release();
      const { n } = problem;
      this.current = {
        problem,
        a: upload(this.ctx, problem.a, 'bench A'),
        b: upload(this.ctx, problem.b, 'bench B'),
        c: emptyBuffer(this.ctx, n * n, 'bench C'),
        nans: new Float32Array(n * n).fill(NaN),
      };
    }
    const { a, b, c, nans } = this.current!;
    writeArray(this.ctx, c, nans);
    const len = problem.n * problem.n;
    return { bindings: { a: floats(a, 0, len), b: floats(b, 0, len), c: floats(c, 0, len) }, c };
  }

  release(): void {
    if (!this.current) return;
    this.current.a.destroy();
    this.current.b.destroy();
    this.current.c.destroy();
    this.current = null;
  }
}

interface EncodableOp {
  encode(rec: ComputeRecorder, b: { a: GPUBufferBinding; b: GPUBufferBinding; c: GPUBufferBinding }): void;
  destroy(): void;
}

async function measureOp(
  ctx: GpuContext,
  workspace: Workspace,
  problem: MatmulProblem,
  policy: RepeatPolicy,
  createOp: () => Promise<EncodableOp>,
  details: Record<string, unknown>,
): Promise<MatmulMeasurement> {
  const op = await createOp();
  try {
    const { bindings, c } = workspace.prepare(problem);
    const timed = await timeRecordedWork(ctx, (rec) => op.encode(rec, bindings), policy, 'bench matmul');
    const product = await readFloats(ctx, c, problem.n * problem.n);
    const wallMs = Math.min(...timed.samples.map((s) => s.wallMs));
    return {
      ms: timed.best.ms,
      wallMs,
      timing:
        timed.best.gpuMs !== null
          ? 'GPU timestamps of the kernel alone (inputs already on the GPU, no readback)'
          : 'wall-clock from submit to completion (no timestamp-query; inputs already on the GPU, no readback)',
      samplesMs: timed.samples.map((s) => s.ms),
      warmups: timed.warmups,
      c: product,
      details,
    };
  } finally {
    op.destroy();
  }
}

export class OurMatmulProvider implements MatmulProvider {
  readonly title = 'our WebGPU matmul kernels and the plain tiled reference';
  private ctx: GpuContext | null = null;
  private workspace: Workspace | null = null;

  async open(log: (message: string) => void): Promise<MatmulImplementation[]> {
    const ctx = await GpuContext.create();
    this.ctx = ctx;
    const workspace = new Workspace(ctx);
    this.workspace = workspace;
    const fits = MATMUL_CONFIGS.filter((c) => configFits(c, ctx.device.limits));
    const unfit = MATMUL_CONFIGS.filter((c) => !fits.includes(c));
    if (unfit.length) log(`Not measured (exceed this device's workgroup limits): ${unfit.map(configName).join(', ')}`);
    const ours = fits.map(
      (config: MatmulConfig): MatmulImplementation => ({
        name: OURS_PREFIX + configName(config),
        family: 'ours',
        warmAcrossSizes: true,
        measure: (problem, policy) =>
          measureOp(ctx, workspace, problem, policy, () => MatmulOp.create(ctx, { layout: 'nn', m: problem.n, n: problem.n, k: problem.n }, {}, config), {
            config: configName(config),
          }),
      }),
    );
    const reference: MatmulImplementation = {
      name: REFERENCE_NAME,
      family: 'reference',
      warmAcrossSizes: true,
      measure: (problem, policy) =>
        measureOp(ctx, workspace, problem, policy, () => ReferenceMatmulOp.create(ctx, problem.n, problem.n, problem.n), {
          kernel: 'shaders/matmul_reference.wgsl',
        }),
    };
    return [...ours, reference];
  }

  async close(): Promise<void> {
    this.workspace?.release();
    this.ctx?.destroy();
    this.workspace = null;
    this.ctx = null;
  }
}
