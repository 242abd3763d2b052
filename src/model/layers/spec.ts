// A model as a list of layers: the zod schema a job's `model` is checked against, and the
// resolution of that list against an input shape into everything a backend needs: each
// layer's input and output shapes, the parameter layout in one flat Float32Array, the
// initialisation rule of every tensor, and FLOP counts. Pure data; every backend's layer
// table (src/model/layers/reference.ts is the f64 one) walks the same ResolvedModel.
//
// Conventions every backend shares:
//   - An example is one row of the batch, its features in [C,H,W] order (channel-major, as
//     PyTorch's NCHW), or [features] for a flat input.
//   - A linear weight is stored [fanIn rows × fanOut cols], row-major (z = x·W + b, as
//     src/model/mlp.ts); a conv2d weight is [inC·kh·kw rows × outC cols], row
//     (ci·kh + ky)·kw + kx, so that conv is the im2col matmul patches·W.
//   - Layout: every tensor that gets weight decay (linear and conv2d weights) first, in layer
//     order, then the rest (biases, layernorm gains and shifts), each starting on a 64-float
//     boundary. For an MLP this is exactly mlpLayout, offset for offset.
//   - The model's last layer is the loss, softmax-cross-entropy over flat logits, or over each
//     position's logits for a sequence.
//   - A 2-D shape [T, C] is a sequence: T positions of C features. linear and layernorm act on
//     each position's C features alone; a model whose first layer is an embedding reads T token
//     ids per example (its input [T]) and gives one label per position (the next token).

import { z } from 'zod';
import { SEGMENT_ALIGN_FLOATS, mlpLayout, type MlpSpec, type ParamLayout } from '../mlp.ts';
import { Random } from '../../util/random.ts';
import { dropoutThreshold } from './dropout.ts';

// ---------------------------------------------------------------------------------------
// The schema

/** A size in one dimension; 65536 is a sanity bound, far above any model we can train. */
const dim = z.number().int().min(1).max(65536);
/** A kernel, stride or padding: one integer for both dimensions, or [height, width]. */
const pair = (min: number) => {
  const n = z.number().int().min(min).max(65536);
  const what = `an integer in [${min}, 65536] or [height, width] of them`;
  return z.union([n, z.tuple([n, n])], {
    error: (issue) => (issue.input === undefined ? `required: ${what}` : `must be ${what}, got ${JSON.stringify(issue.input)}`),
  });
};
type Pair = number | [number, number];
/** A normal initialisation's standard deviation. */
const initStd = z.number().positive().max(1);

/** initStd: normal(0, initStd) in place of Kaiming-uniform (GPT-2's recipe uses 0.02). */
export interface LinearSpec { kind: 'linear'; outFeatures: number; initStd?: number }
export interface Conv2dSpec { kind: 'conv2d'; outChannels: number; kernel: Pair; stride?: Pair; padding?: Pair }
export interface PoolSpec<K extends 'maxpool2d' | 'avgpool2d' = 'maxpool2d' | 'avgpool2d'> { kind: K; kernel: Pair; stride?: Pair }
export interface FlattenSpec { kind: 'flatten' }
export interface ReluSpec { kind: 'relu' }
/** GELU, tanh approximation (the formula of src/model/reference.ts and every kernel). */
export interface GeluSpec { kind: 'gelu' }
/** Normalises each example over all its features, then an elementwise gain and shift of the same shape. */
export interface LayerNormSpec { kind: 'layernorm'; eps?: number }
/** Inverted dropout: kept units are scaled by 1/(1−p); identity in evaluation. */
export interface DropoutSpec { kind: 'dropout'; p: number }
/** y = x + branch(x); the branch must give back its input's shape (and hold no loss). */
export interface ResidualSpec { kind: 'residual'; layers: LayerSpec[] }
export interface SoftmaxCrossEntropySpec { kind: 'softmax-cross-entropy' }
/** Token ids [T] → [T, features], one row of a [vocabulary, features] table each; the model's first layer. */
export interface EmbeddingSpec { kind: 'embedding'; vocabulary: number; features: number; initStd?: number }
/** y = x + P, a learned [T, C] table: one vector per position of the sequence. */
export interface PositionEmbeddingSpec { kind: 'position-embedding'; initStd?: number }
/**
 * Causal multi-head self-attention over a sequence [T, C], as GPT-2's block: q, k, v = x·W_qkv + b,
 * per head softmax(q·kᵀ/√d, each position seeing itself and those before) · v, then the output
 * projection. initStd for W_qkv, projectionInitStd for the projection (GPT-2 scales it by 1/√(2·layers)).
 */
export interface AttentionSpec { kind: 'attention'; heads: number; initStd?: number; projectionInitStd?: number }
/** Logits over the vocabulary at each position, [T, C] → [T, vocabulary], no bias; tied (default) reuses the embedding's table. */
export interface LmHeadSpec { kind: 'lm-head'; tied?: boolean; initStd?: number }

export type HiddenLayerSpec =
  | LinearSpec | Conv2dSpec | PoolSpec<'maxpool2d'> | PoolSpec<'avgpool2d'> | FlattenSpec
  | ReluSpec | GeluSpec | LayerNormSpec | DropoutSpec | ResidualSpec
  | EmbeddingSpec | PositionEmbeddingSpec | AttentionSpec | LmHeadSpec;
export type LayerSpec = HiddenLayerSpec | SoftmaxCrossEntropySpec;
export type LayerKind = LayerSpec['kind'];

export const LAYER_KINDS: readonly LayerKind[] = [
  'linear', 'conv2d', 'maxpool2d', 'avgpool2d', 'flatten', 'relu', 'gelu', 'layernorm', 'dropout', 'residual',
  'embedding', 'position-embedding', 'attention', 'lm-head', 'softmax-cross-entropy',
];


/** The general form: an input shape ([C,H,W] or [features]) and the layers, the loss last. */
export interface LayerModelSpec { input: number[]; layers: LayerSpec[] }
/** A job's `model`: the general form, or the MLP shorthand of src/model/mlp.ts. */
export type ModelSpec = LayerModelSpec | MlpSpec;

const poolSchema = <K extends 'maxpool2d' | 'avgpool2d'>(kind: K) =>
  z.strictObject({ kind: z.literal(kind), kernel: pair(1), stride: pair(1).optional() });

const layerSchema: z.ZodType<LayerSpec> = z.lazy(() =>
  z.discriminatedUnion(
    'kind',
    [
      z.strictObject({ kind: z.literal('linear'), outFeatures: dim, initStd: initStd.optional() }),
      z.strictObject({ kind: z.literal('conv2d'), outChannels: dim, kernel: pair(1), stride: pair(1).optional(), padding: pair(0).optional() }),
      poolSchema('maxpool2d'),
      poolSchema('avgpool2d'),
      z.strictObject({ kind: z.literal('flatten') }),
      z.strictObject({ kind: z.literal('relu') }),
      z.strictObject({ kind: z.literal('gelu') }),
      z.strictObject({ kind: z.literal('layernorm'), eps: z.number().positive().max(1).optional() }),
      z.strictObject({ kind: z.literal('dropout'), p: z.number().min(0).lt(1) }),
      // The schema lets the loss stand anywhere; resolveModel says where it belongs.
      z.strictObject({ kind: z.literal('residual'), layers: z.array(layerSchema).min(1) }),
      z.strictObject({ kind: z.literal('embedding'), vocabulary: dim, features: dim, initStd: initStd.optional() }),
      z.strictObject({ kind: z.literal('position-embedding'), initStd: initStd.optional() }),
      z.strictObject({ kind: z.literal('attention'), heads: dim, initStd: initStd.optional(), projectionInitStd: initStd.optional() }),
      z.strictObject({ kind: z.literal('lm-head'), tied: z.boolean().optional(), initStd: initStd.optional() }),
      z.strictObject({ kind: z.literal('softmax-cross-entropy') }),
    ],
    {
      error: (issue) => {
        if (issue.code !== 'invalid_union') return undefined;
        const kind = (issue.input as { kind?: unknown } | undefined)?.kind;
        const known = `one of ${LAYER_KINDS.join(', ')}`;
        return kind === undefined ? `a layer needs a kind, ${known}` : `unknown layer kind ${JSON.stringify(kind)}; ${known}`;
      },
    },
  ),
) as z.ZodType<LayerSpec>;

export const layerModelSchema = z.strictObject({
  input: z.array(dim).refine((s) => s.length === 1 || s.length === 3, 'the input shape is [features], [channels, height, width], or [context] for a model that starts with an embedding'),
  layers: z.array(layerSchema).min(1, 'a model needs at least its loss layer'),
});

export const mlpShorthandSchema = z.strictObject({
  widths: z.array(dim).min(2, 'list at least an input and an output width'),
  activation: z.enum(['relu', 'gelu']),
});

/**
 * A job's `model`, either form, checked through to its shapes: a kernel that does not fit
 * or a residual branch that changes the shape is an issue with its path, as a schema
 * error is. The parsed value is the spec as written (the shorthand stays a shorthand).
 */
export const modelSpecSchema: z.ZodType<ModelSpec> = z.unknown().transform((raw, ctx): ModelSpec => {
  const shorthand = typeof raw === 'object' && raw !== null && 'widths' in raw;
  const parsed = (shorthand ? mlpShorthandSchema : layerModelSchema).safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', path: issue.path as (string | number)[], message: issue.message });
    return z.NEVER;
  }
  try {
    resolveModel(parsed.data as ModelSpec);
  } catch (error) {
    if (!(error instanceof ModelSpecError)) throw error;
    ctx.addIssue({ code: 'custom', path: error.path, message: error.reason });
    return z.NEVER;
  }
  return parsed.data as ModelSpec;
});

/** A model that cannot be built; `path` is relative to the model (['layers', 3, 'kernel']). */
export class ModelSpecError extends Error {
  constructor(readonly path: (string | number)[], readonly reason: string) {
    super(`${formatPath(path)}: ${reason}`);
    this.name = 'ModelSpecError';
  }
}

/** ['layers', 3, 'kernel'] → 'model.layers[3].kernel'. */
export function formatPath(path: readonly (string | number | symbol)[]): string {
  return 'model' + path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
}

/** Validates an untrusted `model` value; throws a ModelSpecError naming the first bad field (and the others after it). */
export function parseModelSpec(raw: unknown): ModelSpec {
  const parsed = modelSpecSchema.safeParse(raw);
  if (!parsed.success) {
    const [first, ...more] = parsed.error.issues;
    const also = more.length ? ` (also ${more.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; ')})` : '';
    throw new ModelSpecError(first.path as (string | number)[], first.message + also);
  }
  return parsed.data;
}

export function isMlpShorthand(spec: ModelSpec): spec is MlpSpec {
  return 'widths' in spec;
}

/** The MLP shorthand as a layer list: linear, activation, …, linear (the logits), the loss. */
export function mlpToLayers(spec: MlpSpec): LayerModelSpec {
  const layers: LayerSpec[] = [];
  for (let l = 1; l < spec.widths.length; l++) {
    layers.push({ kind: 'linear', outFeatures: spec.widths[l] });
    if (l + 1 < spec.widths.length) layers.push({ kind: spec.activation });
  }
  layers.push({ kind: 'softmax-cross-entropy' });
  return { input: [spec.widths[0]], layers };
}

// ---------------------------------------------------------------------------------------
// The resolved model

export type Shape = readonly number[];

/** How a tensor starts: Kaiming-uniform U(−√(6/fanIn), √(6/fanIn)), normal N(0, std²), or a constant. */
export type InitRule = { kind: 'kaiming-uniform'; fanIn: number } | { kind: 'normal'; std: number } | { kind: 'constant'; value: number };

export interface ParamTensor {
  /** '<layer path>.<kind>[.<part>].<role>', e.g. '2.conv2d.weight', '3.1.linear.bias' (inside residual 3), '4.attention.qkv.weight'. */
  name: string;
  role: 'weight' | 'bias';
  /** Offset into the flat vector, in floats; a multiple of SEGMENT_ALIGN_FLOATS. */
  offset: number;
  length: number;
  /**
   * Storage shape, row-major: linear [fanIn, fanOut], conv2d [inC, kh, kw, outC], embedding
   * [vocabulary, features], position-embedding [T, C], attention qkv [C, 3C] and projection
   * [C, C], an untied lm-head [C, vocabulary], else [features].
   */
  shape: number[];
  /** Below the model's decayEnd: weight decay applies. */
  decay: boolean;
  init: InitRule;
}

interface ResolvedBase<K extends LayerKind> {
  kind: K;
  /** '3' for top-level layer 3, '3.1' for the second layer inside residual 3. */
  path: string;
  /** Where the layer is in the spec, for errors: ['layers', 3, 'layers', 1]. */
  specPath: (string | number)[];
  /** Pre-order index over every layer, nested ones included; dropout hashes it, so two dropouts differ. */
  ordinal: number;
  inShape: Shape;
  outShape: Shape;
  /** Forward FLOPs for one example (ELEMENTWISE_FLOPS); a residual's are its add, its branch's layers count their own. */
  forwardFlops: number;
}

/** positions: 1 for a flat input, T for a sequence [T, inFeatures] (the same weights at each position). */
export interface ResolvedLinear extends ResolvedBase<'linear'> { inFeatures: number; outFeatures: number; positions: number; weight: ParamTensor; bias: ParamTensor }
export interface ResolvedConv2d extends ResolvedBase<'conv2d'> {
  inChannels: number; outChannels: number; kernel: [number, number]; stride: [number, number]; padding: [number, number];
  weight: ParamTensor; bias: ParamTensor;
}
export interface ResolvedPool<K extends 'maxpool2d' | 'avgpool2d'> extends ResolvedBase<K> { kernel: [number, number]; stride: [number, number] }
/** features: what one normalisation covers (a sequence's C, else the whole example); positions: normalisations per example. */
export interface ResolvedLayerNorm extends ResolvedBase<'layernorm'> { eps: number; features: number; positions: number; weight: ParamTensor; bias: ParamTensor }
export interface ResolvedDropout extends ResolvedBase<'dropout'> {
  p: number;
  /** A unit is kept when its 32-bit hash is ≥ threshold (round(p·2³²)); integer, so every backend agrees bit for bit. */
  threshold: number;
}
export interface ResolvedResidual extends ResolvedBase<'residual'> { layers: ResolvedLayer[] }
/** positions: losses (and labels) per example, T for a sequence's next-token loss, else 1. */
export interface ResolvedSoftmaxCrossEntropy extends ResolvedBase<'softmax-cross-entropy'> { classes: number; positions: number }
/** tiedHead: an lm-head reads this table too, so the backward adds to the gradient the head wrote first. */
export interface ResolvedEmbedding extends ResolvedBase<'embedding'> { vocabulary: number; features: number; context: number; weight: ParamTensor; tiedHead: boolean }
export interface ResolvedPositionEmbedding extends ResolvedBase<'position-embedding'> { context: number; features: number; weight: ParamTensor }
export interface ResolvedAttention extends ResolvedBase<'attention'> {
  context: number; features: number; heads: number; headSize: number;
  qkvWeight: ParamTensor; qkvBias: ParamTensor; projectionWeight: ParamTensor; projectionBias: ParamTensor;
}
/** weight: the embedding's [vocabulary, C] table when tied (read transposed), else its own [C, vocabulary]. */
export interface ResolvedLmHead extends ResolvedBase<'lm-head'> { context: number; features: number; vocabulary: number; tied: boolean; weight: ParamTensor }

/** Every kind's resolved form, keyed by kind: tables index it as ResolvedLayers[K]. */
export interface ResolvedLayers {
  linear: ResolvedLinear;
  conv2d: ResolvedConv2d;
  maxpool2d: ResolvedPool<'maxpool2d'>;
  avgpool2d: ResolvedPool<'avgpool2d'>;
  flatten: ResolvedBase<'flatten'>;
  relu: ResolvedBase<'relu'>;
  gelu: ResolvedBase<'gelu'>;
  layernorm: ResolvedLayerNorm;
  dropout: ResolvedDropout;
  residual: ResolvedResidual;
  embedding: ResolvedEmbedding;
  'position-embedding': ResolvedPositionEmbedding;
  attention: ResolvedAttention;
  'lm-head': ResolvedLmHead;
  'softmax-cross-entropy': ResolvedSoftmaxCrossEntropy;
}
export type ResolvedLayer = ResolvedLayers[LayerKind];

export interface ResolvedModel {
  /** The spec in the general form (a shorthand is converted). */
  spec: LayerModelSpec;
  inputShape: Shape;
  /** Values per example: the product of inputShape (T token ids for a token model). */
  inputSize: number;
  layers: ResolvedLayer[];
  classes: number;
  /** Labels per example: 1, or T for a next-token model (a label per position). */
  labelsPerExample: number;
  /** A model that starts with an embedding reads token ids: its vocabulary and context; else null. */
  tokens: { vocabulary: number; context: number } | null;
  /** Every parameter tensor, in offset order. */
  tensors: ParamTensor[];
  /** Length of the flat vector in floats, padding included. */
  total: number;
  /** Indices below decayEnd get weight decay (the weights), the rest do not. */
  decayEnd: number;
  /** Real parameters, padding excluded. */
  parameterCount: number;
  /** Forward FLOPs per example, every layer nested ones included (ELEMENTWISE_FLOPS). */
  forwardFlops: number;
  /** The linear and conv2d part of forwardFlops: 2 per multiply-add, as mlpFlops counts. */
  matmulFlops: number;
}

/**
 * Forward FLOPs per example, by kind (an add, a multiply, a compare or a transcendental is
 * one FLOP; estimates for the elementwise kinds, exact for the matmuls):
 *   linear / conv2d: 2 per multiply-add, + 1 per output for the bias
 *   pools: kernel area per output;  relu, dropout, residual add: 1 per element
 *   gelu: 8 per element (x³, two multiply-adds, tanh, the gate);  layernorm: 7 per element
 *   softmax-cross-entropy: 4 per logit (max, exp, sum, normalise)
 *   embedding, position-embedding: 1 per output (a copy, an add)
 *   attention: its two projections and q·kᵀ and P·v over all T² pairs (2 per multiply-add; the
 *     mask is not subtracted), + 4 per score for the softmax
 *   lm-head: 2 per multiply-add
 */
const ELEMENTWISE_FLOPS = { relu: 1, gelu: 8, layernorm: 7, dropout: 1, residual: 1, 'softmax-cross-entropy': 4, embedding: 1, 'position-embedding': 1 } as const;

const size = (shape: Shape) => shape.reduce((a, b) => a * b, 1);
const asPair = (p: Pair): [number, number] => (typeof p === 'number' ? [p, p] : [p[0], p[1]]);
const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;
const showShape = (s: Shape) => `[${s.join(',')}]`;

/** Resolves a spec (either form) against its input shape; throws ModelSpecError naming the layer and field. */
export function resolveModel(spec: ModelSpec): ResolvedModel {
  const general = isMlpShorthand(spec) ? mlpToLayers(spec) : spec;
  const { input, layers } = general;
  const last = layers.length - 1;
  if (layers[last]?.kind !== 'softmax-cross-entropy') {
    throw new ModelSpecError(['layers', last, 'kind'], `the last layer must be the loss {"kind":"softmax-cross-entropy"}, got ${JSON.stringify(layers[last]?.kind)}`);
  }
  const state: Walk = { ordinal: 0, tensors: [], embedding: null };
  const resolved = resolveList(layers, input, ['layers'], '', state, true);
  const loss = resolved[resolved.length - 1] as ResolvedSoftmaxCrossEntropy;

  // Offsets: decayed tensors first, then the rest, each on a 64-float boundary (mlpLayout's rule).
  let offset = 0;
  const place = (t: ParamTensor) => {
    t.offset = offset;
    offset = alignUp(offset + t.length, SEGMENT_ALIGN_FLOATS);
  };
  const decayed = state.tensors.filter((t) => t.decay);
  const undecayed = state.tensors.filter((t) => !t.decay);
  decayed.forEach(place);
  const decayEnd = offset;
  undecayed.forEach(place);
  const ordered = [...decayed, ...undecayed];

  let forwardFlops = 0;
  let matmulFlops = 0;
  walkLayers(resolved, (l) => {
    forwardFlops += l.forwardFlops;
    matmulFlops += layerMatmulFlops(l);
  });
  const embedding = state.embedding;
  return {
    spec: general,
    inputShape: [...input],
    inputSize: size(input),
    layers: resolved,
    classes: loss.classes,
    labelsPerExample: loss.positions,
    tokens: embedding ? { vocabulary: embedding.vocabulary, context: embedding.context } : null,
    tensors: ordered,
    total: offset,
    decayEnd,
    parameterCount: ordered.reduce((n, t) => n + t.length, 0),
    forwardFlops,
    matmulFlops,
  };
}

/** Calls visit on every layer, nested ones after their residual (pre-order). */
export function walkLayers(layers: readonly ResolvedLayer[], visit: (layer: ResolvedLayer) => void): void {
  for (const l of layers) {
    visit(l);
    if (l.kind === 'residual') walkLayers(l.layers, visit);
  }
}

interface Walk { ordinal: number; tensors: ParamTensor[]; embedding: ResolvedEmbedding | null }

/** The multiply-add part of a layer's forward FLOPs (2 per multiply-add), what the matmul kernels do. */
export function layerMatmulFlops(l: ResolvedLayer): number {
  switch (l.kind) {
    case 'linear':
    case 'conv2d':
      return l.forwardFlops - size(l.outShape);
    case 'attention': {
      const { context: t, features: c } = l;
      return 2 * t * c * 3 * c + 2 * t * c * c + 2 * 2 * t * t * c;
    }
    case 'lm-head':
      return l.forwardFlops;
    default:
      return 0;
  }
}

function resolveList(
  layers: readonly LayerSpec[], input: Shape, specPath: (string | number)[], pathPrefix: string, state: Walk, topLevel: boolean,
): ResolvedLayer[] {
  const out: ResolvedLayer[] = [];
  let shape = input;
  layers.forEach((layer, i) => {
    const at = [...specPath, i];
    if (layer.kind === 'softmax-cross-entropy' && !(topLevel && i === layers.length - 1)) {
      throw new ModelSpecError([...at, 'kind'], 'softmax-cross-entropy is the loss and must be the model\'s last layer only');
    }
    const resolved = resolveLayer(layer, shape, at, `${pathPrefix}${i}`, state);
    out.push(resolved);
    shape = resolved.outShape;
  });
  return out;
}

function resolveLayer(layer: LayerSpec, inShape: Shape, specPath: (string | number)[], path: string, state: Walk): ResolvedLayer {
  const base = { path, specPath, ordinal: state.ordinal++, inShape };
  const fail = (field: string | null, reason: string): never => {
    throw new ModelSpecError(field === null ? specPath : [...specPath, field], reason);
  };
  const tensor = (role: 'weight' | 'bias', shape: number[], decay: boolean, init: InitRule, part?: string): ParamTensor => {
    const name = `${path}.${layer.kind}${part ? `.${part}` : ''}.${role}`;
    const t: ParamTensor = { name, role, offset: -1, length: size(shape), shape, decay, init };
    state.tensors.push(t);
    return t;
  };
  const needSequence = (): [number, number] => {
    if (inShape.length !== 2) fail(null, `${layer.kind} needs a sequence [T, C] input, got ${showShape(inShape)}; start the model with {"kind":"embedding"}`);
    return [inShape[0], inShape[1]];
  };
  const normal = (std: number | undefined): InitRule => ({ kind: 'normal', std: std ?? 0.02 });
  const needImage = (): [number, number, number] => {
    if (inShape.length !== 3) fail(null, `${layer.kind} needs a [C,H,W] input, got ${showShape(inShape)}`);
    return [inShape[0], inShape[1], inShape[2]];
  };
  /** Output size of a window sliding over a (padded) image: ⌊(n + 2p − k)/s⌋ + 1. */
  const windowed = (hw: [number, number], kernel: [number, number], stride: [number, number], padding: [number, number]) => {
    const [h, w] = hw;
    if (h + 2 * padding[0] < kernel[0] || w + 2 * padding[1] < kernel[1]) {
      const padded = padding[0] || padding[1] ? ` padded by ${padding[0]}×${padding[1]}` : '';
      fail('kernel', `${kernel[0]}×${kernel[1]} kernel does not fit the ${h}×${w} input${padded}`);
    }
    return [Math.floor((h + 2 * padding[0] - kernel[0]) / stride[0]) + 1, Math.floor((w + 2 * padding[1] - kernel[1]) / stride[1]) + 1];
  };

  switch (layer.kind) {
    case 'linear': {
      if (inShape.length !== 1 && inShape.length !== 2) fail(null, `linear needs a flat input or a sequence [T, C], got ${showShape(inShape)}; put {"kind":"flatten"} before it`);
      // On a sequence the same weights map each position's features.
      const positions = inShape.length === 2 ? inShape[0] : 1;
      const fanIn = inShape[inShape.length - 1];
      const outShape = inShape.length === 2 ? [positions, layer.outFeatures] : [layer.outFeatures];
      // Kaiming-uniform for every linear, the logits layer included, as mlp.ts initParameters does.
      const init: InitRule = layer.initStd === undefined ? { kind: 'kaiming-uniform', fanIn } : normal(layer.initStd);
      const weight = tensor('weight', [fanIn, layer.outFeatures], true, init);
      const bias = tensor('bias', [layer.outFeatures], false, { kind: 'constant', value: 0 });
      return {
        ...base, kind: 'linear', outShape, inFeatures: fanIn, outFeatures: layer.outFeatures, positions, weight, bias,
        forwardFlops: positions * (2 * fanIn * layer.outFeatures + layer.outFeatures),
      };
    }
    case 'conv2d': {
      const [c, h, w] = needImage();
      const kernel = asPair(layer.kernel);
      const stride = asPair(layer.stride ?? 1);
      const padding = asPair(layer.padding ?? 0);
      if (padding[0] >= kernel[0] || padding[1] >= kernel[1]) fail('padding', `padding ${padding[0]}×${padding[1]} must be smaller than the ${kernel[0]}×${kernel[1]} kernel (else some outputs see only padding)`);
      const [oh, ow] = windowed([h, w], kernel, stride, padding);
      const fanIn = c * kernel[0] * kernel[1];
      // Kaiming-uniform with the conv's fan-in (inC·kh·kw), the rule linear uses.
      const weight = tensor('weight', [c, kernel[0], kernel[1], layer.outChannels], true, { kind: 'kaiming-uniform', fanIn });
      const bias = tensor('bias', [layer.outChannels], false, { kind: 'constant', value: 0 });
      const outs = layer.outChannels * oh * ow;
      return {
        ...base, kind: 'conv2d', outShape: [layer.outChannels, oh, ow], inChannels: c, outChannels: layer.outChannels,
        kernel, stride, padding, weight, bias, forwardFlops: 2 * fanIn * outs + outs,
      };
    }
    case 'maxpool2d':
    case 'avgpool2d': {
      const [c, h, w] = needImage();
      const kernel = asPair(layer.kernel);
      const stride = asPair(layer.stride ?? layer.kernel);
      const [oh, ow] = windowed([h, w], kernel, stride, [0, 0]);
      const resolved = { ...base, outShape: [c, oh, ow], kernel, stride, forwardFlops: c * oh * ow * kernel[0] * kernel[1] };
      return layer.kind === 'maxpool2d' ? { ...resolved, kind: 'maxpool2d' } : { ...resolved, kind: 'avgpool2d' };
    }
    case 'flatten':
      return { ...base, kind: 'flatten', outShape: [size(inShape)], forwardFlops: 0 };
    case 'relu':
    case 'gelu':
      return { ...base, kind: layer.kind, outShape: inShape, forwardFlops: size(inShape) * ELEMENTWISE_FLOPS[layer.kind] } as ResolvedLayer;
    case 'layernorm': {
      // A sequence normalises each position's C features; any other shape the whole example.
      const positions = inShape.length === 2 ? inShape[0] : 1;
      const features = size(inShape) / positions;
      if (features < 2) fail(null, `layernorm over ${features} feature normalises it to 0; it needs at least 2`);
      const weight = tensor('weight', [features], false, { kind: 'constant', value: 1 });
      const bias = tensor('bias', [features], false, { kind: 'constant', value: 0 });
      return {
        ...base, kind: 'layernorm', outShape: inShape, eps: layer.eps ?? 1e-5, features, positions, weight, bias,
        forwardFlops: size(inShape) * ELEMENTWISE_FLOPS.layernorm,
      };
    }
    case 'dropout':
      return { ...base, kind: 'dropout', outShape: inShape, p: layer.p, threshold: dropoutThreshold(layer.p), forwardFlops: size(inShape) * ELEMENTWISE_FLOPS.dropout };
    case 'residual': {
      const inner = resolveList(layer.layers, inShape, [...specPath, 'layers'], `${path}.`, state, false);
      const outShape = inner[inner.length - 1].outShape;
      if (showShape(outShape) !== showShape(inShape)) {
        fail('layers', `the residual branch maps ${showShape(inShape)} to ${showShape(outShape)}; it must give back its input's shape to be added to it`);
      }
      return { ...base, kind: 'residual', outShape: inShape, layers: inner, forwardFlops: size(inShape) * ELEMENTWISE_FLOPS.residual };
    }
    case 'softmax-cross-entropy': {
      // Flat logits: one loss per example; a sequence's [T, classes]: one per position, each against its own label.
      if (inShape.length === 2 && !state.embedding) fail(null, `softmax-cross-entropy over a sequence needs a token model (an embedding first), whose labels are the next tokens`);
      if (inShape.length !== 1 && inShape.length !== 2) fail(null, `softmax-cross-entropy needs flat logits, got ${showShape(inShape)}; end with flatten and linear`);
      const positions = inShape.length === 2 ? inShape[0] : 1;
      const classes = inShape[inShape.length - 1];
      if (classes < 2) fail(null, `softmax-cross-entropy needs at least 2 classes, got ${classes} logit`);
      return {
        ...base, kind: 'softmax-cross-entropy', outShape: [positions], classes, positions,
        forwardFlops: positions * classes * ELEMENTWISE_FLOPS['softmax-cross-entropy'],
      };
    }
    case 'embedding': {
      if (specPath.length !== 2 || specPath[1] !== 0) fail(null, 'embedding reads the token ids of the input, so it must be the model\'s first layer');
      if (inShape.length !== 1) fail(null, `embedding reads [T] token ids; the model's input must be [context], got ${showShape(inShape)}`);
      if (layer.vocabulary < 2) fail('vocabulary', `a vocabulary needs at least 2 tokens, got ${layer.vocabulary}`);
      const context = inShape[0];
      // GPT-2's N(0, 0.02), decayed like every matrix (nanoGPT decays every tensor of ≥ 2 dimensions).
      const weight = tensor('weight', [layer.vocabulary, layer.features], true, normal(layer.initStd));
      const resolved: ResolvedEmbedding = {
        ...base, kind: 'embedding', outShape: [context, layer.features], vocabulary: layer.vocabulary, features: layer.features, context, weight, tiedHead: false,
        forwardFlops: context * layer.features * ELEMENTWISE_FLOPS.embedding,
      };
      state.embedding = resolved;
      return resolved;
    }
    case 'position-embedding': {
      const [t, c] = needSequence();
      const weight = tensor('weight', [t, c], true, normal(layer.initStd));
      return { ...base, kind: 'position-embedding', outShape: inShape, context: t, features: c, weight, forwardFlops: t * c * ELEMENTWISE_FLOPS['position-embedding'] };
    }
    case 'attention': {
      const [t, c] = needSequence();
      if (c % layer.heads !== 0) fail('heads', `${layer.heads} heads do not divide the ${c} features; the head size C/heads must be an integer`);
      const qkvWeight = tensor('weight', [c, 3 * c], true, normal(layer.initStd), 'qkv');
      const qkvBias = tensor('bias', [3 * c], false, { kind: 'constant', value: 0 }, 'qkv');
      const projectionWeight = tensor('weight', [c, c], true, normal(layer.projectionInitStd ?? layer.initStd), 'projection');
      const projectionBias = tensor('bias', [c], false, { kind: 'constant', value: 0 }, 'projection');
      const partial: ResolvedAttention = {
        ...base, kind: 'attention', outShape: inShape, context: t, features: c, heads: layer.heads, headSize: c / layer.heads,
        qkvWeight, qkvBias, projectionWeight, projectionBias, forwardFlops: 0,
      };
      // The matmuls, the two biases, and the softmax over every score.
      partial.forwardFlops = layerMatmulFlops(partial) + t * 4 * c + 4 * layer.heads * t * t;
      return partial;
    }
    case 'lm-head': {
      const [t, c] = needSequence();
      const embedding = state.embedding;
      if (!embedding) fail(null, 'lm-head gives logits over the vocabulary of the model\'s embedding; start the model with {"kind":"embedding"}');
      const { vocabulary } = embedding!;
      const tied = layer.tied ?? true;
      if (tied && embedding!.features !== c) {
        fail('tied', `a tied lm-head reads the embedding's [${vocabulary}, ${embedding!.features}] table, so its input needs ${embedding!.features} features, got ${c}; untie it ("tied": false) or match the widths`);
      }
      if (tied && layer.initStd !== undefined) fail('initStd', 'a tied lm-head has no weights of its own to initialise');
      const weight = tied ? embedding!.weight : tensor('weight', [c, vocabulary], true, normal(layer.initStd));
      if (tied) embedding!.tiedHead = true;
      return { ...base, kind: 'lm-head', outShape: [t, vocabulary], context: t, features: c, vocabulary, tied, weight, forwardFlops: 2 * t * c * vocabulary };
    }
  }
}

// ---------------------------------------------------------------------------------------
// Initialisation

/**
 * The initial flat vector, deterministic from the seed: one splitmix32 stream draws every
 * Kaiming-uniform tensor in offset order; constants (zero biases, unit layernorm gains)
 * draw nothing; padding stays zero. For an MLP this is bit for bit mlp.ts initParameters.
 */
export function initModelParameters(model: ResolvedModel, seed: number): Float32Array {
  const rng = new Random(seed);
  const params = new Float32Array(model.total);
  for (const t of model.tensors) {
    const view = params.subarray(t.offset, t.offset + t.length);
    if (t.init.kind === 'constant') view.fill(t.init.value);
    else if (t.init.kind === 'normal') {
      for (let i = 0; i < view.length; i++) view[i] = t.init.std * rng.normal();
    } else {
      const bound = Math.sqrt(6 / t.init.fanIn);
      for (let i = 0; i < view.length; i++) view[i] = rng.uniform(-bound, bound);
    }
  }
  return params;
}

/** The tensor of that name; the error lists the names there are. */
export function tensorByName(model: ResolvedModel, name: string): ParamTensor {
  const t = model.tensors.find((x) => x.name === name);
  if (!t) throw new Error(`no parameter tensor ${JSON.stringify(name)}; the model has ${model.tensors.map((x) => x.name).join(', ')}`);
  return t;
}

// ---------------------------------------------------------------------------------------
// Summaries

/**
 * The MLP shorthand a layer list spells, or null: a flat input, then linear layers with one
 * activation kind between them, then the loss. The hand-written MLP paths take this form.
 */
export function mlpSpecOf(model: ResolvedModel): MlpSpec | null {
  if (model.inputShape.length !== 1) return null;
  const widths = [model.inputSize];
  let activation: 'relu' | 'gelu' | null = null;
  const body = model.layers.slice(0, -1);
  for (let i = 0; i < body.length; i++) {
    const l = body[i];
    const expectLinear = i % 2 === 0;
    if (expectLinear) {
      if (l.kind !== 'linear') return null;
      widths.push(l.outFeatures);
    } else {
      if (l.kind !== 'relu' && l.kind !== 'gelu') return null;
      if (activation !== null && activation !== l.kind) return null;
      activation = l.kind;
    }
  }
  if (body.length % 2 === 0) return null;
  return { widths, activation: activation ?? 'relu' };
}

/** One line for pages and logs, e.g. "MLP 784-256-128-10 (relu)" or "conv2d 16 5×5 → relu → … → linear 10". */
export function describeModel(model: ResolvedModel): string {
  const mlp = mlpSpecOf(model);
  if (mlp) return `MLP ${mlp.widths.join('-')} (${mlp.activation})`;
  const one = (l: ResolvedLayer): string => {
    switch (l.kind) {
      case 'linear': return `linear ${l.outFeatures}`;
      case 'conv2d': return `conv2d ${l.outChannels} ${l.kernel.join('×')}`;
      case 'maxpool2d': case 'avgpool2d': return `${l.kind} ${l.kernel.join('×')}`;
      case 'dropout': return `dropout ${l.p}`;
      case 'residual': return `residual(${l.layers.map(one).join(' → ')})`;
      default: return l.kind;
    }
  };
  return model.layers.slice(0, -1).map(one).join(' → ');
}

/** Throws unless every input of a next-token model is a token id of its vocabulary (an embedding would read outside its table); nothing for other models. */
export function checkTokenIds(fn: string, model: ResolvedModel, inputs: ArrayLike<number>, name = 'x'): void {
  const vocabulary = model.tokens?.vocabulary;
  if (vocabulary === undefined) return;
  for (let i = 0; i < inputs.length; i++) {
    const id = inputs[i];
    if (!Number.isInteger(id) || id < 0 || id >= vocabulary) throw new Error(`${fn}: ${name}[${i}] = ${id} is not a token id in [0, ${vocabulary})`);
  }
}

/** 'one label per example' or 'T labels per example (one per position)', for errors. */
export const describeLabelsPerExample = (n: number) => (n === 1 ? 'one label per example' : `${n} labels per example (one per position)`);

/** Whether a layer holds parameters, those of a residual's branch included. */
export function hasParameters(layer: ResolvedLayer): boolean {
  if (layer.kind === 'residual') return layer.layers.some(hasParameters);
  // A tied lm-head's weights are the embedding's: its backward adds to their gradient too.
  return ['linear', 'conv2d', 'layernorm', 'embedding', 'position-embedding', 'attention', 'lm-head'].includes(layer.kind);
}

/** The first dropout layer with p > 0, nested ones included, or null: training then needs a dropout context. */
export function findDropout(layers: readonly ResolvedLayer[]): ResolvedLayers['dropout'] | null {
  for (const l of layers) {
    if (l.kind === 'dropout' && l.p > 0) return l;
    if (l.kind === 'residual') {
      const inner = findDropout(l.layers);
      if (inner) return inner;
    }
  }
  return null;
}

/**
 * FLOPs of one forward and backward pass over `batch` examples as the backends run it, counted
 * as mlpFlops does (2 per multiply-add of the linear and conv2d layers, elementwise work left
 * out): forward, weight gradient, and the input gradient only where a layer before holds
 * parameters (a first layer reading the data needs none). For an MLP this is mlpFlops'
 * forward + backward.
 */
export function gradientFlops(model: ResolvedModel, batch: number): number {
  const matmul = layerMatmulFlops;
  const walk = (layers: readonly ResolvedLayer[], flowsIn: boolean): number => {
    let flows = flowsIn;
    let total = 0;
    for (const l of layers) {
      total += matmul(l) * (flows ? 3 : 2);
      if (l.kind === 'residual') total += walk(l.layers, flows);
      flows ||= hasParameters(l);
    }
    return total;
  };
  return batch * walk(model.layers, false);
}

/** The hand-written MLP's layout of a model that is an MLP (same offsets); a clear error otherwise. */
export function mlpLayoutOf(model: ResolvedModel, who: string): ParamLayout {
  const spec = mlpSpecOf(model);
  if (!spec) throw new Error(`${who} runs MLPs only, not ${describeModel(model)}`);
  return mlpLayout(spec);
}

/** The largest linear layer as a matmul [k = fanIn, n = fanOut] (what the WebGPU backend autotunes on); the input and the classes when there is none. */
export function largestLinearShape(model: ResolvedModel): { k: number; n: number } {
  let best = { k: model.inputSize, n: model.classes };
  let found = false;
  walkLayers(model.layers, (l) => {
    if (l.kind !== 'linear') return;
    if (!found || l.inFeatures * l.outFeatures > best.k * best.n) best = { k: l.inFeatures, n: l.outFeatures };
    found = true;
  });
  return best;
}
