// Where a layer-table model lives in the CPU backend's WebAssembly memory, and the list of
// nodes the threads walk. Pure: the page and every worker thread compute the same plan from
// the model's spec (JSON in the memory, right after the header) and a few numbers, so only
// those ever travel between threads.
//
// Order: control block and tiles, the spec, the model (parameters, gradient, optimizer state,
// norm partials, each linear's packed weights), the datasets, then the micro-batch buffers
// (indices, positions, inputs, labels, row stats, per-thread scratch, every node's
// activations and buffers, then the gradients flowing back). The model never moves when the
// datasets or the batch capacity change.
//
// Fusion is a rule over the list: a linear followed by relu or gelu is one node whose gemm
// applies bias and activation in its epilogue (keeping the pre-activation z), and a linear
// right after such a node writes that node's dz through its dx gemm with act'(z) applied, as
// CpuMlp does. Every other layer is a node of its own (src/cpu/cpuModelLayers.ts), but for
// attention, which is three: its qkv projection and its output projection are linears over
// the positions (the gemm), around a node for the masked softmax core.

import type { Activation } from '../model/mlp.ts';
import { hasParameters, type LayerKind, type ParamTensor, type ResolvedLayer, type ResolvedLayers, type ResolvedLinear, type ResolvedModel } from '../model/layers/spec.ts';
import { cpuLayerTable, type LayerBuffers, type LayerWeights } from './cpuModelLayers.ts';
import { NORM_CHUNK, headerRegions, type DatasetRegions, type Region } from './memoryPlan.ts';

export interface ModelPlanInputs {
  /** Bytes of the spec's JSON (UTF-8) at specRegion(). */
  specBytes: number;
  trainCount: number;
  testCount: number;
  /** The largest micro-batch the batch buffers hold. */
  batchCapacity: number;
  /** Threads that run the jobs: each gets its own scratch. */
  threads: number;
}

export interface CpuNode<K extends LayerKind = LayerKind> {
  layer: ResolvedLayers[K];
  /** Features per example in and out. */
  inSize: number;
  outSize: number;
  /** Linear only: the relu or gelu after it, fused into its epilogue. */
  act: Activation | null;
  /** Whether the gradient with respect to the input is needed (not for the model's input). */
  needsDx: boolean;
  x: Region;
  y: Region;
  /** The gradient flowing in (the next node's dx); null for the loss. */
  dy: Region | null;
  dx: Region | null;
  /** Linear: the fused linear just before it, whose dz its dx gemm writes with act'(z) applied. */
  into: CpuNode<'linear'> | null;
  /** Fused linear: dy already is dz (the linear after it applied act'). */
  dyIsDz: boolean;
  weights: LayerWeights[K];
  buffers: LayerBuffers[K];
  /** Residual: the branch's nodes. */
  branch: CpuNode[];
  /** Embedding: the lm-head tied to its table; that head's gemm writes the table's gradient and the embedding adds its token rows to it. */
  tiedHead?: CpuNode<'lm-head'>;
}

export interface CpuModelPlan {
  inputs: ModelPlanInputs;
  model: ResolvedModel;
  spec: Region;
  params: Region;
  grads: Region;
  state1: Region;
  state2: Region;
  normPartials: Region;
  train: DatasetRegions;
  test: DatasetRegions;
  batch: {
    capacity: number;
    indices: Region;
    /** Dataset position per row (u32), for dropout. */
    positions: Region;
    x: Region;
    /** Labels as i32. */
    labels: Region;
    /** Per row: (loss, correct) as f32. */
    rowStats: Region;
    /** inputs.threads × scratchPerThread bytes. */
    scratch: Region;
    scratchPerThread: number;
  };
  /** The top-level nodes, the loss last. */
  nodes: CpuNode[];
  /** The loss node's input: batch × classes. */
  logits: Region;
  /** Whether the gradients need a second phase (a conv's chunk sums, a tied head's dE). */
  twoPhases: boolean;
  end: number;
}

const ALIGN = 64;
const ceilTo = (n: number, m: number) => Math.ceil(n / m) * m;
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export type Take = (bytes: number) => Region;

class Arena {
  constructor(private next: number) {}
  readonly take: Take = (bytes) => {
    const offset = ceilTo(this.next, ALIGN);
    this.next = offset + Math.max(bytes, 0);
    return { offset, bytes };
  };
  get end(): number {
    return ceilTo(this.next, ALIGN);
  }
}

const NO_REGION: Region = { offset: 0, bytes: 0 };

/** Where the spec's JSON goes: right after the header, the same for every plan on a module. */
export function specRegion(heapBase: number, specBytes: number): Region {
  const { tiles } = headerRegions(heapBase);
  return new Arena(tiles.offset + tiles.bytes).take(specBytes);
}


/**
 * The fusion rule over one list: linear + relu/gelu become one node. A node needs dx only
 * when a layer before it holds parameters (or the list's input needs a gradient): the
 * first conv of a CNN, or one after pooling the input, computes no dx.
 */
function buildNodes(list: readonly ResolvedLayer[], listNeedsDx: boolean): CpuNode[] {
  const layers = list.flatMap(expandAttention);
  const nodes: CpuNode[] = [];
  let upstream = listNeedsDx;
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i];
    const next = layers[i + 1];
    const fused = layer.kind === 'linear' && (next?.kind === 'relu' || next?.kind === 'gelu') ? next.kind : null;
    const needsDx = upstream;
    upstream ||= hasParameters(layer);
    nodes.push({
      layer, inSize: size(layer.inShape), outSize: size(layer.outShape), act: fused, needsDx,
      x: NO_REGION, y: NO_REGION, dy: null, dx: null, into: null, dyIsDz: false,
      weights: null as never, buffers: null as never,
      branch: layer.kind === 'residual' ? buildNodes(layer.layers, needsDx) : [],
    });
    if (fused) i++;
  }
  return nodes;
}

/** Attention as its qkv linear (over the positions), its core (in [T, 3C] → out [T, C]) and its output projection. */
function expandAttention(layer: ResolvedLayer): ResolvedLayer[] {
  if (layer.kind !== 'attention') return [layer];
  const { context: t, features: c } = layer;
  const projection = (part: string, fanIn: number, fanOut: number, weight: ParamTensor, bias: ParamTensor): ResolvedLinear => ({
    kind: 'linear', path: `${layer.path}.${part}`, specPath: layer.specPath, ordinal: layer.ordinal,
    inShape: [t, fanIn], outShape: [t, fanOut], inFeatures: fanIn, outFeatures: fanOut, positions: t, weight, bias,
    forwardFlops: t * (2 * fanIn * fanOut + fanOut),
  });
  return [
    projection('qkv', c, 3 * c, layer.qkvWeight, layer.qkvBias),
    { ...layer, inShape: [t, 3 * c] },
    projection('projection', c, c, layer.projectionWeight, layer.projectionBias),
  ];
}

/** Calls visit on every node, a residual's branch after it. */
export function walkNodes(nodes: readonly CpuNode[], visit: (node: CpuNode) => void): void {
  for (const n of nodes) {
    visit(n);
    walkNodes(n.branch, visit);
  }
}

const ruleOf = (node: CpuNode) => cpuLayerTable[node.layer.kind] as unknown as {
  view?: boolean;
  weights(node: CpuNode, take: Take): unknown;
  buffers(node: CpuNode, capacity: number, take: Take): unknown;
  scratch?(node: CpuNode): number;
};

/** y and kind buffers, in forward order; a residual's branch reads the residual's x. */
function planForward(nodes: CpuNode[], x: Region, capacity: number, take: Take): Region {
  for (const node of nodes) {
    const rule = ruleOf(node);
    node.x = x;
    node.y = rule.view ? x : take(capacity * node.outSize * 4);
    if (node.branch.length) planForward(node.branch, x, capacity, take);
    node.buffers = rule.buffers(node, capacity, take) as never;
    x = node.y;
  }
  return x;
}

/** dy and dx, from the last node back; `dy` flows into the list's last node. */
function planBackward(nodes: CpuNode[], dy: Region | null, capacity: number, take: Take): void {
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i];
    const prev = nodes[i - 1];
    node.dy = dy;
    if (node.layer.kind === 'softmax-cross-entropy') node.dx = take(capacity * node.inSize * 4);
    else if (!node.needsDx) node.dx = null;
    else if (ruleOf(node).view) node.dx = dy;
    else if (node.layer.kind === 'linear' && prev?.layer.kind === 'linear' && prev.act) {
      const fused = prev as CpuNode<'linear'>;
      node.dx = fused.buffers.dz;
      node.into = fused;
      fused.dyIsDz = true;
    } else node.dx = take(capacity * node.inSize * 4);
    if (node.branch.length) planBackward(node.branch, node.dy, capacity, take);
    dy = node.dx;
  }
}

/** The plan for a model and its data; the spec's JSON sits at specRegion(heapBase, inputs.specBytes). */
export function planModel(model: ResolvedModel, inputs: ModelPlanInputs, heapBase: number): CpuModelPlan {
  for (const [name, value, min] of [
    ['specBytes', inputs.specBytes, 1], ['trainCount', inputs.trainCount, 0], ['testCount', inputs.testCount, 0],
    ['batchCapacity', inputs.batchCapacity, 1], ['threads', inputs.threads, 1], ['heapBase', heapBase, 0],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < min) throw new Error(`Model memory plan: ${name} must be an integer ≥ ${min}, got ${value}`);
  }
  const spec = specRegion(heapBase, inputs.specBytes);
  const arena = new Arena(spec.offset + spec.bytes);
  const { take } = arena;
  const flat = () => take(model.total * 4);
  const params = flat();
  const grads = flat();
  const state1 = flat();
  const state2 = flat();
  const normPartials = take(Math.ceil(model.total / NORM_CHUNK) * 8);
  const nodes = buildNodes(model.layers, false);
  walkNodes(nodes, (n) => (n.weights = ruleOf(n).weights(n, take) as never));
  const dataset = (count: number): DatasetRegions => ({ images: take(count * model.inputSize), labels: take(count * model.labelsPerExample), count });
  const train = dataset(inputs.trainCount);
  const test = dataset(inputs.testCount);
  const B = inputs.batchCapacity;
  let scratchPerThread = 0;
  let twoPhases = false;
  walkNodes(nodes, (n) => {
    scratchPerThread = Math.max(scratchPerThread, ruleOf(n).scratch?.(n) ?? 0);
    // A conv's chunk sums, and a tied head's dE that the embedding's token rows are added to.
    if (n.layer.kind === 'conv2d' || (n.layer.kind === 'lm-head' && n.layer.tied)) twoPhases = true;
  });
  scratchPerThread = ceilTo(scratchPerThread, ALIGN);
  const batch = {
    capacity: B,
    indices: take(B * 4),
    positions: take(B * 4),
    x: take(B * model.inputSize * 4),
    // A label and a (loss, correct) pair per example, or per position of a next-token model.
    labels: take(B * model.labelsPerExample * 4),
    rowStats: take(B * model.labelsPerExample * 8),
    scratch: take(inputs.threads * scratchPerThread),
    scratchPerThread,
  };
  planForward(nodes, batch.x, B, take);
  planBackward(nodes, null, B, take);
  const head = nodes.find((n): n is CpuNode<'lm-head'> => n.layer.kind === 'lm-head' && n.layer.tied);
  if (head) (nodes[0] as CpuNode<'embedding'>).tiedHead = head;
  const logits = nodes[nodes.length - 1].x;
  return { inputs, model, spec, params, grads, state1, state2, normPartials, train, test, batch, nodes, logits, twoPhases, end: arena.end };
}

/** Bytes of WebAssembly memory CpuModel needs for a model, its datasets and micro-batches of `batchCapacity` (for plans and budgets). */
export function cpuModelMemoryBytes(model: ResolvedModel, sizes: { trainCount: number; testCount: number; batchCapacity: number; threads?: number }): number {
  const specBytes = new TextEncoder().encode(JSON.stringify(model.spec)).length;
  return planModel(model, { specBytes, threads: 1, ...sizes }, 0).end;
}
