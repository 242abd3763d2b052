// The CPU backend's layer table: for each layer kind, side by side, what it needs in memory
// (packed weights in the model part, buffers for a batch capacity), its forward, its
// backward and its parameter gradients, as thread shares on one shared memory. The table's
// type is a mapped type over LayerKind, so a kind without a rule is a compile error; the f64
// reference (src/model/layers/reference.ts) is the same table in f64, and the tests hold
// this one to it.
//
// How a job is split: forward and backward run on the thread's own rows of the micro-batch
// (whole MR-row blocks, as CpuMlp), so they need no barrier between layers; parameter
// gradients sum over every row, so they run after a barrier, split by outputs (dW rows, bias
// columns, conv chunks, layernorm features); a conv's chunk sums need a second phase. Every
// value is computed by one thread in one fixed order: the bits do not depend on the thread
// count.
//
// Forward | backward (this thread's rows) | parameter gradients (after the barrier)
//   linear     gemm x·W + b (+ act, z kept) | dz = dy·act'(z) unless the next linear did; dx = dz·Wᵀ (+ act' of the fused linear before) | dW = xᵀ·dz, db = Σ dz
//   conv2d     implicit GEMM (conv2d.ts)    | dx by gather                   | chunk partials, then their ordered sum
//   max/avg    pool.ts per plane            | pool.ts per plane              | -
//   flatten    a view: y is x               | dx is dy                       | -
//   relu/gelu  elementwise.ts               | dx = dy·act'(x)                | -
//   layernorm  layernorm.ts per row         | layernorm.ts per row           | dγ, dβ per feature
//   dropout    dropoutApply (hashed mask)   | the same mask on dy            | -
//   residual   branch, then y = x + f(x)    | branch, then dx = dy + f'ᵀdy   | the branch's
//   softmax-CE loss and dlogits per row (rows.ts) | (done by the forward)   | -
//   embedding  the table's rows (sequenceKernels.ts) | -                      | dE per token row (tied: added to the head's in a second phase)
//   (attention's core is assembly/attention.ts; the embeddings, sequenceKernels.ts)
//   position   x + P                        | dx = dy                        | dP = Σ_examples dy
//   attention  the masked softmax core (its projections are linear nodes)  | dqkv | -
//   lm-head    gemm x·Eᵀ or x·W             | gemm dx = dy·E or dy·Wᵀ        | gemm dE = dyᵀ·x (tied) or dW = xᵀ·dy
// Over a sequence [T, C] a thread's rows are its examples' T positions each: linear,
// layernorm and the loss run on rows r0·T … r1·T, still whole examples per thread.

import type { LayerKind, ResolvedLayers } from '../model/layers/spec.ts';
import { ACT, type CpuKernelExports } from './kernels.ts';
import { convOutputSize, convWeightChunks, scratchBytes, type CpuConv2dShape } from './layerJobs.ts';
import { MR, NR, packedColsBytes, packedRowsBytes, type Region } from './memoryPlan.ts';
import type { CpuNode, Take } from './cpuModelPlan.ts';
import { share } from './program.ts';
import { embeddingForward, embeddingGradient, positionForward } from './sequenceKernels.ts';

/** What one thread knows while it runs its share of a model job. */
export interface LayerRun {
  k: CpuKernelExports;
  memory: WebAssembly.Memory;
  index: number;
  count: number;
  /** This thread's gemm tile and conv scratch (byte offsets). */
  tile: number;
  scratch: number;
  batch: number;
  /** This thread's rows [r0, r1) and row blocks [b0, b1). */
  r0: number;
  r1: number;
  b0: number;
  b1: number;
  training: boolean;
  /** Dropout's seed in training; null: dropout is the identity. */
  dropoutSeed: number | null;
  /** Byte offsets of the parameters, the gradient, the rows' dataset positions, labels (i32) and (loss, correct) pairs. */
  params: number;
  grads: number;
  positions: number;
  labels: number;
  rowStats: number;
}

/** Packed weights in the model part (they never move). */
export interface LayerWeights {
  linear: { packedW: Region; packedWT: Region | null };
  conv2d: null;
  maxpool2d: null;
  avgpool2d: null;
  flatten: null;
  relu: null;
  gelu: null;
  layernorm: null;
  dropout: null;
  residual: null;
  'softmax-cross-entropy': null;
  embedding: null;
  'position-embedding': null;
  attention: null;
  /** E or W packed as B of the forward (k = C, n = V) and of dx (k = V, n = C). */
  'lm-head': { packedW: Region; packedWT: Region | null };
}

/** Batch buffers besides y and dx. */
export interface LayerBuffers {
  linear: {
    /** The input packed in MR-row panels (A of the forward), and transposed over the batch (A of dW). */
    inputRows: Region;
    inputCols: Region;
    /** Fused: the pre-activation and its gradient. */
    z: Region | null;
    dz: Region | null;
    /** dz packed in MR-row panels (A of dx; only when dx is needed) and NR-column panels over the batch (B of dW). */
    dzRows: Region | null;
    dzCols: Region;
  };
  conv2d: { partials: Region };
  maxpool2d: { argmax: Region };
  avgpool2d: null;
  flatten: null;
  relu: null;
  gelu: null;
  layernorm: { stats: Region };
  dropout: null;
  residual: null;
  'softmax-cross-entropy': null;
  embedding: null;
  'position-embedding': null;
  /** The probabilities [batch·H, T, T] the backward reads, and its dS scratch (training). */
  attention: { probs: Region; dScores: Region | null };
  'lm-head': {
    /** x in MR-row panels (A of the forward), dy in MR-row panels (A of dx, when dx is needed). */
    inputRows: Region;
    dyRows: Region | null;
    /** The weight gradient's operands over the batch: tied dE = dyᵀ·x (A = dyᵀ, B = x), untied dW = xᵀ·dy (A = xᵀ, B = dy). */
    gradA: Region;
    gradB: Region;
  };
}

export interface CpuLayerRule<K extends LayerKind> {
  /** y is x and dx is dy: the layer moves no data. */
  view?: boolean;
  weights(node: CpuNode<K>, take: Take): LayerWeights[K];
  buffers(node: CpuNode<K>, capacity: number, take: Take): LayerBuffers[K];
  /** Scratch bytes one thread needs. */
  scratch?(node: CpuNode<K>): number;
  /** Repacks what depends on the parameters: this thread's share (a barrier follows). */
  pack?(node: CpuNode<K>, run: LayerRun): void;
  /** y from x on this thread's rows. */
  forward(node: CpuNode<K>, run: LayerRun): void;
  /** dx from dy on this thread's rows (when needed), and what gradients() reads. */
  backward(node: CpuNode<K>, run: LayerRun): void;
  /** This thread's share of the parameter gradients over the whole batch; phase 1 runs after another barrier. */
  gradients?(node: CpuNode<K>, run: LayerRun, phase: 0 | 1): void;
}

const panels = (cols: number) => Math.ceil(cols / NR);
const blocks = (rows: number) => Math.ceil(rows / MR);
const none = () => null;
const at = (base: number, floats: number) => base + floats * 4;

/** A fanIn → fanOut weight packed as B of the forward (k = fanIn) and, when dx is needed, of dx (k = fanOut). */
function weightPanels(fanIn: number, fanOut: number, needsDx: boolean, take: Take): { packedW: Region; packedWT: Region | null } {
  return { packedW: take(packedColsBytes(fanIn, fanOut)), packedWT: needsDx ? take(packedColsBytes(fanOut, fanIn)) : null };
}

/** Scratch of the attention core per thread: a packed A of T×max(T, d) and a B of either product's shape (assembly/attention.ts). */
export function attentionScratchBytes(t: number, d: number): number {
  return packedRowsBytes(t, Math.max(t, d)) + Math.max(packedColsBytes(d, t), packedColsBytes(t, d)) + 128;
}

/** The conv's shape at a batch size, as the kernels take it. */
export function convShape(l: ResolvedLayers['conv2d'], batch: number): CpuConv2dShape {
  const [c, h, w] = l.inShape;
  return { batch, inChannels: c, height: h, width: w, outChannels: l.outChannels, kernel: l.kernel, stride: l.stride, padding: l.padding };
}

/** A node's rows: its examples, or over a sequence each example's `positions` rows (r0 is a whole MR block, so r0·positions is too). */
function rowsOf(r: LayerRun, positions: number): { batch: number; r0: number; r1: number; b0: number; b1: number } {
  if (positions === 1) return r;
  const [r0, r1] = [r.r0 * positions, r.r1 * positions];
  return { batch: r.batch * positions, r0, r1, b0: r0 / MR, b1: Math.ceil(r1 / MR) };
}

/** The whole memory as floats (a fresh view: the memory may have grown), and a byte offset as a float index into it. */
const floatsOf = (r: LayerRun) => new Float32Array(r.memory.buffer);
const fi = (bytes: number) => bytes / 4;

/**
 * A fused linear's activation code while training: GELU keeps gelu'(z) in z for its backward
 * (ACT.geluSaved); ReLU keeps z, its own mask. Evaluation keeps nothing and uses ACT[act].
 */
const savedAct = (act: 'relu' | 'gelu'): number => (act === 'gelu' ? ACT.geluSaved : ACT[act]);

/** The region linear gradients read as dZ: its own dz when fused, else the gradient flowing in. */
const linearDz = (n: CpuNode<'linear'>): number => (n.act ? n.buffers.dz! : n.dy!).offset;

const elementwise = <K extends 'relu' | 'gelu'>(act: K): CpuLayerRule<K> => ({
  weights: none,
  buffers: none,
  forward(n, r) {
    r.k.activationForward(n.x.offset, n.y.offset, r.r0 * n.inSize, r.r1 * n.inSize, ACT[act]);
  },
  backward(n, r) {
    if (n.dx) r.k.activationBackward(n.dy!.offset, n.x.offset, n.dx.offset, r.r0 * n.inSize, r.r1 * n.inSize, ACT[act]);
  },
});

const pool = <K extends 'maxpool2d' | 'avgpool2d'>(kind: K): CpuLayerRule<K> => ({
  weights: none,
  buffers: (n, B, take) => (kind === 'maxpool2d' ? { argmax: take(B * n.outSize * 4) } : null) as LayerBuffers[K],
  forward(n, r) {
    const [c, h, w] = n.layer.inShape;
    const [kh, kw] = n.layer.kernel;
    const [sh, sw] = n.layer.stride;
    if (kind === 'maxpool2d') {
      const argmax = (n.buffers as LayerBuffers['maxpool2d']).argmax.offset;
      r.k.maxpool2dForward(n.x.offset, n.y.offset, argmax, h, w, kh, kw, sh, sw, r.r0 * c, r.r1 * c);
    } else r.k.avgpool2dForward(n.x.offset, n.y.offset, h, w, kh, kw, sh, sw, r.r0 * c, r.r1 * c);
  },
  backward(n, r) {
    if (!n.dx) return;
    const [c, h, w] = n.layer.inShape;
    const [kh, kw] = n.layer.kernel;
    const [sh, sw] = n.layer.stride;
    if (kind === 'maxpool2d') {
      const argmax = (n.buffers as LayerBuffers['maxpool2d']).argmax.offset;
      r.k.maxpool2dBackward(n.dy!.offset, argmax, n.dx.offset, h, w, kh, kw, sh, sw, r.r0 * c, r.r1 * c);
    } else r.k.avgpool2dBackward(n.dy!.offset, n.dx.offset, h, w, kh, kw, sh, sw, r.r0 * c, r.r1 * c);
  },
});

// ---------------------------------------------------------------------------------------
// The table

export const cpuLayerTable: { [K in LayerKind]: CpuLayerRule<K> } = {
  linear: {
    weights: (n, take) => weightPanels(n.layer.inFeatures, n.layer.outFeatures, n.needsDx, take),
    buffers: (n, capacity, take) => {
      const [B, fanIn, fanOut] = [capacity * n.layer.positions, n.layer.inFeatures, n.layer.outFeatures];
      return {
        inputRows: take(packedRowsBytes(B, fanIn)),
        inputCols: take(packedRowsBytes(fanIn, B)),
        z: n.act ? take(B * fanOut * 4) : null,
        dz: n.act ? take(B * fanOut * 4) : null,
        dzRows: n.needsDx ? take(packedRowsBytes(B, fanOut)) : null,
        dzCols: take(packedColsBytes(B, fanOut)),
      };
    },
    pack(n, r) {
      const [fanIn, fanOut] = [n.layer.inFeatures, n.layer.outFeatures];
      const w = at(r.params, n.layer.weight.offset);
      const [q0, q1] = share(panels(fanOut), r.index, r.count);
      r.k.packB(w, fanOut, 1, fanIn, fanOut, 0, fanIn, q0, q1, n.weights.packedW.offset);
      if (n.weights.packedWT) {
        // Wᵀ(p, j) = W[j·fanOut + p]: k = fan-out, n = fan-in.
        const [s0, s1] = share(panels(fanIn), r.index, r.count);
        r.k.packB(w, 1, fanOut, fanOut, fanIn, 0, fanOut, s0, s1, n.weights.packedWT.offset);
      }
    },
    forward(n, r) {
      const { k } = r;
      const { batch, r0, r1, b0, b1 } = rowsOf(r, n.layer.positions);
      const [fanIn, fanOut] = [n.layer.inFeatures, n.layer.outFeatures];
      const b = n.buffers;
      k.packA(n.x.offset, fanIn, 1, batch, fanIn, r0, r1, 0, fanIn, b.inputRows.offset);
      // Transposed for dW = xᵀ·dZ: features are the rows, this thread's examples the k-range.
      if (r.training) k.packA(n.x.offset, 1, fanIn, fanIn, batch, 0, fanIn, r0, r1, b.inputCols.offset);
      k.gemm(
        b.inputRows.offset, n.weights.packedW.offset, fanIn, b0, b1, 0, panels(fanOut),
        n.y.offset, fanOut, batch, fanOut,
        at(r.params, n.layer.bias.offset), n.act ? (r.training ? savedAct(n.act) : ACT[n.act]) : ACT.none,
        r.training && n.act ? b.z!.offset : 0, 0, r.tile,
      );
    },
    backward(n, r) {
      const { k } = r;
      const { batch, r0, r1, b0, b1 } = rowsOf(r, n.layer.positions);
      const [fanIn, fanOut] = [n.layer.inFeatures, n.layer.outFeatures];
      const b = n.buffers;
      if (n.act && !n.dyIsDz) k.activationBackward(n.dy!.offset, b.z!.offset, b.dz!.offset, r0 * fanOut, r1 * fanOut, savedAct(n.act));
      const dz = linearDz(n);
      k.packB(dz, fanOut, 1, batch, fanOut, r0, r1, 0, panels(fanOut), b.dzCols.offset);
      if (!n.dx) return;
      k.packA(dz, fanOut, 1, batch, fanOut, r0, r1, 0, fanOut, b.dzRows!.offset);
      const into = n.into;
      k.gemm(
        b.dzRows!.offset, n.weights.packedWT!.offset, fanOut, b0, b1, 0, panels(fanIn),
        n.dx.offset, fanIn, batch, fanIn,
        0, into ? savedAct(into.act!) : ACT.none, 0, into ? into.buffers.z!.offset : 0, r.tile,
      );
    },
    gradients(n, r, phase) {
      if (phase !== 0) return;
      const { k } = r;
      const { batch } = rowsOf(r, n.layer.positions);
      const [fanIn, fanOut] = [n.layer.inFeatures, n.layer.outFeatures];
      const [w0, w1] = share(blocks(fanIn), r.index, r.count);
      if (w0 < w1) {
        k.gemm(
          n.buffers.inputCols.offset, n.buffers.dzCols.offset, batch, w0, w1, 0, panels(fanOut),
          at(r.grads, n.layer.weight.offset), fanOut, fanIn, fanOut, 0, ACT.none, 0, 0, r.tile,
        );
      }
      const [c0, c1] = share(fanOut, r.index, r.count);
      if (c0 < c1) k.columnSum(linearDz(n), batch, fanOut, c0, c1, at(r.grads, n.layer.bias.offset));
    },
  },

  conv2d: {
    weights: none,
    buffers: (n, B, take) => {
      const depth = n.layer.inChannels * n.layer.kernel[0] * n.layer.kernel[1];
      return { partials: take(convWeightChunks(convShape(n.layer, B)) * (depth + 1) * n.layer.outChannels * 4) };
    },
    scratch: (n) => {
      const s = convShape(n.layer, 1);
      return Math.max(scratchBytes('conv2d-forward', s), n.needsDx ? scratchBytes('conv2d-backward-input', s) : 0, scratchBytes('conv2d-weight-partials', s));
    },
    forward(n, r) {
      const l = n.layer;
      const [c, h, w] = l.inShape;
      const [oh, ow] = convOutputSize(convShape(l, 1));
      // Items (n, oy, a run of 8 ox) of this thread's rows.
      const items = oh * Math.ceil(ow / 8);
      r.k.conv2dForward(
        n.x.offset, at(r.params, l.weight.offset), at(r.params, l.bias.offset), n.y.offset,
        c, h, w, l.outChannels, ...l.kernel, ...l.stride, ...l.padding, r.r0 * items, r.r1 * items, r.scratch,
      );
    },
    backward(n, r) {
      if (!n.dx) return;
      const l = n.layer;
      const [c, h, w] = l.inShape;
      const items = h * Math.ceil(w / 8);
      r.k.conv2dBackwardInput(
        n.dy!.offset, at(r.params, l.weight.offset), n.dx.offset,
        c, h, w, l.outChannels, ...l.kernel, ...l.stride, ...l.padding, r.r0 * items, r.r1 * items, r.scratch,
      );
    },
    gradients(n, r, phase) {
      const l = n.layer;
      const s = convShape(l, r.batch);
      const chunks = convWeightChunks(s);
      const depth = l.inChannels * l.kernel[0] * l.kernel[1];
      const partials = n.buffers.partials.offset;
      if (phase === 0) {
        const [j0, j1] = share(chunks, r.index, r.count);
        const [c, h, w] = l.inShape;
        if (j0 < j1) {
          r.k.conv2dWeightPartials(n.x.offset, n.dy!.offset, partials, r.batch, c, h, w, l.outChannels, ...l.kernel, ...l.stride, ...l.padding, j0, j1, r.scratch);
        }
        return;
      }
      // Whole vectors of four elements per thread (any split gives the same bits).
      const elements = (depth + 1) * l.outChannels;
      const [v0, v1] = share(Math.ceil(elements / 4), r.index, r.count);
      if (v0 < v1) r.k.conv2dWeightSum(partials, chunks, depth, l.outChannels, v0 * 4, Math.min(v1 * 4, elements), at(r.grads, l.weight.offset), at(r.grads, l.bias.offset));
    },
  },

  maxpool2d: pool('maxpool2d'),
  avgpool2d: pool('avgpool2d'),

  flatten: {
    view: true,
    weights: none,
    buffers: none,
    forward() {},
    backward() {},
  },

  relu: elementwise('relu'),
  gelu: elementwise('gelu'),

  layernorm: {
    weights: none,
    buffers: (n, B, take) => ({ stats: take(B * n.layer.positions * 8) }),
    forward(n, r) {
      const l = n.layer;
      const { r0, r1 } = rowsOf(r, l.positions);
      r.k.layernormForward(n.x.offset, at(r.params, l.weight.offset), at(r.params, l.bias.offset), n.y.offset, n.buffers.stats.offset, l.features, l.eps, r0, r1);
    },
    backward(n, r) {
      if (!n.dx) return;
      const { r0, r1 } = rowsOf(r, n.layer.positions);
      r.k.layernormBackwardInput(n.x.offset, n.buffers.stats.offset, at(r.params, n.layer.weight.offset), n.dy!.offset, n.dx.offset, n.layer.features, r0, r1);
    },
    gradients(n, r, phase) {
      if (phase !== 0) return;
      const l = n.layer;
      const f = l.features;
      const [v0, v1] = share(Math.ceil(f / 4), r.index, r.count);
      if (v0 < v1) r.k.layernormParamGrad(n.x.offset, n.buffers.stats.offset, n.dy!.offset, at(r.grads, l.weight.offset), at(r.grads, l.bias.offset), r.batch * l.positions, f, v0 * 4, Math.min(v1 * 4, f));
    },
  },

  dropout: {
    weights: none,
    buffers: none,
    forward(n, r) {
      dropoutOrCopy(n, r, n.x.offset, n.y.offset);
    },
    backward(n, r) {
      if (n.dx) dropoutOrCopy(n, r, n.dy!.offset, n.dx.offset);
    },
  },

  residual: {
    weights: none,
    buffers: none,
    forward(n, r) {
      forwardNodes(n.branch, r);
      const f = n.inSize;
      r.k.addFloats(n.x.offset, n.branch[n.branch.length - 1].y.offset, n.y.offset, r.r0 * f, r.r1 * f);
    },
    backward(n, r) {
      backwardNodes(n.branch, r);
      const f = n.inSize;
      if (n.dx) r.k.addFloats(n.dy!.offset, n.branch[0].dx!.offset, n.dx.offset, r.r0 * f, r.r1 * f);
    },
    gradients(n, r, phase) {
      gradientNodes(n.branch, r, phase);
    },
  },

  embedding: {
    weights: none,
    buffers: none,
    forward(n, r) {
      const l = n.layer;
      embeddingForward(floatsOf(r), fi(n.x.offset), fi(at(r.params, l.weight.offset)), fi(n.y.offset), l.features, r.r0 * l.context, r.r1 * l.context);
    },
    backward() {},
    // Tied, the head's gemm wrote dE in phase 0 and the token rows are added to it in phase 1.
    gradients(n, r, phase) {
      const tied = n.tiedHead !== undefined;
      if (phase !== (tied ? 1 : 0)) return;
      const l = n.layer;
      const [v0, v1] = share(l.vocabulary, r.index, r.count);
      if (v0 < v1) embeddingGradient(floatsOf(r), fi(n.x.offset), fi(n.dy!.offset), fi(at(r.grads, l.weight.offset)), l.features, r.batch * l.context, v0, v1, tied);
    },
  },

  'position-embedding': {
    weights: none,
    buffers: none,
    forward(n, r) {
      positionForward(floatsOf(r), fi(n.x.offset), fi(at(r.params, n.layer.weight.offset)), fi(n.y.offset), n.inSize, r.r0, r.r1);
    },
    backward(n, r) {
      if (n.dx) r.k.copyFloats(n.dy!.offset, n.dx.offset, r.r0 * n.inSize, r.r1 * n.inSize);
    },
    gradients(n, r, phase) {
      if (phase !== 0) return;
      const [c0, c1] = share(n.inSize, r.index, r.count);
      if (c0 < c1) r.k.columnSum(n.dy!.offset, r.batch, n.inSize, c0, c1, at(r.grads, n.layer.weight.offset));
    },
  },

  // The core only: cpuModelPlan.ts puts the qkv and output projections around it as linears.
  attention: {
    weights: none,
    buffers: (n, B, take) => {
      const scores = B * n.layer.heads * n.layer.context * n.layer.context * 4;
      return { probs: take(scores), dScores: n.needsDx ? take(scores) : null };
    },
    scratch: (n) => attentionScratchBytes(n.layer.context, n.layer.features / n.layer.heads),
    forward(n, r) {
      const l = n.layer;
      r.k.attentionForward(n.x.offset, n.buffers.probs.offset, n.y.offset, l.context, l.features, l.heads, r.r0, r.r1, r.scratch, r.tile);
    },
    backward(n, r) {
      if (!n.dx) return;
      const [l, b] = [n.layer, n.buffers];
      r.k.attentionBackward(n.x.offset, b.probs.offset, n.dy!.offset, b.dScores!.offset, n.dx.offset, l.context, l.features, l.heads, r.r0, r.r1, r.scratch, r.tile);
    },
  },

  // W is the embedding's E [V, C] when tied, else the head's own [C, V]; rows are positions.
  'lm-head': {
    weights: (n, take) => weightPanels(n.layer.features, n.layer.vocabulary, n.needsDx, take),
    buffers: (n, capacity, take) => {
      const [B, C, V] = [capacity * n.layer.context, n.layer.features, n.layer.vocabulary];
      return {
        inputRows: take(packedRowsBytes(B, C)),
        dyRows: n.needsDx ? take(packedRowsBytes(B, V)) : null,
        gradA: n.layer.tied ? take(packedRowsBytes(V, B)) : take(packedRowsBytes(C, B)),
        gradB: n.layer.tied ? take(packedColsBytes(B, C)) : take(packedColsBytes(B, V)),
      };
    },
    pack(n, r) {
      const { features: C, vocabulary: V, tied } = n.layer;
      const w = at(r.params, n.layer.weight.offset);
      // Forward B(c, v): E[v·C + c] tied, W[c·V + v] untied.
      const [q0, q1] = share(panels(V), r.index, r.count);
      if (tied) r.k.packB(w, 1, C, C, V, 0, C, q0, q1, n.weights.packedW.offset);
      else r.k.packB(w, V, 1, C, V, 0, C, q0, q1, n.weights.packedW.offset);
      if (!n.weights.packedWT) return;
      // dx's B(v, c): E[v·C + c] tied, W[c·V + v] untied.
      const [s0, s1] = share(panels(C), r.index, r.count);
      if (tied) r.k.packB(w, C, 1, V, C, 0, V, s0, s1, n.weights.packedWT.offset);
      else r.k.packB(w, 1, V, V, C, 0, V, s0, s1, n.weights.packedWT.offset);
    },
    forward(n, r) {
      const { k } = r;
      const { batch, r0, r1, b0, b1 } = rowsOf(r, n.layer.context);
      const { features: C, vocabulary: V, tied } = n.layer;
      const b = n.buffers;
      const x = n.x.offset;
      k.packA(x, C, 1, batch, C, r0, r1, 0, C, b.inputRows.offset);
      // This thread's rows are its k-range of the weight gradient's x operand.
      if (r.training) {
        if (tied) k.packB(x, C, 1, batch, C, r0, r1, 0, panels(C), b.gradB.offset);
        else k.packA(x, 1, C, C, batch, 0, C, r0, r1, b.gradA.offset);
      }
      k.gemm(b.inputRows.offset, n.weights.packedW.offset, C, b0, b1, 0, panels(V), n.y.offset, V, batch, V, 0, ACT.none, 0, 0, r.tile);
    },
    backward(n, r) {
      const { k } = r;
      const { batch, r0, r1, b0, b1 } = rowsOf(r, n.layer.context);
      const { features: C, vocabulary: V, tied } = n.layer;
      const b = n.buffers;
      const dy = n.dy!.offset;
      if (tied) k.packA(dy, 1, V, V, batch, 0, V, r0, r1, b.gradA.offset);
      else k.packB(dy, V, 1, batch, V, r0, r1, 0, panels(V), b.gradB.offset);
      if (!n.dx) return;
      k.packA(dy, V, 1, batch, V, r0, r1, 0, V, b.dyRows!.offset);
      k.gemm(b.dyRows!.offset, n.weights.packedWT!.offset, V, b0, b1, 0, panels(C), n.dx.offset, C, batch, C, 0, ACT.none, 0, 0, r.tile);
    },
    gradients(n, r, phase) {
      if (phase !== 0) return;
      const { batch } = rowsOf(r, n.layer.context);
      const { features: C, vocabulary: V, tied } = n.layer;
      const [rows, cols] = tied ? [V, C] : [C, V];
      const [w0, w1] = share(blocks(rows), r.index, r.count);
      if (w0 < w1) {
        r.k.gemm(n.buffers.gradA.offset, n.buffers.gradB.offset, batch, w0, w1, 0, panels(cols), at(r.grads, n.layer.weight.offset), cols, rows, cols, 0, ACT.none, 0, 0, r.tile);
      }
    },
  },

  'softmax-cross-entropy': {
    weights: none,
    buffers: none,
    // (loss, correct) per row into rowStats (its y is unused), and dlogits = (softmax − onehot)/batch into dx.
    forward(n, r) {
      // A row per label; the mean (and so the scale) is over them all.
      const { batch, r0, r1 } = rowsOf(r, n.layer.positions);
      r.k.softmaxCrossEntropy(n.x.offset, r.labels, r0, r1, n.layer.classes, 1 / batch, n.dx!.offset, r.rowStats);
    },
    backward() {},
  },
};

/** Dropout in training with p > 0: the hashed mask (the same bits as dropout.ts) times 1/(1 − p); else a copy. */
function dropoutOrCopy(n: CpuNode<'dropout'>, r: LayerRun, from: number, to: number): void {
  const l = n.layer;
  const f = n.inSize;
  if (r.dropoutSeed === null || l.p === 0) r.k.copyFloats(from, to, r.r0 * f, r.r1 * f);
  else r.k.dropoutApply(from, to, r.positions, r.dropoutSeed, l.ordinal, l.threshold, 1 / (1 - l.p), f, r.r0, r.r1);
}

// ---------------------------------------------------------------------------------------
// The walk: a node's rule, nodes in order

function ruleFor<K extends LayerKind>(node: CpuNode<K>): CpuLayerRule<K> {
  return cpuLayerTable[node.layer.kind as K] as CpuLayerRule<K>;
}

/** Every node's forward on this thread's rows. */
export function forwardNodes(nodes: readonly CpuNode[], r: LayerRun): void {
  for (const n of nodes) ruleFor(n).forward(n, r);
}

export function backwardNodes(nodes: readonly CpuNode[], r: LayerRun): void {
  for (let i = nodes.length - 1; i >= 0; i--) ruleFor(nodes[i]).backward(nodes[i], r);
}

export function gradientNodes(nodes: readonly CpuNode[], r: LayerRun, phase: 0 | 1): void {
  for (const n of nodes) ruleFor(n).gradients?.(n, r, phase);
}

export function packNodes(nodes: readonly CpuNode[], r: LayerRun): void {
  for (const n of nodes) {
    ruleFor(n).pack?.(n, r);
    packNodes(n.branch, r);
  }
}
