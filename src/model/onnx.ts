// ONNX models written from scratch: a one-node MatMul for the benchmark's comparison with
// onnxruntime-web, and the trained MLP as a self-describing `.onnx` export.
//
// Opset 17 with IR version 8: IR 8 is the newest the bundled onnx.proto schema (ONNX 1.10)
// describes and the IR that ONNX 1.12 pairs with opset 17. Every op used here (MatMul-13,
// Add-14, Mul-14, Relu-14, Tanh-13) is unchanged up to the newest opsets, onnxruntime runs
// opset 17 on every execution provider, and older ONNX tools still load it. GELU is built
// from primitive ops rather than Gelu-20 (which needs opset 20 / IR 9) so any onnxruntime
// build and EP runs it; onnxruntime's graph optimizer may fuse the pattern back into one op.

import { type MlpSpec, type ParamLayout, segmentView } from './mlp.ts';
import { onnx, type OnnxTypes } from './onnxProto.ts';

export const ONNX_OPSET = 17;
export const ONNX_IR_VERSION = 8;
/** Key of the metadata_props entry holding the JSON MLP spec. */
export const MLP_SPEC_METADATA_KEY = 'swarmgrad.mlp_spec';

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

/** A dimension is a fixed size or a symbolic name (dim_param) such as 'batch'. */
type Dim = number | string;

function floatValueInfo(name: string, dims: Dim[], docString?: string): OnnxTypes.IValueInfoProto {
  const dim = dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return { name, docString, type: { tensorType: { elemType: FLOAT, shape: { dim } } } };
}

/** raw_data is little-endian by the ONNX spec, so write through a DataView, whatever the host. */
function floatInitializer(name: string, dims: number[], values: ArrayLike<number>): OnnxTypes.ITensorProto {
  const rawData = new Uint8Array(values.length * 4);
  const view = new DataView(rawData.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return { name, dims, dataType: FLOAT, rawData };
}

function node(opType: string, inputs: string[], outputs: string[], name: string): OnnxTypes.INodeProto {
  return { opType, input: inputs, output: outputs, name };
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

export interface MlpExportOptions {
  /** A fixed batch size, or 'dynamic' (the default) for a symbolic `batch` dimension. */
  batch?: number | 'dynamic';
  /** producer_name in the model; 'swarmgrad' by default. */
  producer?: string;
}

/** Scalar constants shared by every GELU in the graph. */
const GELU_CONSTANTS: OnnxTypes.ITensorProto[] = [
  floatInitializer('gelu.half', [], [0.5]),
  floatInitializer('gelu.one', [], [1]),
  floatInitializer('gelu.a', [], [GELU_A]),
  floatInitializer('gelu.sqrt_2_over_pi', [], [SQRT_2_OVER_PI]),
];

/**
 * GELU, tanh approximation, from primitive ops:
 * y = 0.5·x·(1 + tanh(√(2/π)·x·(1 + 0.044715·x²))), the inner factor being x + 0.044715·x³.
 */
function geluNodes(x: string, y: string, prefix: string): OnnxTypes.INodeProto[] {
  const t = (s: string) => `${prefix}.${s}`;
  return [
    node('Mul', [x, x], [t('x2')], t('x2')),
    node('Mul', [t('x2'), 'gelu.a'], [t('ax2')], t('ax2')),
    node('Add', [t('ax2'), 'gelu.one'], [t('one_plus_ax2')], t('one_plus_ax2')),
    node('Mul', [x, t('one_plus_ax2')], [t('cubic')], t('cubic')),
    node('Mul', [t('cubic'), 'gelu.sqrt_2_over_pi'], [t('u')], t('u')),
    node('Tanh', [t('u')], [t('tanh')], t('tanh')),
    node('Add', [t('tanh'), 'gelu.one'], [t('one_plus_tanh')], t('one_plus_tanh')),
    node('Mul', [x, t('one_plus_tanh')], [t('x_gate')], t('x_gate')),
    node('Mul', [t('x_gate'), 'gelu.half'], [y], t('half')),
  ];
}

/**
 * The trained MLP as an ONNX model: input `input` [batch, widths[0]] (pixels scaled to
 * [0, 1] by /255, as the training pipeline feeds them), output `logits` [batch, classes].
 * Initializers are named after the parameter segments (`layer0.weight`, `layer0.bias`, …);
 * the alignment padding of the flat vector is not exported.
 */
export function exportMlpOnnx(layout: ParamLayout, params: Float32Array, opts: MlpExportOptions = {}): Uint8Array {
  if (params.length !== layout.total) {
    throw new Error(
      `exportMlpOnnx: params has ${params.length} floats but the layout for widths ` +
        `${JSON.stringify(layout.spec.widths)} needs ${layout.total} (padding included); ` +
        'pass the flat parameter vector that belongs to this layout',
    );
  }
  const batch = opts.batch ?? 'dynamic';
  if (batch !== 'dynamic') assertDim('exportMlpOnnx batch', batch);
  const batchDim: Dim = batch === 'dynamic' ? 'batch' : batch;
  const spec: MlpSpec = layout.spec;
  const layers = spec.widths.length - 1;

  const initializer: OnnxTypes.ITensorProto[] = [];
  const nodes: OnnxTypes.INodeProto[] = [];
  let x = 'input';
  for (let l = 0; l < layers; l++) {
    const w = layout.weights[l];
    const b = layout.biases[l];
    initializer.push(floatInitializer(w.name, [w.rows, w.cols], segmentView(params, w)));
    initializer.push(floatInitializer(b.name, [b.cols], segmentView(params, b)));
    const last = l === layers - 1;
    const matmul = `layer${l}.matmul`;
    const pre = last ? 'logits' : `layer${l}.pre`;
    nodes.push(node('MatMul', [x, w.name], [matmul], matmul));
    nodes.push(node('Add', [matmul, b.name], [pre], `layer${l}.add`));
    if (last) break;
    const h = `layer${l}.out`;
    if (spec.activation === 'relu') nodes.push(node('Relu', [pre], [h], `layer${l}.relu`));
    else nodes.push(...geluNodes(pre, h, `layer${l}.gelu`));
    x = h;
  }
  if (spec.activation === 'gelu' && layers > 1) initializer.push(...GELU_CONSTANTS);

  const classes = spec.widths[layers];
  return encodeModel({
    producer: opts.producer ?? 'swarmgrad',
    docString:
      `swarmgrad MLP ${spec.widths.join('→')}, ${spec.activation} hidden layers, linear output (logits). ` +
      `Input: pixels/255 in [0, 1], [batch, ${spec.widths[0]}] float32.`,
    metadata: { [MLP_SPEC_METADATA_KEY]: JSON.stringify({ widths: spec.widths, activation: spec.activation }) },
    graph: {
      name: 'swarmgrad_mlp',
      node: nodes,
      initializer,
      input: [floatValueInfo('input', [batchDim, spec.widths[0]], 'pixels / 255, row-major, one example per row')],
      output: [floatValueInfo('logits', [batchDim, classes], 'unnormalised class scores')],
    },
  });
}
