// ONNX models written from scratch: a one-node MatMul for the benchmark's comparison with
// onnxruntime-web, and a trained model (any layer list of src/model/layers/spec.ts) as a
// self-describing `.onnx` export, one table entry per layer kind.
//
// Opset 17 with IR version 8: IR 8 is the newest the bundled onnx.proto schema (ONNX 1.10)
// describes and the IR that ONNX 1.12 pairs with opset 17. Every op used here (MatMul-13,
// Add-14, Mul-14, Relu-14, Tanh-13, Conv-11, MaxPool-12, AveragePool-11, Flatten-13,
// Identity-16, LayerNormalization-17, Gather-13, Split-13, Reshape-14, Transpose-13,
// Softmax-13) is unchanged up to opset 17 (Split-18 only adds num_outputs), onnxruntime runs
// opset 17 on every execution provider, and older ONNX tools still load it. GELU is built
// from primitive ops rather than Gelu-20 (which needs opset 20 / IR 9) so any onnxruntime
// build and EP runs it; onnxruntime's graph optimizer may fuse the pattern back into one op.
//
// The exported graph, whatever the layers:
//   input  `input`  [batch, ...model.inputShape] float32, pixels/255 in [0, 1], NCHW for images
//   output `logits` [batch, classes] float32, the unnormalised class scores: the model's
//          softmax-cross-entropy layer is the training loss and is not part of the graph
//          (apply softmax to the logits for probabilities).
// Initializers are named after the parameter tensors (ParamTensor.name, '0.linear.weight');
// the flat vector's alignment padding is not exported. Layer by layer (the table below):
//   linear     MatMul(x, W[fanIn, fanOut]) + Add(b)         (W as stored)
//   conv2d     Conv(x, W[outC, inC, kh, kw], b)             (W re-laid out from [inC, kh, kw, outC])
//   maxpool2d  MaxPool, avgpool2d AveragePool               (no padding, floor mode, as the reference)
//   flatten    Flatten(axis 1)                              relu  Relu
//   gelu       0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) as Mul/Add/Tanh (src/model/reference.ts gelu)
//   layernorm  LayerNormalization(axis 1, ε): over all of an example's features, gain and shift of its shape
//              (axis 2 over a sequence: each position's features)
//   dropout    Identity (inference)                         residual  the branch's nodes, then Add(x, branch)
// A next-token model (an embedding first) takes `input` [batch, T] int64 token ids and gives
// `logits` [batch, T, vocabulary]:
//   embedding  Gather(E[V, C], ids)                         position-embedding  Add(x, P[T, C])
//   attention  MatMul + Add (qkv), Split, Reshape/Transpose per head, MatMul(q, kᵀ)·1/√d + the causal
//              mask (−∞ above the diagonal), Softmax(axis −1), MatMul(·, v), back to [batch, T, C],
//              MatMul + Add (projection)
//   lm-head    MatMul(x, Transpose(E)) when tied (no copy of the table), else MatMul(x, W[C, V])

import { type MlpSpec, type ParamLayout } from './mlp.ts';
import { onnx, type OnnxTypes } from './onnxProto.ts';
import {
  type LayerKind, type ParamTensor, type ResolvedLayer, type ResolvedLayers, type ResolvedModel, resolveModel,
} from './layers/spec.ts';

export const ONNX_OPSET = 17;
export const ONNX_IR_VERSION = 8;
/** Key of the metadata_props entry holding the JSON MLP spec (MLP exports only). */
export const MLP_SPEC_METADATA_KEY = 'swarmgrad.mlp_spec';
/** Key of the metadata_props entry holding a next-token model's characters in token order (a JSON array of strings). */
export const VOCABULARY_METADATA_KEY = 'swarmgrad.vocabulary';
/** Key of the metadata_props entry holding the JSON layer-list spec ({ input, layers }). */
export const MODEL_SPEC_METADATA_KEY = 'swarmgrad.model_spec';

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const ATTR = onnx.AttributeProto.AttributeType;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

/** A dimension is a fixed size or a symbolic name (dim_param) such as 'batch'. */
type Dim = number | string;

function floatValueInfo(name: string, dims: Dim[], docString?: string, elemType: number = FLOAT): OnnxTypes.IValueInfoProto {
  const dim = dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return { name, docString, type: { tensorType: { elemType, shape: { dim } } } };
}

/** raw_data is little-endian by the ONNX spec, so write through a DataView, whatever the host. */
function floatInitializer(name: string, dims: number[], values: ArrayLike<number>): OnnxTypes.ITensorProto {
  const rawData = new Uint8Array(values.length * 4);
  const view = new DataView(rawData.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return { name, dims, dataType: FLOAT, rawData };
}

type Attribute = { ints: number[] } | { int: number } | { float: number };

function attribute(name: string, value: Attribute): OnnxTypes.IAttributeProto {
  if ('ints' in value) return { name, type: ATTR.INTS, ints: value.ints };
  if ('int' in value) return { name, type: ATTR.INT, i: value.int };
  return { name, type: ATTR.FLOAT, f: value.float };
}

function node(opType: string, inputs: string[], outputs: string[], name: string, attrs: Record<string, Attribute> = {}): OnnxTypes.INodeProto {
  const attribute_ = Object.entries(attrs).map(([k, v]) => attribute(k, v));
  return { opType, input: inputs, output: outputs, name, ...(attribute_.length ? { attribute: attribute_ } : {}) };
}

interface ModelParts {
  graph: OnnxTypes.IGraphProto;
  producer: string;
  docString: string;
  metadata?: Record<string, string>;
}

function encodeModel({ graph, producer, docString, metadata = {} }: ModelParts): Uint8Array {
  const model: OnnxTypes.IModelProto = {
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: producer,
    docString,
    graph,
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  };
  const err = onnx.ModelProto.verify(model);
  if (err) throw new Error(`internal error: ONNX model does not match the schema: ${err}`);
  const bytes = onnx.ModelProto.encode(model).finish();
  // protobufjs returns a Node Buffer in Node; hand back a plain Uint8Array view everywhere.
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function assertDim(what: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${what} must be a positive integer, got ${v}`);
}

/** C[m×n] = A[m×k] · B[k×n], all float32 graph inputs: the benchmark's onnxruntime MatMul. */
export function buildMatMulModel(m: number, k: number, n: number): Uint8Array {
  assertDim('MatMul m', m);
  assertDim('MatMul k', k);
  assertDim('MatMul n', n);
  return encodeModel({
    producer: 'swarmgrad',
    docString: `C = A·B with A ${m}×${k}, B ${k}×${n} (swarmgrad benchmark)`,
    graph: {
      name: 'matmul',
      node: [node('MatMul', ['A', 'B'], ['C'], 'matmul')],
      input: [floatValueInfo('A', [m, k]), floatValueInfo('B', [k, n])],
      output: [floatValueInfo('C', [m, n])],
    },
  });
}

// ---------------------------------------------------------------------------------------
// The graph the rules write into

/** Nodes and initializers in the order they are emitted, plus the flat parameters to read. */
export class OnnxGraphBuilder {
  readonly nodes: OnnxTypes.INodeProto[] = [];
  readonly initializers: OnnxTypes.ITensorProto[] = [];
  private readonly constants = new Set<string>();

  constructor(readonly params: Float32Array) {}

  node(opType: string, inputs: string[], outputs: string[], name: string, attrs?: Record<string, Attribute>): void {
    this.nodes.push(node(opType, inputs, outputs, name, attrs));
  }

  /** A parameter tensor as an initializer of its own name, in its stored order (dims: its stored shape unless given). */
  param(t: ParamTensor, dims: readonly number[] = t.shape): string {
    this.initializers.push(floatInitializer(t.name, [...dims], this.params.subarray(t.offset, t.offset + t.length)));
    return t.name;
  }

  /** A parameter tensor re-laid out: values[i] = stored[index(i)], with ONNX's dims. */
  paramPermuted(t: ParamTensor, dims: number[], index: (i: number) => number): string {
    const stored = this.params.subarray(t.offset, t.offset + t.length);
    this.initializers.push(floatInitializer(t.name, dims, Float32Array.from({ length: t.length }, (_, i) => stored[index(i)])));
    return t.name;
  }

  /** A scalar float shared by every node that asks for the same name (GELU's constants). */
  constant(name: string, value: number): string {
    return this.floatTensor(name, [], [value]);
  }

  /** A float tensor of constants (attention's mask), emitted once per name. */
  floatTensor(name: string, dims: number[], values: ArrayLike<number>): string {
    if (!this.constants.has(name)) {
      this.constants.add(name);
      this.initializers.push(floatInitializer(name, dims, values));
    }
    return name;
  }

  /** A 1-D int64 tensor of constants (Split's sizes, Reshape's shapes), emitted once per name. */
  ints(name: string, values: number[]): string {
    if (!this.constants.has(name)) {
      this.constants.add(name);
      const rawData = new Uint8Array(values.length * 8);
      const view = new DataView(rawData.buffer);
      values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
      this.initializers.push({ name, dims: [values.length], dataType: INT64, rawData });
    }
    return name;
  }
}

export interface OnnxRule<K extends LayerKind> {
  /** Emits the nodes that compute tensor `y` from tensor `x` (both [batch, ...shape]). */
  emit(layer: ResolvedLayers[K], x: string, y: string, g: OnnxGraphBuilder): void;
}

/** Node and intermediate tensor names of a layer: 'layer3.1.relu'. */
const nameOf = (l: ResolvedLayer) => `layer${l.path}.${l.kind}`;

// ---------------------------------------------------------------------------------------
// The table

export const onnxTable: { [K in LayerKind]: OnnxRule<K> } = {
  linear: {
    emit(l, x, y, g) {
      const n = nameOf(l);
      g.node('MatMul', [x, g.param(l.weight)], [`${n}.matmul`], `${n}.matmul`);
      g.node('Add', [`${n}.matmul`, g.param(l.bias)], [y], `${n}.add`);
    },
  },

  conv2d: {
    emit(l, x, y, g) {
      const [c, [kh, kw], co] = [l.inChannels, l.kernel, l.outChannels];
      // ONNX index ((o·C + ci)·kh + ky)·kw + kx reads ours ((ci·kh + ky)·kw + kx)·outC + o.
      const weight = g.paramPermuted(l.weight, [co, c, kh, kw], (i) => {
        const tap = i % (c * kh * kw);
        return tap * co + Math.floor(i / (c * kh * kw));
      });
      g.node('Conv', [x, weight, g.param(l.bias)], [y], nameOf(l), {
        kernel_shape: { ints: [kh, kw] },
        strides: { ints: l.stride },
        pads: { ints: [l.padding[0], l.padding[1], l.padding[0], l.padding[1]] },
      });
    },
  },

  maxpool2d: {
    emit: (l, x, y, g) => g.node('MaxPool', [x], [y], nameOf(l), { kernel_shape: { ints: l.kernel }, strides: { ints: l.stride } }),
  },

  avgpool2d: {
    emit: (l, x, y, g) => g.node('AveragePool', [x], [y], nameOf(l), { kernel_shape: { ints: l.kernel }, strides: { ints: l.stride } }),
  },

  flatten: {
    emit: (l, x, y, g) => g.node('Flatten', [x], [y], nameOf(l), { axis: { int: 1 } }),
  },

  relu: {
    emit: (l, x, y, g) => g.node('Relu', [x], [y], nameOf(l)),
  },

  gelu: {
    // y = 0.5·x·(1 + tanh(√(2/π)·x·(1 + 0.044715·x²))), the inner factor being x + 0.044715·x³.
    emit(l, x, y, g) {
      const t = (s: string) => `${nameOf(l)}.${s}`;
      const [half, one] = [g.constant('gelu.half', 0.5), g.constant('gelu.one', 1)];
      const [a, c] = [g.constant('gelu.a', GELU_A), g.constant('gelu.sqrt_2_over_pi', SQRT_2_OVER_PI)];
      g.node('Mul', [x, x], [t('x2')], t('x2'));
      g.node('Mul', [t('x2'), a], [t('ax2')], t('ax2'));
      g.node('Add', [t('ax2'), one], [t('one_plus_ax2')], t('one_plus_ax2'));
      g.node('Mul', [x, t('one_plus_ax2')], [t('cubic')], t('cubic'));
      g.node('Mul', [t('cubic'), c], [t('u')], t('u'));
      g.node('Tanh', [t('u')], [t('tanh')], t('tanh'));
      g.node('Add', [t('tanh'), one], [t('one_plus_tanh')], t('one_plus_tanh'));
      g.node('Mul', [x, t('one_plus_tanh')], [t('x_gate')], t('x_gate'));
      g.node('Mul', [t('x_gate'), half], [y], t('half'));
    },
  },

  layernorm: {
    // axis 1: the statistics run over every dimension after the batch, as the reference's
    // over all of an example's features; biased variance, as the reference and PyTorch. The
    // gain and shift take the example's shape ([C,H,W] for an image), the same values in order.
    // Over a sequence [T, C]: axis 2, each position's C features with a gain and shift of C.
    emit: (l, x, y, g) => {
      const sequence = l.inShape.length === 2;
      const dims = sequence ? [l.features] : l.inShape;
      g.node('LayerNormalization', [x, g.param(l.weight, dims), g.param(l.bias, dims)], [y], nameOf(l), {
        axis: { int: sequence ? 2 : 1 },
        epsilon: { float: l.eps },
      });
    },
  },

  dropout: {
    emit: (l, x, y, g) => g.node('Identity', [x], [y], nameOf(l)),
  },

  residual: {
    emit(l, x, y, g) {
      const branch = `${nameOf(l)}.branch`;
      emitList(l.layers, x, branch, g);
      g.node('Add', [x, branch], [y], `${nameOf(l)}.add`);
    },
  },

  embedding: {
    emit: (l, x, y, g) => g.node('Gather', [g.param(l.weight), x], [y], nameOf(l), { axis: { int: 0 } }),
  },

  'position-embedding': {
    emit: (l, x, y, g) => g.node('Add', [x, g.param(l.weight)], [y], nameOf(l)),
  },

  attention: {
    emit(l, x, y, g) {
      const n = nameOf(l);
      const { context: t, features: c, heads: h, headSize: d } = l;
      g.node('MatMul', [x, g.param(l.qkvWeight)], [`${n}.qkv.matmul`], `${n}.qkv.matmul`);
      g.node('Add', [`${n}.qkv.matmul`, g.param(l.qkvBias)], [`${n}.qkv`], `${n}.qkv.add`);
      g.node('Split', [`${n}.qkv`, g.ints(`split.${c}x3`, [c, c, c])], [`${n}.q`, `${n}.k`, `${n}.v`], `${n}.split`, { axis: { int: 2 } });
      // [batch, T, C] → [batch, T, H, d] → q, v [batch, H, T, d], k [batch, H, d, T].
      const heads = g.ints(`shape.heads.${h}x${d}`, [0, 0, h, d]);
      for (const [part, perm] of [['q', [0, 2, 1, 3]], ['k', [0, 2, 3, 1]], ['v', [0, 2, 1, 3]]] as const) {
        g.node('Reshape', [`${n}.${part}`, heads], [`${n}.${part}.heads`], `${n}.${part}.reshape`);
        g.node('Transpose', [`${n}.${part}.heads`], [`${n}.${part}.t`], `${n}.${part}.transpose`, { perm: { ints: [...perm] } });
      }
      g.node('MatMul', [`${n}.q.t`, `${n}.k.t`], [`${n}.scores.raw`], `${n}.scores.matmul`);
      g.node('Mul', [`${n}.scores.raw`, g.constant(`scale.${d}`, 1 / Math.sqrt(d))], [`${n}.scores.scaled`], `${n}.scores.scale`);
      // The causal mask: position i sees j ≤ i; the −∞ above the diagonal give probability 0.
      const mask = Float32Array.from({ length: t * t }, (_, k) => (k % t > Math.floor(k / t) ? -Infinity : 0));
      g.node('Add', [`${n}.scores.scaled`, g.floatTensor(`causal_mask.${t}`, [t, t], mask)], [`${n}.scores`], `${n}.mask`);
      g.node('Softmax', [`${n}.scores`], [`${n}.probs`], `${n}.softmax`, { axis: { int: -1 } });
      g.node('MatMul', [`${n}.probs`, `${n}.v.t`], [`${n}.o.heads`], `${n}.o.matmul`);
      g.node('Transpose', [`${n}.o.heads`], [`${n}.o.t`], `${n}.o.transpose`, { perm: { ints: [0, 2, 1, 3] } });
      g.node('Reshape', [`${n}.o.t`, g.ints(`shape.rows.${c}`, [0, 0, c])], [`${n}.o`], `${n}.o.reshape`);
      g.node('MatMul', [`${n}.o`, g.param(l.projectionWeight)], [`${n}.projection.matmul`], `${n}.projection.matmul`);
      g.node('Add', [`${n}.projection.matmul`, g.param(l.projectionBias)], [y], `${n}.projection.add`);
    },
  },

  'lm-head': {
    emit(l, x, y, g) {
      const n = nameOf(l);
      // Tied: the embedding's initializer, read transposed (its Gather emitted it already).
      if (!l.tied) return g.node('MatMul', [x, g.param(l.weight)], [y], n);
      g.node('Transpose', [l.weight.name], [`${n}.table.t`], `${n}.transpose`, { perm: { ints: [1, 0] } });
      g.node('MatMul', [x, `${n}.table.t`], [y], n);
    },
  },

  'softmax-cross-entropy': {
    // The loss is not exported: the graph ends at the logits. exportModelOnnx names the last
    // hidden layer's output `logits` already; only a model with no hidden layer needs a node here.
    emit: (l, x, y, g) => {
      if (x !== y) g.node('Identity', [x], [y], nameOf(l));
    },
  },
};

function ruleFor<K extends LayerKind>(layer: ResolvedLayers[K]): OnnxRule<K> {
  const rule = onnxTable[layer.kind as K] as OnnxRule<K> | undefined;
  if (!rule) throw new Error(`exportModelOnnx: no ONNX rule for layer kind ${JSON.stringify(layer.kind)} (layer ${layer.path}); the kinds are ${Object.keys(onnxTable).join(', ')}`);
  return rule;
}

/** Emits layers in order from x; the last one writes y, the others their own names. */
function emitList(layers: readonly ResolvedLayer[], x: string, y: string, g: OnnxGraphBuilder): void {
  let h = x;
  layers.forEach((layer, i) => {
    const out = i === layers.length - 1 ? y : `${nameOf(layer)}.out`;
    ruleFor(layer).emit(layer, h, out, g);
    h = out;
  });
}

// ---------------------------------------------------------------------------------------
// The entry points

export interface ModelExportOptions {
  /** A fixed batch size, or 'dynamic' (the default) for a symbolic `batch` dimension. */
  batch?: number | 'dynamic';
  /** producer_name in the model; 'swarmgrad' by default. */
  producer?: string;
  /** A human summary for the doc string; a list of the layers by default. */
  description?: string;
  /** Extra metadata_props entries, besides MODEL_SPEC_METADATA_KEY. */
  metadata?: Record<string, string>;
}

/** 'conv2d 8 3×3' and the like, for the doc string. */
function describeLayer(l: ResolvedLayer): string {
  switch (l.kind) {
    case 'linear': return `linear ${l.outFeatures}`;
    case 'conv2d': return `conv2d ${l.outChannels} ${l.kernel.join('×')}`;
    case 'maxpool2d':
    case 'avgpool2d': return `${l.kind} ${l.kernel.join('×')}`;
    case 'dropout': return `dropout ${l.p} (identity here)`;
    case 'residual': return `residual(${l.layers.map(describeLayer).join(' → ')})`;
    default: return l.kind;
  }
}

/**
 * A model of the layer list as ONNX (see the header for the graph's contract): input
 * `input` [batch, ...inputShape] float32 pixels/255, output `logits` [batch, classes]. The
 * softmax-cross-entropy loss is not exported; the output is the logits. `params` is the
 * flat vector of the model's layout (model.total floats, padding included).
 */
export function exportModelOnnx(model: ResolvedModel, params: Float32Array, opts: ModelExportOptions = {}): Uint8Array {
  if (params.length !== model.total) {
    throw new Error(
      `exportModelOnnx: params has ${params.length} floats but the model's layout needs ${model.total} (padding included); ` +
        'pass the flat parameter vector that belongs to this model',
    );
  }
  const last = model.layers[model.layers.length - 1];
  if (last?.kind !== 'softmax-cross-entropy') {
    throw new Error(`exportModelOnnx: the model's last layer must be its softmax-cross-entropy loss, got ${JSON.stringify(last?.kind)}; pass a model from resolveModel`);
  }
  const batch = opts.batch ?? 'dynamic';
  if (batch !== 'dynamic') assertDim('exportModelOnnx batch', batch);
  const batchDim: Dim = batch === 'dynamic' ? 'batch' : batch;

  // The hidden layers write `logits`; the loss rule then sees x = y = `logits` (x = `input` with no hidden layer).
  const g = new OnnxGraphBuilder(params);
  const hidden = model.layers.slice(0, -1);
  emitList(hidden, 'input', 'logits', g);
  onnxTable['softmax-cross-entropy'].emit(last, hidden.length ? 'logits' : 'input', 'logits', g);

  const inputShape = [...model.inputShape];
  const tokens = model.tokens !== null;
  const layout = inputShape.length === 3 ? 'NCHW, channel-major' : 'row-major';
  const summary = opts.description ?? `${model.layers.slice(0, -1).map(describeLayer).join(' → ')}`;
  const inputDoc = tokens
    ? `Input: token ids, [batch, ${inputShape[0]}] int64; output [batch, ${inputShape[0]}, ${model.classes}], the next token's scores at each position.`
    : `Input: pixels/255 in [0, 1], [batch, ${inputShape.join(', ')}] float32 (${layout}).`;
  const logitsShape: Dim[] = tokens ? [batchDim, inputShape[0], model.classes] : [batchDim, model.classes];
  return encodeModel({
    producer: opts.producer ?? 'swarmgrad',
    docString: `swarmgrad ${summary}; output: logits (the softmax-cross-entropy loss is not exported). ${inputDoc}`,
    metadata: { [MODEL_SPEC_METADATA_KEY]: JSON.stringify(model.spec), ...opts.metadata },
    graph: {
      name: 'swarmgrad_model',
      node: g.nodes,
      initializer: g.initializers,
      input: [
        tokens
          ? floatValueInfo('input', [batchDim, ...inputShape], 'token ids, one sequence per row', INT64)
          : floatValueInfo('input', [batchDim, ...inputShape], `pixels / 255, ${layout}, one example per row`),
      ],
      output: [floatValueInfo('logits', logitsShape, tokens ? 'unnormalised next-token scores per position' : 'unnormalised class scores')],
    },
  });
}

export type MlpExportOptions = Pick<ModelExportOptions, 'batch' | 'producer'>;

/**
 * The trained MLP as an ONNX model: exportModelOnnx of its layer list (linear, activation,
 * …, linear), plus the shorthand spec as metadata (MLP_SPEC_METADATA_KEY).
 */
export function exportMlpOnnx(layout: ParamLayout, params: Float32Array, opts: MlpExportOptions = {}): Uint8Array {
  if (params.length !== layout.total) {
    throw new Error(
      `exportMlpOnnx: params has ${params.length} floats but the layout for widths ` +
        `${JSON.stringify(layout.spec.widths)} needs ${layout.total} (padding included); ` +
        'pass the flat parameter vector that belongs to this layout',
    );
  }
  const spec: MlpSpec = { widths: layout.spec.widths, activation: layout.spec.activation };
  if (spec.activation !== 'relu' && spec.activation !== 'gelu') {
    throw new Error(`exportMlpOnnx: activation ${JSON.stringify(spec.activation)} has no layer kind (relu or gelu); nothing is exported rather than another activation`);
  }
  return exportModelOnnx(resolveModel(spec), params, {
    ...opts,
    description: `MLP ${spec.widths.join('→')}, ${spec.activation} hidden layers, linear output`,
    metadata: { [MLP_SPEC_METADATA_KEY]: JSON.stringify(spec) },
  });
}
