// The CPU layer kernels (src/cpu/assembly/conv2d.ts, pool.ts, layernorm.ts) as thread jobs:
// what each op reads and writes (byte offsets into the memory every thread shares), its
// encoding into the job slots, and each thread's share of it. Every op is split by outputs
// (items of 8 pixels, planes, rows, features, weight-gradient chunks), never along a sum,
// so the bits do not depend on the thread count. The weight gradient of a conv is two jobs:
// partial sums per fixed chunk, then their ordered sum (the job boundary is the barrier).

import type { CpuKernelExports } from './kernels.ts';

/** A conv2d layer at a batch size (the fields of src/kernels/conv2d.ts Conv2dShape). */
export interface CpuConv2dShape {
  batch: number;
  inChannels: number;
  height: number;
  width: number;
  outChannels: number;
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
}

/** A pooling layer at a batch size, no padding (the fields of src/kernels/pool.ts Pool2dShape). */
export interface CpuPool2dShape {
  batch: number;
  channels: number;
  height: number;
  width: number;
  kernel: [number, number];
  stride: [number, number];
}

export interface CpuLayerNormShape {
  rows: number;
  features: number;
  eps: number;
}

/** Positions (n, oy, ox) per weight-gradient chunk: assembly/conv2d.ts CONV_WEIGHT_CHUNK. */
export const CONV_WEIGHT_CHUNK = 256;

/** Each op: the shape it takes and the regions it names, in slot order. */
const OPS = {
  'conv2d-forward': { shape: 'conv', regions: ['x', 'weight', 'bias', 'y', 'scratch'] },
  'conv2d-backward-input': { shape: 'conv', regions: ['dy', 'weight', 'dx', 'scratch'] },
  'conv2d-weight-partials': { shape: 'conv', regions: ['x', 'dy', 'partials', 'scratch'] },
  'conv2d-weight-sum': { shape: 'conv', regions: ['partials', 'dWeight', 'dBias'] },
  'maxpool2d-forward': { shape: 'pool', regions: ['x', 'y', 'argmax'] },
  'maxpool2d-backward': { shape: 'pool', regions: ['dy', 'argmax', 'dx'] },
  'avgpool2d-forward': { shape: 'pool', regions: ['x', 'y'] },
  'avgpool2d-backward': { shape: 'pool', regions: ['dy', 'dx'] },
  'layernorm-forward': { shape: 'layernorm', regions: ['x', 'gain', 'shift', 'y', 'stats'] },
  'layernorm-backward-input': { shape: 'layernorm', regions: ['x', 'stats', 'gain', 'dy', 'dx'] },
  'layernorm-param-grad': { shape: 'layernorm', regions: ['x', 'stats', 'dy', 'dGain', 'dShift'] },
} as const;

export type LayerOp = keyof typeof OPS;
type Shapes = { conv: CpuConv2dShape; pool: CpuPool2dShape; layernorm: CpuLayerNormShape };
type OpShape<O extends LayerOp> = Shapes[(typeof OPS)[O]['shape']];
type OpRegions<O extends LayerOp> = { [R in (typeof OPS)[O]['regions'][number]]: number };

/**
 * One layer op on regions the caller laid out (byte offsets). `scratch` is where thread i
 * of n finds its own scratchBytes(op, shape) bytes: scratch + i·scratchBytes.
 */
export type LayerJob = { [O in LayerOp]: { op: O; shape: OpShape<O>; regions: OpRegions<O> } }[LayerOp];

const OP_NAMES = Object.keys(OPS) as LayerOp[];

const shapeValues = (job: LayerJob): number[] => {
  const s = job.shape;
  switch (OPS[job.op].shape) {
    case 'conv': {
      const c = s as CpuConv2dShape;
      return [c.batch, c.inChannels, c.height, c.width, c.outChannels, ...c.kernel, ...c.stride, ...c.padding];
    }
    case 'pool': {
      const p = s as CpuPool2dShape;
      return [p.batch, p.channels, p.height, p.width, ...p.kernel, ...p.stride];
    }
    case 'layernorm': {
      const l = s as CpuLayerNormShape;
      return [l.rows, l.features, l.eps];
    }
  }
};

const SHAPE_SLOTS = { conv: 11, pool: 8, layernorm: 3 } as const;

function readShape(kind: keyof Shapes, v: Float64Array): Shapes[keyof Shapes] {
  switch (kind) {
    case 'conv':
      return { batch: v[0], inChannels: v[1], height: v[2], width: v[3], outChannels: v[4], kernel: [v[5], v[6]], stride: [v[7], v[8]], padding: [v[9], v[10]] };
    case 'pool':
      return { batch: v[0], channels: v[1], height: v[2], width: v[3], kernel: [v[4], v[5]], stride: [v[6], v[7]] };
    case 'layernorm':
      return { rows: v[0], features: v[1], eps: v[2] };
  }
}

/** Writes `job` into slots[at …]: the op, its shape, its regions. */
export function encodeLayerJob(job: LayerJob, slots: Float64Array, at: number): void {
  const regions = job.regions as Record<string, number>;
  slots.set([OP_NAMES.indexOf(job.op), ...shapeValues(job), ...OPS[job.op].regions.map((r) => regions[r])], at);
}

/** Reads back what encodeLayerJob wrote. */
export function decodeLayerJob(slots: Float64Array, at: number): LayerJob {
  const op = OP_NAMES[slots[at]];
  if (!op) throw new Error(`internal error: unknown CPU layer op ${slots[at]}`);
  const kind = OPS[op].shape;
  const shapeAt = at + 1;
  const regionAt = shapeAt + SHAPE_SLOTS[kind];
  const regions: Record<string, number> = {};
  OPS[op].regions.forEach((r, i) => (regions[r] = slots[regionAt + i]));
  return { op, shape: readShape(kind, slots.subarray(shapeAt, regionAt)), regions } as LayerJob;
}

/** [outH, outW] = ⌊(n + 2p − k)/s⌋ + 1 per dimension (padding 0 for pools). */
export function convOutputSize(s: { height: number; width: number; kernel: [number, number]; stride: [number, number]; padding?: [number, number] }): [number, number] {
  const [ph, pw] = s.padding ?? [0, 0];
  return [Math.floor((s.height + 2 * ph - s.kernel[0]) / s.stride[0]) + 1, Math.floor((s.width + 2 * pw - s.kernel[1]) / s.stride[1]) + 1];
}

/** Weight-gradient chunks of a conv: ⌈batch·outH·outW / CONV_WEIGHT_CHUNK⌉. */
export function convWeightChunks(s: CpuConv2dShape): number {
  const [oh, ow] = convOutputSize(s);
  return Math.ceil((s.batch * oh * ow) / CONV_WEIGHT_CHUNK);
}

/**
 * Bytes of scratch one thread needs for `op` (0 for ops without): the packed weights, a panel
 * and a tile, or a chunk's packed patches and dy; the module's conv2d*Scratch exports say the
 * same (layer tests check it).
 */
export function scratchBytes(op: LayerOp, shape: CpuConv2dShape): number {
  const { inChannels: c, outChannels: co, kernel: [kh, kw] } = shape;
  const blocks = (rows: number, of: number) => Math.ceil(rows / of);
  if (op === 'conv2d-forward') return blocks(co, 4) * c * kh * kw * 16 + c * kh * kw * 32 + 128;
  if (op === 'conv2d-backward-input') return blocks(c, 4) * co * kh * kw * 16 + co * kh * kw * 32 + 128;
  if (op === 'conv2d-weight-partials') return blocks(c * kh * kw + 1, 4) * CONV_WEIGHT_CHUNK * 16 + blocks(co, 8) * CONV_WEIGHT_CHUNK * 32 + 128;
  return 0;
}

/** [start, end) of `total` items for thread `index` of `count` (program.ts share()). */
function share(total: number, index: number, count: number): [number, number] {
  return [Math.floor((total * index) / count), Math.floor((total * (index + 1)) / count)];
}

/** Runs thread `index`'s share (of `count`) of `job`. */
export function runLayerShare(k: CpuKernelExports, job: LayerJob, index: number, count: number): void {
  switch (job.op) {
    case 'conv2d-forward':
    case 'conv2d-backward-input':
    case 'conv2d-weight-partials':
    case 'conv2d-weight-sum':
      return runConv(k, job, index, count);
    case 'maxpool2d-forward':
    case 'maxpool2d-backward':
    case 'avgpool2d-forward':
    case 'avgpool2d-backward':
      return runPool(k, job, index, count);
    case 'layernorm-forward':
    case 'layernorm-backward-input':
    case 'layernorm-param-grad':
      return runLayerNorm(k, job, index, count);
  }
}

type JobOf<O extends LayerOp> = Extract<LayerJob, { op: O }>;

function runConv(k: CpuKernelExports, job: JobOf<'conv2d-forward' | 'conv2d-backward-input' | 'conv2d-weight-partials' | 'conv2d-weight-sum'>, index: number, count: number): void {
  const s = job.shape;
  const { batch, inChannels: c, height: h, width: w, outChannels: co } = s;
  const [kh, kw] = s.kernel;
  const [sh, sw] = s.stride;
  const [ph, pw] = s.padding;
  const [oh, ow] = convOutputSize(s);
  const scratch = (base: number) => base + index * scratchBytes(job.op, s);
  switch (job.op) {
    case 'conv2d-forward': {
      const [i0, i1] = share(batch * oh * Math.ceil(ow / 8), index, count);
      const r = job.regions;
      if (i0 < i1) k.conv2dForward(r.x, r.weight, r.bias, r.y, c, h, w, co, kh, kw, sh, sw, ph, pw, i0, i1, scratch(r.scratch));
      return;
    }
    case 'conv2d-backward-input': {
      const [i0, i1] = share(batch * h * Math.ceil(w / 8), index, count);
      const r = job.regions;
      if (i0 < i1) k.conv2dBackwardInput(r.dy, r.weight, r.dx, c, h, w, co, kh, kw, sh, sw, ph, pw, i0, i1, scratch(r.scratch));
      return;
    }
    case 'conv2d-weight-partials': {
      const [j0, j1] = share(convWeightChunks(s), index, count);
      const r = job.regions;
      if (j0 < j1) k.conv2dWeightPartials(r.x, r.dy, r.partials, batch, c, h, w, co, kh, kw, sh, sw, ph, pw, j0, j1, scratch(r.scratch));
      return;
    }
    case 'conv2d-weight-sum': {
      const depth = c * kh * kw;
      // Whole vectors of four elements per thread (any split gives the same bits; this one keeps the SIMD loop busy).
      const elements = (depth + 1) * co;
      const [v0, v1] = share(Math.ceil(elements / 4), index, count);
      const r = job.regions;
      if (v0 < v1) k.conv2dWeightSum(r.partials, convWeightChunks(s), depth, co, v0 * 4, Math.min(v1 * 4, elements), r.dWeight, r.dBias);
      return;
    }
  }
}

function runPool(k: CpuKernelExports, job: JobOf<'maxpool2d-forward' | 'maxpool2d-backward' | 'avgpool2d-forward' | 'avgpool2d-backward'>, index: number, count: number): void {
  const s = job.shape;
  const [p0, p1] = share(s.batch * s.channels, index, count);
  if (p0 >= p1) return;
  const [kh, kw] = s.kernel;
  const [sh, sw] = s.stride;
  const { height: h, width: w } = s;
  switch (job.op) {
    case 'maxpool2d-forward':
      return k.maxpool2dForward(job.regions.x, job.regions.y, job.regions.argmax, h, w, kh, kw, sh, sw, p0, p1);
    case 'maxpool2d-backward':
      return k.maxpool2dBackward(job.regions.dy, job.regions.argmax, job.regions.dx, h, w, kh, kw, sh, sw, p0, p1);
    case 'avgpool2d-forward':
      return k.avgpool2dForward(job.regions.x, job.regions.y, h, w, kh, kw, sh, sw, p0, p1);
    case 'avgpool2d-backward':
      return k.avgpool2dBackward(job.regions.dy, job.regions.dx, h, w, kh, kw, sh, sw, p0, p1);
  }
}

function runLayerNorm(k: CpuKernelExports, job: JobOf<'layernorm-forward' | 'layernorm-backward-input' | 'layernorm-param-grad'>, index: number, count: number): void {
  const { rows, features: f, eps } = job.shape;
  switch (job.op) {
    case 'layernorm-forward': {
      const [r0, r1] = share(rows, index, count);
      const r = job.regions;
      if (r0 < r1) k.layernormForward(r.x, r.gain, r.shift, r.y, r.stats, f, eps, r0, r1);
      return;
    }
    case 'layernorm-backward-input': {
      const [r0, r1] = share(rows, index, count);
      const r = job.regions;
      if (r0 < r1) k.layernormBackwardInput(r.x, r.stats, r.gain, r.dy, r.dx, f, r0, r1);
      return;
    }
    case 'layernorm-param-grad': {
      const [v0, v1] = share(Math.ceil(f / 4), index, count);
      const r = job.regions;
      if (v0 < v1) k.layernormParamGrad(r.x, r.stats, r.dy, r.dGain, r.dShift, rows, f, v0 * 4, Math.min(v1 * 4, f));
      return;
    }
  }
}
