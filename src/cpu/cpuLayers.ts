// Standalone conv2d, pooling and layernorm ops on the CPU backend's kernels and threads, the
// counterparts of src/kernels/conv2d.ts, pool.ts and layernorm.ts: each lays out its tensors
// in an executor's memory, exposes them as views, and runs each pass as layer jobs
// (src/cpu/layerJobs.ts). For the kernel tests and benchmarks; a CPU layer table would place
// the same jobs on its own memory plan.

import { createExecutor, type CpuExecutor, type ExecutorOptions } from './executor.ts';
import {
  convOutputSize, convWeightChunks, scratchBytes,
  type CpuConv2dShape, type CpuLayerNormShape, type CpuPool2dShape, type LayerJob,
} from './layerJobs.ts';
import { MAX_THREADS, headerRegions } from './memoryPlan.ts';

export type { CpuConv2dShape, CpuLayerNormShape, CpuPool2dShape } from './layerJobs.ts';

type Regions<R extends string> = Record<R, { offset: number; floats: number }>;

/** An executor with `floats` regions laid out after its header, 64-byte aligned. */
async function allocate<R extends string>(options: ExecutorOptions, floats: Record<R, number>): Promise<{ executor: CpuExecutor; regions: Regions<R> }> {
  const executor = await createExecutor(options);
  const tiles = headerRegions(executor.heapBase).tiles;
  let next = tiles.offset + tiles.bytes;
  const regions = {} as Regions<R>;
  for (const name of Object.keys(floats) as R[]) {
    const offset = Math.ceil(next / 64) * 64;
    regions[name] = { offset, floats: floats[name] };
    next = offset + Math.max(4, floats[name] * 4);
  }
  try {
    executor.ensureBytes(next);
  } catch (error) {
    executor.dispose();
    throw error;
  }
  return { executor, regions };
}

/** The executor and regions of one op; views are made fresh (the memory may grow). */
abstract class CpuLayerOp<R extends string> {
  protected constructor(
    protected readonly executor: CpuExecutor,
    /** Byte offset and float count of each region. */
    readonly regions: Regions<R>,
  ) {}

  get threads(): number {
    return this.executor.threads;
  }

  get simd() {
    return this.executor.simd;
  }

  /** The memory the regions live in (tests run thread shares on it directly). */
  get memory(): WebAssembly.Memory {
    return this.executor.memory;
  }

  /** A region as floats: write inputs here, read outputs after a pass. */
  view(name: R): Float32Array {
    const r = this.regions[name];
    return new Float32Array(this.executor.memory.buffer, r.offset, r.floats);
  }

  protected async runAll(jobs: readonly LayerJob[]): Promise<void> {
    for (const layer of jobs) await this.executor.run({ kind: 'layer', layer });
  }

  dispose(): void {
    this.executor.dispose();
  }
}

function checkPositive(what: string, fields: Record<string, number>): void {
  for (const [name, v] of Object.entries(fields)) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${what} ${name} must be a positive integer, got ${v}`);
  }
}

function checkPairs(what: string, pairs: [string, readonly number[], number][]): void {
  for (const [name, pair, min] of pairs) {
    if (!(pair.length === 2 && pair.every((v) => Number.isInteger(v) && v >= min))) {
      throw new Error(`${what} ${name} must be two integers ≥ ${min}, got ${JSON.stringify(pair)}`);
    }
  }
}

type ConvRegion = 'x' | 'weight' | 'bias' | 'y' | 'dy' | 'dx' | 'dWeight' | 'dBias' | 'partials' | 'scratch';

/** Conv2d, NCHW, weights [inC·kh·kw × outC]: y = conv(x) + b; dx from dy; dW and db from x and dy. */
export class CpuConv2d extends CpuLayerOp<ConvRegion> {
  readonly outHeight: number;
  readonly outWidth: number;
  /** Each pass's jobs, in order: the weight gradient is its chunks' partial sums, then their ordered sum. */
  readonly passes: { forward: LayerJob[]; backwardInput: LayerJob[]; backwardWeight: LayerJob[] };

  private constructor(readonly shape: CpuConv2dShape, executor: CpuExecutor, regions: Regions<ConvRegion>) {
    super(executor, regions);
    [this.outHeight, this.outWidth] = convOutputSize(shape);
    const at = (name: ConvRegion) => regions[name].offset;
    this.passes = {
      forward: [{ op: 'conv2d-forward', shape, regions: { x: at('x'), weight: at('weight'), bias: at('bias'), y: at('y'), scratch: at('scratch') } }],
      backwardInput: [{ op: 'conv2d-backward-input', shape, regions: { dy: at('dy'), weight: at('weight'), dx: at('dx'), scratch: at('scratch') } }],
      backwardWeight: [
        { op: 'conv2d-weight-partials', shape, regions: { x: at('x'), dy: at('dy'), partials: at('partials'), scratch: at('scratch') } },
        { op: 'conv2d-weight-sum', shape, regions: { partials: at('partials'), dWeight: at('dWeight'), dBias: at('dBias') } },
      ],
    };
  }

  static async create(shape: CpuConv2dShape, options: ExecutorOptions = {}): Promise<CpuConv2d> {
    const { batch, inChannels, height, width, outChannels } = shape;
    checkPositive('conv2d', { batch, inChannels, height, width, outChannels });
    checkPairs('conv2d', [['kernel', shape.kernel, 1], ['stride', shape.stride, 1], ['padding', shape.padding, 0]]);
    const [oh, ow] = convOutputSize(shape);
    if (oh < 1 || ow < 1) {
      throw new Error(`conv2d: the ${shape.kernel.join('×')} kernel does not fit the ${height}×${width} input padded by ${shape.padding.join('×')}`);
    }
    const depth = inChannels * shape.kernel[0] * shape.kernel[1];
    const inputs = batch * inChannels * height * width;
    const outputs = batch * outChannels * oh * ow;
    // Scratch for every thread the backend may have, so any split can run on it.
    const perThread = Math.max(...(['conv2d-forward', 'conv2d-backward-input', 'conv2d-weight-partials'] as const).map((op) => scratchBytes(op, shape)));
    const { executor, regions } = await allocate<ConvRegion>(options, {
      x: inputs, weight: depth * outChannels, bias: outChannels, y: outputs, dy: outputs, dx: inputs,
      dWeight: depth * outChannels, dBias: outChannels,
      partials: convWeightChunks(shape) * (depth + 1) * outChannels, scratch: (MAX_THREADS * perThread) / 4,
    });
    return new CpuConv2d(shape, executor, regions);
  }

  /** Multiply-adds of one pass, counted as 2 FLOPs each. */
  get flops(): number {
    const s = this.shape;
    return 2 * s.batch * this.outHeight * this.outWidth * s.inChannels * s.kernel[0] * s.kernel[1] * s.outChannels;
  }

  /** y = conv(x, weight) + bias. */
  forward(): Promise<void> {
    return this.runAll(this.passes.forward);
  }

  /** dx, overwritten: the input gradient of dy. */
  backwardInput(): Promise<void> {
    return this.runAll(this.passes.backwardInput);
  }

  /** dWeight and dBias, overwritten: the gradients summed over the batch. */
  backwardWeight(): Promise<void> {
    return this.runAll(this.passes.backwardWeight);
  }
}

type PoolRegion = 'x' | 'y' | 'argmax' | 'dy' | 'dx';

/** Max or average pooling, NCHW, no padding; max keeps the flat input index of each window's first maximum. */
export class CpuPool2d extends CpuLayerOp<PoolRegion> {
  readonly outHeight: number;
  readonly outWidth: number;
  readonly passes: { forward: LayerJob[]; backward: LayerJob[] };

  private constructor(readonly kind: 'maxpool2d' | 'avgpool2d', readonly shape: CpuPool2dShape, executor: CpuExecutor, regions: Regions<PoolRegion>) {
    super(executor, regions);
    [this.outHeight, this.outWidth] = convOutputSize(shape);
    const at = (name: PoolRegion) => regions[name].offset;
    this.passes = kind === 'maxpool2d'
      ? {
          forward: [{ op: 'maxpool2d-forward', shape, regions: { x: at('x'), y: at('y'), argmax: at('argmax') } }],
          backward: [{ op: 'maxpool2d-backward', shape, regions: { dy: at('dy'), argmax: at('argmax'), dx: at('dx') } }],
        }
      : {
          forward: [{ op: 'avgpool2d-forward', shape, regions: { x: at('x'), y: at('y') } }],
          backward: [{ op: 'avgpool2d-backward', shape, regions: { dy: at('dy'), dx: at('dx') } }],
        };
  }

  static async create(kind: 'maxpool2d' | 'avgpool2d', shape: CpuPool2dShape, options: ExecutorOptions = {}): Promise<CpuPool2d> {
    if (kind !== 'maxpool2d' && kind !== 'avgpool2d') throw new Error(`pooling kind must be 'maxpool2d' or 'avgpool2d', got ${JSON.stringify(kind)}`);
    const { batch, channels, height, width } = shape;
    checkPositive(kind, { batch, channels, height, width });
    checkPairs(kind, [['kernel', shape.kernel, 1], ['stride', shape.stride, 1]]);
    if (shape.kernel[0] > height || shape.kernel[1] > width) throw new Error(`${kind}: the ${shape.kernel.join('×')} window does not fit the ${height}×${width} input`);
    const [oh, ow] = convOutputSize(shape);
    const inputs = batch * channels * height * width;
    const outputs = batch * channels * oh * ow;
    const { executor, regions } = await allocate<PoolRegion>(options, { x: inputs, y: outputs, argmax: kind === 'maxpool2d' ? outputs : 0, dy: outputs, dx: inputs });
    return new CpuPool2d(kind, shape, executor, regions);
  }

  /** Max pooling's argmax: one flat input index per output (u32). */
  argmax(): Uint32Array {
    const r = this.regions.argmax;
    return new Uint32Array(this.executor.memory.buffer, r.offset, r.floats);
  }

  /** y (and argmax) from x. */
  forward(): Promise<void> {
    return this.runAll(this.passes.forward);
  }

  /** dx, overwritten, from dy (and the forward's argmax). */
  backward(): Promise<void> {
    return this.runAll(this.passes.backward);
  }
}

type LayerNormRegion = 'x' | 'gain' | 'shift' | 'y' | 'stats' | 'dy' | 'dx' | 'dGain' | 'dShift';

/** LayerNorm over rows of `features`: the forward saves (mean, rstd) per row in stats. */
export class CpuLayerNorm extends CpuLayerOp<LayerNormRegion> {
  readonly passes: { forward: LayerJob[]; backwardInput: LayerJob[]; paramGrad: LayerJob[] };

  private constructor(readonly shape: CpuLayerNormShape, executor: CpuExecutor, regions: Regions<LayerNormRegion>) {
    super(executor, regions);
    const at = (name: LayerNormRegion) => regions[name].offset;
    this.passes = {
      forward: [{ op: 'layernorm-forward', shape, regions: { x: at('x'), gain: at('gain'), shift: at('shift'), y: at('y'), stats: at('stats') } }],
      backwardInput: [{ op: 'layernorm-backward-input', shape, regions: { x: at('x'), stats: at('stats'), gain: at('gain'), dy: at('dy'), dx: at('dx') } }],
      paramGrad: [{ op: 'layernorm-param-grad', shape, regions: { x: at('x'), stats: at('stats'), dy: at('dy'), dGain: at('dGain'), dShift: at('dShift') } }],
    };
  }

  static async create(shape: CpuLayerNormShape, options: ExecutorOptions = {}): Promise<CpuLayerNorm> {
    const { rows, features, eps } = shape;
    checkPositive('layernorm', { rows, features });
    if (features < 2) throw new Error(`layernorm needs at least 2 features per row, got ${features}`);
    if (!(eps > 0)) throw new Error(`layernorm eps must be positive, got ${eps}`);
    const n = rows * features;
    const { executor, regions } = await allocate<LayerNormRegion>(options, {
      x: n, gain: features, shift: features, y: n, stats: 2 * rows, dy: n, dx: n, dGain: features, dShift: features,
    });
    return new CpuLayerNorm(shape, executor, regions);
  }

  /** y = γ⊙x̂ + β; stats = (mean, rstd) per row. */
  forward(): Promise<void> {
    return this.runAll(this.passes.forward);
  }

  /** dx, overwritten, from x, stats, γ and dy. */
  backwardInput(): Promise<void> {
    return this.runAll(this.passes.backwardInput);
  }

  /** dGain and dShift, overwritten: summed over the rows in order. */
  paramGrad(): Promise<void> {
    return this.runAll(this.passes.paramGrad);
  }
}
