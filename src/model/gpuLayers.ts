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
import { AttentionCoreOp } from '../kernels/attention.ts';
import { PositionEmbeddingOp, TokenEmbeddingOp } from '../kernels/embedding.ts';
import { MatmulOp, type MatmulConfig, type MatmulShape } from '../kernels/matmul.ts';
import { Pool2dOp, pool2dShapeOf } from '../kernels/pool.ts';
import { ColumnSumOp } from '../kernels/reduce.ts';
import { AddOp } from '../kernels/residual.ts';
import { SoftmaxCrossEntropyOp } from '../kernels/softmaxXent.ts';
import { hasParameters, type LayerKind, type ParamTensor, type ResolvedLayer, type ResolvedLayers, type ResolvedModel } from './layers/spec.ts';

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
  embedding: { op: TokenEmbeddingOp };
  'position-embedding': { op: PositionEmbeddingOp; grad: ColumnSumOp | null };
  attention: {
    qkv: MatmulOp; core: AttentionCoreOp; projection: MatmulOp;
    /** Saved by the forward: q|k|v per position, the probabilities, the heads' outputs. */
    qkvOut: Binding; probs: Binding; o: Binding;
    /** Training only: the backward's matmuls and column sums, and its buffers. */
    backward: {
      projectionWeight: MatmulOp; projectionBias: ColumnSumOp; projectionInput: MatmulOp;
      qkvWeight: MatmulOp; qkvBias: ColumnSumOp; qkvInput: MatmulOp | null;
      dO: Binding; dScores: Binding; dQkv: Binding;
    } | null;
  };
  'lm-head': { forward: MatmulOp; weightGrad: MatmulOp | null; inputGrad: MatmulOp | null };
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
      // Over a sequence every position is a row of the matmul.
      const [m, n, k] = [batch * l.positions, l.outFeatures, l.inFeatures];
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
      const rows = batch * l.positions;
      return { op: own(await LayerNormOp.create(ctx, rows, l.features, l.eps)), stats: buffer(2 * rows, `${l.path} stats`) };
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
  // E[token] per position | dE[v] = Σ over the positions holding v, each entry's owner summing in order (added to a tied head's)
  embedding: {
    view: never,
    async plan(l, _w, { ctx, batch, training, own }) {
      const op = await TokenEmbeddingOp.create(ctx, { rows: batch * l.context, features: l.features, vocabulary: l.vocabulary, training, accumulate: l.tiedHead });
      return { op: own(op) };
    },
    forward(l, s, w, rec, env) {
      s.op.encodeForward(rec, { tokens: w.x, table: param(env.params, l.weight), y: w.y });
    },
    backward(l, s, w, rec, env) {
      s.op.encodeBackward(rec, { tokens: w.x, dy: w.dy!, dTable: param(env.grads, l.weight) });
    },
  },

  // x + P, P broadcast over the batch | dx = dy, dP = Σ_examples dy (a column sum)
  'position-embedding': {
    view: never,
    async plan(l, _w, { ctx, batch, training, own }) {
      const perExample = l.context * l.features;
      const [op, grad] = await Promise.all([PositionEmbeddingOp.create(ctx, batch, perExample), training ? ColumnSumOp.create(ctx, batch, perExample) : null]);
      return { op: own(op), grad: grad && own(grad) };
    },
    forward(l, s, w, rec, env) {
      s.op.encodeForward(rec, { x: w.x, table: param(env.params, l.weight), y: w.y });
    },
    backward(l, s, w, rec, env) {
      s.grad!.encode(rec, w.dy!, param(env.grads, l.weight));
      passGradient(rec, w);
    },
  },

  // qkv = x·W + b; the masked softmax core per head (attention.wgsl); y = o·Wo + bo
  // | dWo = oᵀ·dy, dbo, do = dy·Woᵀ; the core's dqkv; dW = xᵀ·dqkv, db, dx = dqkv·Wᵀ
  attention: {
    view: never,
    async plan(l, wires, { ctx, batch, training, chooseConfig, buffer, own }) {
      const { context: t, features: c, heads } = l;
      const m = batch * t;
      const shapes = {
        qkv: { layout: 'nn', m, n: 3 * c, k: c },
        projection: { layout: 'nn', m, n: c, k: c },
        projectionWeight: { layout: 'tn', m: c, n: c, k: m },
        projectionInput: { layout: 'nt', m, n: c, k: c },
        qkvWeight: { layout: 'tn', m: c, n: 3 * c, k: m },
        qkvInput: { layout: 'nt', m, n: c, k: 3 * c },
      } satisfies Record<string, MatmulShape>;
      const matmul = (shape: MatmulShape, bias = false) => MatmulOp.create(ctx, shape, bias ? { bias: true } : {}, chooseConfig(shape)).then(own);
      const [qkv, core, projection] = await Promise.all([
        matmul(shapes.qkv, true),
        AttentionCoreOp.create(ctx, { batch, context: t, features: c, heads }, training).then(own),
        matmul(shapes.projection, true),
      ]);
      const scores = batch * heads * t * t;
      const saved = { qkvOut: buffer(m * 3 * c, `${l.path} qkv`), probs: buffer(scores, `${l.path} probabilities`), o: buffer(m * c, `${l.path} heads`) };
      if (!training) return { qkv, core, projection, ...saved, backward: null };
      const [projectionWeight, projectionBias, projectionInput, qkvWeight, qkvBias, qkvInput] = await Promise.all([
        matmul(shapes.projectionWeight),
        ColumnSumOp.create(ctx, m, c).then(own),
        matmul(shapes.projectionInput),
        matmul(shapes.qkvWeight),
        ColumnSumOp.create(ctx, m, 3 * c).then(own),
        wires.dx ? matmul(shapes.qkvInput) : null,
      ]);
      const backward = {
        projectionWeight, projectionBias, projectionInput, qkvWeight, qkvBias, qkvInput,
        dO: buffer(m * c, `${l.path} d heads`), dScores: buffer(scores, `${l.path} d scores`), dQkv: buffer(m * 3 * c, `${l.path} d qkv`),
      };
      return { qkv, core, projection, ...saved, backward };
    },
    forward(l, s, w, rec, env) {
      s.qkv.encode(rec, { a: w.x, b: param(env.params, l.qkvWeight), c: s.qkvOut, bias: param(env.params, l.qkvBias) });
      s.core.encodeForward(rec, { qkv: s.qkvOut, probs: s.probs, o: s.o });
      s.projection.encode(rec, { a: s.o, b: param(env.params, l.projectionWeight), c: w.y, bias: param(env.params, l.projectionBias) });
    },
    backward(l, s, w, rec, env) {
      const b = s.backward!;
      b.projectionWeight.encode(rec, { a: s.o, b: w.dy!, c: param(env.grads, l.projectionWeight) });
      b.projectionBias.encode(rec, w.dy!, param(env.grads, l.projectionBias));
      b.projectionInput.encode(rec, { a: w.dy!, b: param(env.params, l.projectionWeight), c: b.dO });
      s.core.encodeBackward(rec, { qkv: s.qkvOut, probs: s.probs, dO: b.dO, dScores: b.dScores, dQkv: b.dQkv });
      b.qkvWeight.encode(rec, { a: w.x, b: b.dQkv, c: param(env.grads, l.qkvWeight) });
      b.qkvBias.encode(rec, b.dQkv, param(env.grads, l.qkvBias));
      if (w.dx) b.qkvInput!.encode(rec, { a: b.dQkv, b: param(env.params, l.qkvWeight), c: w.dx });
    },
  },

  // x·Eᵀ (tied, E [V, C]) or x·W (W [C, V]), no bias | dW (the embedding's dE first, which it adds to), dx
  'lm-head': {
    view: never,
    async plan(l, wires, { ctx, batch, training, chooseConfig, own }) {
      const [m, c, v] = [batch * l.context, l.features, l.vocabulary];
      const shapes: Record<'forward' | 'weightGrad' | 'inputGrad', MatmulShape> = l.tied
        ? { forward: { layout: 'nt', m, n: v, k: c }, weightGrad: { layout: 'tn', m: v, n: c, k: m }, inputGrad: { layout: 'nn', m, n: c, k: v } }
        : { forward: { layout: 'nn', m, n: v, k: c }, weightGrad: { layout: 'tn', m: c, n: v, k: m }, inputGrad: { layout: 'nt', m, n: c, k: v } };
      const matmul = (shape: MatmulShape) => MatmulOp.create(ctx, shape, {}, chooseConfig(shape)).then(own);
      const [forward, weightGrad, inputGrad] = await Promise.all([
        matmul(shapes.forward),
        training ? matmul(shapes.weightGrad) : null,
        training && wires.dx ? matmul(shapes.inputGrad) : null,
      ]);
      return { forward, weightGrad, inputGrad };
    },
    forward(l, s, w, rec, env) {
      s.forward.encode(rec, { a: w.x, b: param(env.params, l.weight), c: w.y });
    },
    backward(l, s, w, rec, env) {
      // Tied: dE = dyᵀ·x [V, C]; untied: dW = xᵀ·dy [C, V]. Either overwrites: the head runs its backward before the embedding adds.
      const [a, b] = l.tied ? [w.dy!, w.x] : [w.x, w.dy!];
      s.weightGrad!.encode(rec, { a, b, c: param(env.grads, l.weight) });
      if (w.dx) s.inputGrad!.encode(rec, { a: w.dy!, b: param(env.params, l.weight), c: w.dx });
    },
  },

  'softmax-cross-entropy': {
    view: never,
    async plan(l, wires, { ctx, batch, own, buffer }) {
      // A row per label: per example, or per position of a sequence (the mean is over them all).
      const rows = batch * l.positions;
      return {
        op: own(await SoftmaxCrossEntropyOp.create(ctx, rows, l.classes)),
        rowStats: buffer(2 * rows, 'row stats'),
        // Evaluation still writes dlogits: the kernel does both, so it gets a scratch buffer.
        dlogits: wires.dx ?? buffer(rows * l.classes, 'dlogits scratch'),
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


