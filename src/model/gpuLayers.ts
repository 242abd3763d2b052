// The WebGPU backend as one table: for each layer kind, side by side, how it plans its ops and
// buffers for a batch size, how it encodes its forward and how it encodes its backward (the
// f64 rules they must agree with are src/model/layers/reference.ts, kind for kind). The table
// is a mapped type over LayerKind, so a kind without a rule is a compile error.
//
// The walk (planList / encodeForward / encodeBackward, at the bottom) wires the layers
// together when a plan is made: every boundary between two layers gets an activation buffer
// and, in training, a gradient buffer, both fixed for the plan's life, so encoding is only
// dispatches. Two rules over the list, not special cases inside the table:
//   - fusion: a linear directly followed by relu/gelu is one matmul with the activation
//     epilogue (keeping the pre-activation in training), whose backward runs the activation
//     backward on the saved pre-activation first, exactly as GpuMlp does;
//   - gradient flow: a layer's backward runs only when it has parameters or something before
//     it does, and it writes dx only in the second case (the first linear or conv2d reading
//     the data computes no input gradient, as GpuMlp's first layer).
// A view (flatten always, dropout in evaluation or with p = 0) is the same buffer, no copy.
// Every kernel sums in a fixed order and none uses float atomics: repeats are bit-identical.

import type { GpuContext } from '../gpu/context.ts';
import type { ComputeRecorder } from '../gpu/recorder.ts';
import { floats } from '../kernels/common.ts';
import { Conv2dOp, conv2dShapeOf } from '../kernels/conv2d.ts';
import { DropoutOp } from '../kernels/dropout.ts';
import { ActivationBackwardOp, ActivationForwardOp } from '../kernels/elementwise.ts';
import { LayerNormOp } from '../kernels/layernorm.ts';
import { MatmulOp, type MatmulConfig, type MatmulShape } from '../kernels/matmul.ts';
import { Pool2dOp, pool2dShapeOf } from '../kernels/pool.ts';
import { ColumnSumOp } from '../kernels/reduce.ts';
import { AddOp } from '../kernels/residual.ts';
import { SoftmaxCrossEntropyOp } from '../kernels/softmaxXent.ts';
import { hasParameters, referenceOnlyLayer, type LayerKind, type ParamTensor, type ResolvedLayer, type ResolvedLayers, type ResolvedModel } from './layers/spec.ts';

export type Binding = GPUBufferBinding;

/** Where a layer reads and writes, fixed when the plan is made. */
export interface Wires {
  /** The layer's input activation. */
  x: Binding;
  /** Its output activation; x itself for a view. */
  y: Binding;
  /** The gradient w.r.t. y, which its backward reads; null when its backward does not run. */
  dy: Binding | null;
  /** The gradient w.r.t. x, which its backward writes; null when no layer before needs it. */
  dx: Binding | null;
}

/** What a rule's plan may use. */
export interface PlanArgs {
  ctx: GpuContext;
  batch: number;
  training: boolean;
  chooseConfig: (shape: MatmulShape) => MatmulConfig;
  /** The activation the fusion rule folded into this layer (a linear's epilogue), else null. */
  fused: 'relu' | 'gelu' | null;
  /** A pooled buffer of `count` floats (or u32), released with the plan. */
  buffer(count: number, label: string): Binding;
  /** Destroys the op with the plan. */
  own<T extends { destroy(): void }>(op: T): T;
}

/** What an encode reads besides its wires: the model's flat buffers and the plan's inputs. */
export interface EncodeEnv {
  params: GPUBuffer;
  grads: GPUBuffer;
  /** Labels (u32 per example) for the loss. */
  labels: Binding | null;
  /** dropoutWords(seed, positions), in training with dropout; null otherwise. */
  randomness: Binding | null;
}

/** A layer planned in a list. */
export interface PlannedLayer {
  layer: ResolvedLayer;
  fused: 'relu' | 'gelu' | null;
  state: unknown;
  wires: Wires;
  runsBackward: boolean;
}

export interface PlannedList {
  layers: PlannedLayer[];
  /** The list's output activation. */
  y: Binding;
}

/** What each kind keeps between its plan, forward and backward. */
export interface GpuState {
  linear: {
    forward: MatmulOp;
    weightGrad: MatmulOp | null;
    biasGrad: ColumnSumOp | null;
    inputGrad: MatmulOp | null;
    /** Fused only: the activation backward, the saved pre-activation and its gradient. */
    activationGrad: ActivationBackwardOp | null;
    preact: Binding | null;
    dPreact: Binding | null;
  };
  conv2d: { op: Conv2dOp };
  maxpool2d: { op: Pool2dOp; argmax: Binding };
  avgpool2d: { op: Pool2dOp };
  flatten: null;
  relu: { forward: ActivationForwardOp; backward: ActivationBackwardOp | null };
  gelu: { forward: ActivationForwardOp; backward: ActivationBackwardOp | null };
  layernorm: { op: LayerNormOp; stats: Binding };
  /** Null op when the layer is a view (evaluation, or p = 0). */
  dropout: { op: DropoutOp | null };
  residual: { branch: PlannedList; add: AddOp; dBranch: Binding | null };
  'softmax-cross-entropy': { op: SoftmaxCrossEntropyOp; rowStats: Binding; dlogits: Binding };
  embedding: never;
  'position-embedding': never;
  attention: never;
  'lm-head': never;
}

export interface GpuLayerRule<K extends LayerKind> {
  /** The forward is the identity on the same buffer: no kernel, y = x, dx = dy where it can. */
  view(layer: ResolvedLayers[K], training: boolean): boolean;
  plan(layer: ResolvedLayers[K], wires: Wires, args: PlanArgs): Promise<GpuState[K]>;
  forward(layer: ResolvedLayers[K], state: GpuState[K], wires: Wires, rec: ComputeRecorder, env: EncodeEnv): void;
  /** Writes the layer's parameter gradients into env.grads (overwriting) and dx when wired. */
  backward(layer: ResolvedLayers[K], state: GpuState[K], wires: Wires, rec: ComputeRecorder, env: EncodeEnv): void;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const param = (buffer: GPUBuffer, t: ParamTensor) => floats(buffer, t.offset, t.length);
const never = () => false;
const BACKEND = 'the WebGPU backend';

/** A view's backward: dx = dy, a copy only where the walk could not give them one buffer. */
function passGradient(rec: ComputeRecorder, { dy, dx }: Wires): void {
  if (!dx || !dy || (dx.buffer === dy.buffer && (dx.offset ?? 0) === (dy.offset ?? 0))) return;
  rec.copy(dy.buffer, dy.offset ?? 0, dx.buffer, dx.offset ?? 0, dx.size!);
}

function activationRule<K extends 'relu' | 'gelu'>(kind: K): GpuLayerRule<K> {
  return {
    view: never,
    async plan(l, wires, { ctx, batch, training, own }) {
      const count = batch * size(l.inShape);
      const [forward, backward] = await Promise.all([
        ActivationForwardOp.create(ctx, kind, count),
        training && wires.dx ? ActivationBackwardOp.create(ctx, kind, count) : null,
      ]);
      return { forward: own(forward), backward: backward && own(backward) };
    },
    forward: (_l, s, w, rec) => s.forward.encode(rec, { x: w.x, y: w.y }),
    backward(_l, s, w, rec) {
      if (w.dx) s.backward!.encode(rec, { dH: w.dy!, z: w.x, dZ: w.dx });
    },
  };
}

function poolRule<K extends 'maxpool2d' | 'avgpool2d'>(kind: K): GpuLayerRule<K> {
  return {
    view: never,
    async plan(l, _wires, { ctx, batch, own, buffer }) {
      const op = own(await Pool2dOp.create(ctx, kind, pool2dShapeOf(l, batch)));
      return (kind === 'maxpool2d' ? { op, argmax: buffer(op.outputSize, `${l.path} argmax`) } : { op }) as GpuState[K];
    },
    forward(_l, s, w, rec) {
      s.op.encodeForward(rec, { x: w.x, y: w.y, argmax: (s as GpuState['maxpool2d']).argmax });
    },
    backward(_l, s, w, rec) {
      if (w.dx) s.op.encodeBackward(rec, { dy: w.dy!, dx: w.dx, argmax: (s as GpuState['maxpool2d']).argmax });
    },
  };
}

// ---------------------------------------------------------------------------------------
// The table

/** The table's type: a kind without a rule is a compile error. */
export type GpuLayers = { [K in LayerKind]: GpuLayerRule<K> };

export const gpuLayers: GpuLayers = {
  // y = act(x·W + b) | dz = dy ⊙ act'(z) (fused only), dW = xᵀ·dz, db = Σ_rows dz, dx = dz·Wᵀ
  linear: {
    view: never,
    async plan(l, wires, { ctx, batch, training, fused, chooseConfig, buffer, own }) {
      const [m, n, k] = [batch, l.outFeatures, l.inFeatures];
      const nn: MatmulShape = { layout: 'nn', m, n, k };
      const tn: MatmulShape = { layout: 'tn', m: k, n, k: m };
      const nt: MatmulShape = { layout: 'nt', m, n: k, k: n };
      const keepPreact = training && fused !== null;
      const [forward, weightGrad, biasGrad, inputGrad, activationGrad] = await Promise.all([
        MatmulOp.create(ctx, nn, { bias: true, activation: fused ?? 'none', preact: keepPreact }, chooseConfig(nn)),
        training ? MatmulOp.create(ctx, tn, {}, chooseConfig(tn)) : null,
        training ? ColumnSumOp.create(ctx, m, n) : null,
        training && wires.dx ? MatmulOp.create(ctx, nt, {}, chooseConfig(nt)) : null,
        keepPreact ? ActivationBackwardOp.create(ctx, fused!, m * n) : null,
      ]);
      for (const op of [forward, weightGrad, biasGrad, inputGrad, activationGrad]) if (op) own(op);
      return {
        forward, weightGrad, biasGrad, inputGrad, activationGrad,
        preact: keepPreact ? buffer(m * n, `${l.path} preact`) : null,
        dPreact: keepPreact ? buffer(m * n, `${l.path} dpreact`) : null,
      };
    },
    forward(l, s, w, rec, env) {
      s.forward.encode(rec, { a: w.x, b: param(env.params, l.weight), c: w.y, bias: param(env.params, l.bias), preact: s.preact ?? undefined });
    },
    backward(l, s, w, rec, env) {
      let dz = w.dy!;
      if (s.activationGrad) {
        s.activationGrad.encode(rec, { dH: dz, z: s.preact!, dZ: s.dPreact! });
        dz = s.dPreact!;
      }
      s.weightGrad!.encode(rec, { a: w.x, b: dz, c: param(env.grads, l.weight) });
      s.biasGrad!.encode(rec, dz, param(env.grads, l.bias));
      if (w.dx) s.inputGrad!.encode(rec, { a: dz, b: param(env.params, l.weight), c: w.dx });
    },
  },

  // implicit GEMM (src/kernels/conv2d.ts) | dW, db by fixed chunks; dx a gather
  conv2d: {
    view: never,
    plan: async (l, _w, { ctx, batch, own }) => ({ op: own(await Conv2dOp.create(ctx, conv2dShapeOf(l, batch))) }),
    forward(l, s, w, rec, env) {
      s.op.encodeForward(rec, { x: w.x, weight: param(env.params, l.weight), bias: param(env.params, l.bias), y: w.y });
    },
    backward(l, s, w, rec, env) {
      s.op.encodeBackwardWeight(rec, { x: w.x, dy: w.dy!, dWeight: param(env.grads, l.weight), dBias: param(env.grads, l.bias) });
      if (w.dx) s.op.encodeBackwardInput(rec, { dy: w.dy!, weight: param(env.params, l.weight), dx: w.dx });
    },
  },

  // max over the window, argmax kept | dx gathers dy through the argmax
  maxpool2d: poolRule('maxpool2d'),
  // mean over the window | dx gathers dy / area from the covering windows
  avgpool2d: poolRule('avgpool2d'),

  // a view: the same buffer | dx = dy
  flatten: {
    view: () => true,
    plan: async () => null,
    forward: () => {},
    backward: (_l, _s, w, rec) => passGradient(rec, w),
  },

  // max(x, 0) | dy·[x > 0], on x (the unfused case: after a conv2d, a pooling, a layernorm)
  relu: activationRule('relu'),
  // gelu(x) | dy·gelu'(x)
  gelu: activationRule('gelu'),

  // γ⊙x̂ + β, (mean, rstd) per row saved | dx from x and the stats; dγ, dβ summed over rows in order
  layernorm: {
    view: never,
    async plan(l, _w, { ctx, batch, own, buffer }) {
      return { op: own(await LayerNormOp.create(ctx, batch, l.features, l.eps)), stats: buffer(2 * batch, `${l.path} stats`) };
    },
    forward(l, s, w, rec, env) {
      s.op.encodeForward(rec, { x: w.x, gain: param(env.params, l.weight), shift: param(env.params, l.bias), y: w.y, stats: s.stats });
    },
    backward(l, s, w, rec, env) {
      s.op.encodeParamGrad(rec, { x: w.x, stats: s.stats, dy: w.dy!, dGain: param(env.grads, l.weight), dShift: param(env.grads, l.bias) });
      if (w.dx) s.op.encodeBackwardInput(rec, { x: w.x, stats: s.stats, gain: param(env.params, l.weight), dy: w.dy!, dx: w.dx });
    },
  },

  // x ⊙ m/(1 − p), m hashed; a view in evaluation | dy ⊙ m/(1 − p), the same kernel
  dropout: {
    view: (l, training) => !training || l.p === 0,
    async plan(l, _w, { ctx, batch, training, own }) {
      if (!training || l.p === 0) return { op: null };
      return { op: own(await DropoutOp.create(ctx, { rows: batch, features: size(l.inShape), ordinal: l.ordinal, p: l.p })) };
    },
    forward(l, s, w, rec, env) {
      if (!s.op) return;
      if (!env.randomness) throw new Error(`dropout at layer ${l.path} (p = ${l.p}) needs a dropout context { seed, positions } in training`);
      s.op.encode(rec, { x: w.x, randomness: env.randomness, y: w.y });
    },
    backward(_l, s, w, rec, env) {
      if (!s.op) passGradient(rec, w);
      else if (w.dx) s.op.encode(rec, { x: w.dy!, randomness: env.randomness!, y: w.dx });
    },
  },

  // x + branch(x) | dy + the branch's dx (the branch's own backward first)
  residual: {
    view: never,
    async plan(l, wires, args) {
      const count = args.batch * size(l.inShape);
      const dBranch = wires.dx ? args.buffer(count, `${l.path} branch dx`) : null;
      const [branch, add] = await settleAll([
        planList(l.layers, { x: wires.x, dx: dBranch, dyOut: wires.dy }, args),
        AddOp.create(args.ctx, count).then(args.own),
      ] as const);
      return { branch, add, dBranch };
    },
    forward(_l, s, w, rec, env) {
      encodeForward(s.branch, rec, env);
      s.add.encode(rec, { a: w.x, b: s.branch.y, y: w.y });
    },
    backward(_l, s, w, rec, env) {
      encodeBackward(s.branch, rec, env);
      if (w.dx) s.add.encode(rec, { a: w.dy!, b: s.dBranch!, y: w.dx });
    },
  },

  // per row lse(z) − z_label and (correct), with dlogits = (softmax − onehot)/batch, one kernel | (written by the forward)
  // Only the f64 reference has these yet; GpuModel refuses such a model (requireBackendSupport) before planning.
  embedding: { view: never, plan: () => referenceOnlyLayer('embedding', BACKEND), forward: () => referenceOnlyLayer('embedding', BACKEND), backward: () => referenceOnlyLayer('embedding', BACKEND) },
  'position-embedding': { view: never, plan: () => referenceOnlyLayer('position-embedding', BACKEND), forward: () => referenceOnlyLayer('position-embedding', BACKEND), backward: () => referenceOnlyLayer('position-embedding', BACKEND) },
  attention: { view: never, plan: () => referenceOnlyLayer('attention', BACKEND), forward: () => referenceOnlyLayer('attention', BACKEND), backward: () => referenceOnlyLayer('attention', BACKEND) },
  'lm-head': { view: never, plan: () => referenceOnlyLayer('lm-head', BACKEND), forward: () => referenceOnlyLayer('lm-head', BACKEND), backward: () => referenceOnlyLayer('lm-head', BACKEND) },

  'softmax-cross-entropy': {
    view: never,
    async plan(l, wires, { ctx, batch, own, buffer }) {
      return {
        op: own(await SoftmaxCrossEntropyOp.create(ctx, batch, l.classes)),
        rowStats: buffer(2 * batch, 'row stats'),
        // Evaluation still writes dlogits: the kernel does both, so it gets a scratch buffer.
        dlogits: wires.dx ?? buffer(batch * l.classes, 'dlogits scratch'),
      };
    },
    forward(_l, s, w, rec, env) {
      if (!env.labels) throw new Error('softmax-cross-entropy needs the labels: this plan has none (logits only)');
      s.op.encode(rec, { logits: w.x, labels: env.labels, dlogits: s.dlogits, rowStats: s.rowStats });
    },
    backward: () => {},
  },
};

// ---------------------------------------------------------------------------------------
// The rules over the list, and the walk

/** The rule of a layer's kind; the one cast TypeScript needs to pair a union member with its entry. */
function ruleFor<K extends LayerKind>(layer: ResolvedLayers[K]): GpuLayerRule<K> {
  return gpuLayers[layer.kind as K] as GpuLayerRule<K>;
}

/** Fusion: a linear directly followed by relu or gelu becomes one unit, the activation its epilogue. */
export function fuseActivations(layers: readonly ResolvedLayer[]): { layer: ResolvedLayer; fused: 'relu' | 'gelu' | null }[] {
  const units: { layer: ResolvedLayer; fused: 'relu' | 'gelu' | null }[] = [];
  for (let i = 0; i < layers.length; i++) {
    const next = layers[i + 1];
    if (layers[i].kind === 'linear' && (next?.kind === 'relu' || next?.kind === 'gelu')) {
      units.push({ layer: layers[i], fused: next.kind });
      i++;
    } else {
      units.push({ layer: layers[i], fused: null });
    }
  }
  return units;
}


/**
 * Plans a list of layers reading io.x. io.dx: where the gradient w.r.t. io.x goes (null when
 * nothing before the list needs it); io.dyOut: the gradient w.r.t. the list's output, given
 * by whoever reads that output (a residual), else null (the model's list ends in the loss).
 */
export async function planList(
  layers: readonly ResolvedLayer[],
  io: { x: Binding; dx: Binding | null; dyOut: Binding | null },
  args: Omit<PlanArgs, 'fused'>,
): Promise<PlannedList> {
  const units = fuseActivations(layers);
  const planned: { unit: (typeof units)[number]; wires: Wires; runsBackward: boolean }[] = [];
  let x = io.x;
  let dx = io.dx;
  // Invariant: dx is non-null exactly when some layer before this one runs its backward.
  let gradientFlows = io.dx !== null;
  units.forEach((unit, i) => {
    const { layer, fused } = unit;
    const last = i === units.length - 1;
    const runsBackward = args.training && (gradientFlows || hasParameters(layer));
    const view = fused === null && ruleFor(layer).view(layer, args.training);
    const y = view ? x : args.buffer(args.batch * size(layer.outShape), `${layer.path} ${layer.kind}${fused ? '+' + fused : ''}`);
    const dy = !runsBackward ? null : last ? io.dyOut : view ? dx : args.buffer(args.batch * size(layer.outShape), `${layer.path} d${layer.kind}`);
    planned.push({ unit, wires: { x, y, dy, dx }, runsBackward });
    x = y;
    dx = dy;
    gradientFlows = runsBackward;
  });
  const states = await settleAll(planned.map(({ unit, wires }) => ruleFor(unit.layer).plan(unit.layer, wires, { ...args, fused: unit.fused })));
  return {
    layers: planned.map(({ unit, wires, runsBackward }, i) => ({ layer: unit.layer, fused: unit.fused, state: states[i], wires, runsBackward })),
    y: x,
  };
}

export function encodeForward(list: PlannedList, rec: ComputeRecorder, env: EncodeEnv): void {
  for (const p of list.layers) ruleFor(p.layer).forward(p.layer, p.state as never, p.wires, rec, env);
}

export function encodeBackward(list: PlannedList, rec: ComputeRecorder, env: EncodeEnv): void {
  for (let i = list.layers.length - 1; i >= 0; i--) {
    const p = list.layers[i];
    if (p.runsBackward) ruleFor(p.layer).backward(p.layer, p.state as never, p.wires, rec, env);
  }
}

/**
 * Promise.all that, on a failure, still waits for the others: every plan has then finished
 * and put what it acquired on the plan's lists, which the caller releases.
 */
export async function settleAll<T extends readonly unknown[]>(promises: T): Promise<{ -readonly [I in keyof T]: Awaited<T[I]> }> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as { -readonly [I in keyof T]: Awaited<T[I]> };
}


