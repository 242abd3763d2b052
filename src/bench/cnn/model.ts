// The issue-11 layer-table benchmarks' shared facts: the zoo CNN (read from its job file,
// src/coordinator/jobs/fashion-mnist-cnn.json, when the build has it), its two conv shapes
// at batch 64, one-conv models for onnxruntime-web, and the suites' ids and row names.

import { exportModelOnnx } from '../../model/onnx.ts';
import { initModelParameters, parseModelSpec, resolveModel, type LayerModelSpec, type ModelSpec, type ResolvedConv2d, type ResolvedModel } from '../../model/layers/spec.ts';
import { threadsText } from '../cpuChecks.ts';

export const CNN_GPU_SUITE_ID = 'cnn-webgpu';
export const CNN_CPU_SUITE_ID = 'cnn-cpu';
export const CNN_BATCH = 64;
export const CNN_SEED = 1;

/** The zoo CNN as issue 11 states it: the fallback when the job file is not in this build. */
const ISSUE_11_CNN: LayerModelSpec = {
  input: [1, 28, 28],
  layers: [
    { kind: 'conv2d', outChannels: 16, kernel: 3, padding: 1 },
    { kind: 'relu' },
    { kind: 'maxpool2d', kernel: 2 },
    { kind: 'conv2d', outChannels: 32, kernel: 3, padding: 1 },
    { kind: 'relu' },
    { kind: 'maxpool2d', kernel: 2 },
    { kind: 'flatten' },
    { kind: 'linear', outFeatures: 128 },
    { kind: 'relu' },
    { kind: 'linear', outFeatures: 10 },
    { kind: 'softmax-cross-entropy' },
  ],
};

// A glob, not an import: a build without the job file still builds, with the fallback.
const zooJobs = import.meta.glob<{ model: unknown }>('../../coordinator/jobs/fashion-mnist-cnn.json', { eager: true, import: 'default' });

/** The CNN the suites measure and where its definition came from. */
export function benchCnn(): { spec: ModelSpec; model: ResolvedModel; source: string } {
  const job = Object.values(zooJobs)[0];
  const spec = job ? parseModelSpec(job.model) : ISSUE_11_CNN;
  return { spec, model: resolveModel(spec), source: job ? 'src/coordinator/jobs/fashion-mnist-cnn.json' : 'issue 11 (the zoo job file is not in this build)' };
}

export interface BenchConv {
  /** "conv1 1→16 28×28 3×3", for row names. */
  label: string;
  layer: ResolvedConv2d;
  /** The layer alone, flattened into a loss: what the one-conv benchmarks run and export. */
  model: ResolvedModel;
  params: Float32Array;
}

/** The CNN's conv layers, each as a model of its own with deterministic parameters. */
export function benchConvs(model: ResolvedModel): BenchConv[] {
  const convs = model.layers.filter((l): l is ResolvedConv2d => l.kind === 'conv2d');
  return convs.map((layer, i) => {
    const single = resolveModel({
      input: [...layer.inShape],
      layers: [{ kind: 'conv2d', outChannels: layer.outChannels, kernel: [...layer.kernel], stride: [...layer.stride], padding: [...layer.padding] }, { kind: 'flatten' }, { kind: 'softmax-cross-entropy' }],
    });
    const [c, h, w] = layer.inShape;
    const label = `conv${i + 1} ${c}→${layer.outChannels} ${h}×${w} ${layer.kernel.join('×')}`;
    return { label, layer: single.layers[0] as ResolvedConv2d, model: single, params: initModelParameters(single, CNN_SEED + i) };
  });
}

/** The one-conv model as ONNX at batch CNN_BATCH: Conv then Flatten (a reshape), weights as initializers. */
export function convOnnx(conv: BenchConv): Uint8Array {
  return exportModelOnnx(conv.model, conv.params, { batch: CNN_BATCH, producer: 'swarmgrad bench' });
}

/** The same input for every implementation: x[i] = (sin(i) + 1) / 2, pixels in [0, 1]. */
export function convInput(conv: BenchConv): Float32Array {
  return Float32Array.from({ length: CNN_BATCH * conv.model.inputSize }, (_, i) => (Math.sin(i) + 1) / 2);
}

/** Positions of y read back to cross-check ours against onnxruntime-web. */
export function convProbes(conv: BenchConv): number[] {
  const n = CNN_BATCH * conv.model.classes;
  return [0, 1, (n >> 1) + 7, n - 1];
}

/** The weight and bias of the one-conv model's parameters. */
export function convTensors(conv: BenchConv): { weight: Float32Array; bias: Float32Array } {
  const { weight, bias } = conv.layer;
  return { weight: conv.params.subarray(weight.offset, weight.offset + weight.length), bias: conv.params.subarray(bias.offset, bias.offset + bias.length) };
}

export type ConvPass = 'forward' | 'forward+backward';

export const oursGpuConvName = (conv: BenchConv, pass: ConvPass) => `${conv.label}: ours WebGPU ${pass}`;
export const ortGpuConvName = (conv: BenchConv) => `${conv.label}: onnxruntime-web WebGPU Conv forward`;
export const oursCpuConvName = (conv: BenchConv, pass: ConvPass, threads: number) => `${conv.label}: ours CPU ${pass}, ${threadsText(threads)}`;
export const ortCpuConvName = (conv: BenchConv, threads: number) => `${conv.label}: onnxruntime-web wasm Conv forward, ${threadsText(threads)}`;
export const OURS_GPU_TRAIN_NAME = 'CNN trainStep: ours WebGPU GpuModel';
export const oursCpuTrainName = (threads: number) => `CNN trainStep: ours CPU CpuModel, ${threadsText(threads)}`;
export const GPU_MEMORY_NAME = 'CNN peak memory: WebGPU GpuModel buffers';
export const cpuMemoryName = (threads: number) => `CNN peak memory: CPU CpuModel wasm memory, ${threadsText(threads)}`;
