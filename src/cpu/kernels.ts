// The WebAssembly kernels: which build this engine runs, and their typed exports.
// Four builds come from src/cpu/assembly/ (scripts/build-wasm.mjs): relaxed SIMD (fused
// multiply-add) where the engine validates it, else plain SIMD128; shared memory for
// worker threads, private memory for one thread.

/** Pointers and sizes are i32 (byte offsets into the memory); floats are f32 unless noted. */
export interface CpuKernelExports {
  heapBase(): number;
  gemm(
    packedA: number, packedB: number, k: number,
    rowBlock0: number, rowBlock1: number, panel0: number, panel1: number,
    c: number, ldc: number, m: number, n: number,
    bias: number, act: number, preact: number, actInput: number, tile: number,
  ): void;
  packA(src: number, strideI: number, strideP: number, m: number, k: number, i0: number, i1: number, p0: number, p1: number, dst: number): void;
  packB(src: number, strideP: number, strideJ: number, k: number, n: number, p0: number, p1: number, panel0: number, panel1: number, dst: number): void;
  gatherRows(images: number, labels: number, indices: number, r0: number, r1: number, features: number, x: number, y: number): void;
  /** Token windows: x = the ids as floats, y = labelsPer labels per row (i32). */
  gatherTokens(images: number, labels: number, indices: number, r0: number, r1: number, features: number, labelsPer: number, x: number, y: number): void;
  softmaxCrossEntropy(logits: number, labels: number, r0: number, r1: number, classes: number, scale: number, dlogits: number, rowStats: number): void;
  columnSum(src: number, rows: number, cols: number, c0: number, c1: number, dst: number): void;
  /** Σ g² in f64. */
  sumSquares(g: number, i0: number, i1: number): number;
  adamw(
    params: number, grads: number, m: number, v: number, i0: number, i1: number,
    lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, bc1: number, bc2: number, clip: number, decayEnd: number,
  ): void;
  sgd(params: number, grads: number, buf: number, i0: number, i1: number, lr: number, momentum: number, weightDecay: number, clip: number, decayEnd: number): void;
  // The layer kernels (assembly/conv2d.ts, pool.ts, layernorm.ts); src/cpu/layerJobs.ts calls them.
  conv2dForward(
    x: number, weight: number, bias: number, y: number,
    c: number, h: number, w: number, co: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number,
    item0: number, item1: number, scratch: number,
  ): void;
  conv2dBackwardInput(
    dy: number, weight: number, dx: number,
    c: number, h: number, w: number, co: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number,
    item0: number, item1: number, scratch: number,
  ): void;
  conv2dWeightPartials(
    x: number, dy: number, partials: number,
    batch: number, c: number, h: number, w: number, co: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number,
    chunk0: number, chunk1: number, scratch: number,
  ): void;
  conv2dWeightSum(partials: number, chunks: number, depth: number, co: number, e0: number, e1: number, dweight: number, dbias: number): void;
  conv2dForwardScratch(c: number, co: number, kh: number, kw: number): number;
  conv2dBackwardInputScratch(c: number, co: number, kh: number, kw: number): number;
  conv2dWeightScratch(c: number, co: number, kh: number, kw: number): number;
  maxpool2dForward(x: number, y: number, argmax: number, h: number, w: number, kh: number, kw: number, sh: number, sw: number, plane0: number, plane1: number): void;
  maxpool2dBackward(dy: number, argmax: number, dx: number, h: number, w: number, kh: number, kw: number, sh: number, sw: number, plane0: number, plane1: number): void;
  avgpool2dForward(x: number, y: number, h: number, w: number, kh: number, kw: number, sh: number, sw: number, plane0: number, plane1: number): void;
  avgpool2dBackward(dy: number, dx: number, h: number, w: number, kh: number, kw: number, sh: number, sw: number, plane0: number, plane1: number): void;
  layernormForward(x: number, gain: number, shift: number, y: number, stats: number, f: number, eps: number, row0: number, row1: number): void;
  layernormBackwardInput(x: number, stats: number, gain: number, dy: number, dx: number, f: number, row0: number, row1: number): void;
  layernormParamGrad(x: number, stats: number, dy: number, dgain: number, dshift: number, rows: number, f: number, f0: number, f1: number): void;
  // The elementwise kernels of the layer table (assembly/elementwise.ts); src/cpu/cpuModelLayers.ts calls them.
  activationForward(x: number, y: number, i0: number, i1: number, act: number): void;
  activationBackward(dy: number, x: number, dx: number, i0: number, i1: number, act: number): void;
  addFloats(a: number, b: number, out: number, i0: number, i1: number): void;
  copyFloats(src: number, dst: number, i0: number, i1: number): void;
  /** seed, layer and threshold are u32 (passed as numbers, wrapped to i32 bits by the call). */
  dropoutApply(src: number, dst: number, positions: number, seed: number, layer: number, threshold: number, scale: number, features: number, row0: number, row1: number): void;
  // The attention core (assembly/attention.ts), between its projections.
  attentionForward(qkv: number, probs: number, o: number, t: number, c: number, heads: number, n0: number, n1: number, scratch: number, tile: number): void;
  attentionBackward(qkv: number, probs: number, dO: number, dScores: number, dQkv: number, t: number, c: number, heads: number, n0: number, n1: number, scratch: number, tile: number): void;
  /** Bytes of scratch per thread for a context t and head size d (attentionScratchBytes in cpuModelLayers.ts). */
  attentionScratch(t: number, d: number): number;
}

/**
 * Activation codes of gemm's epilogue (the module's ACT_* globals). geluSaved: GELU whose
 * pre-activation buffer keeps gelu'(z), so the backward multiplies by it (no second exp).
 */
export const ACT = { none: 0, relu: 1, gelu: 2, geluSaved: 3 } as const;

export type SimdLevel = 'relaxed' | 'plain';

export interface KernelModule {
  module: WebAssembly.Module;
  simd: SimdLevel;
  shared: boolean;
}

type Variant = `${SimdLevel}-${'shared' | 'private'}`;

const SOURCES: Record<Variant, () => Promise<{ kernelsWasmBase64: string }>> = {
  'relaxed-shared': () => import('./wasm/kernels-relaxed-shared.generated.ts'),
  'relaxed-private': () => import('./wasm/kernels-relaxed-private.generated.ts'),
  'plain-shared': () => import('./wasm/kernels-plain-shared.generated.ts'),
  'plain-private': () => import('./wasm/kernels-plain-private.generated.ts'),
};

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Compiles the fastest build this engine validates. `simd` forces a level (benchmarks,
 * tests); an engine without WebAssembly SIMD gets a clear error.
 */
export async function loadKernelModule(options: { shared: boolean; simd?: SimdLevel }): Promise<KernelModule> {
  const memory = options.shared ? 'shared' : 'private';
  const levels: SimdLevel[] = options.simd ? [options.simd] : ['relaxed', 'plain'];
  for (const simd of levels) {
    const bytes = decodeBase64((await SOURCES[`${simd}-${memory}`]()).kernelsWasmBase64);
    if (!WebAssembly.validate(bytes)) continue;
    return { module: await WebAssembly.compile(bytes), simd, shared: options.shared };
  }
  throw new Error(
    `This browser cannot run the CPU backend's WebAssembly (${levels.join(' or ')} SIMD, ${memory} memory): ` +
      'it needs WebAssembly SIMD (Chrome 91+, Firefox 89+, Safari 16.4+). Use the WebGPU backend or a newer browser.',
  );
}

/** Instantiates the kernels on `memory` (the memory every thread shares, or a private one). */
export async function instantiateKernels(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<CpuKernelExports> {
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  return instance.exports as unknown as CpuKernelExports;
}
