// The CPU backend's WebAssembly module: every kernel, exported for src/cpu/kernels.ts.
// Built by scripts/build-wasm.mjs in four variants: plain or relaxed SIMD (fused
// multiply-add), with shared (threads) or private memory.

export { gemm, packA, packB, ACT_NONE, ACT_RELU, ACT_GELU, ACT_GELU_SAVED } from './gemm';
export { gatherRows, gatherTokens, softmaxCrossEntropy, columnSum } from './rows';
export { sumSquares, adamw, sgd } from './optimizer';
export {
  conv2dForward, conv2dBackwardInput, conv2dWeightPartials, conv2dWeightSum,
  conv2dForwardScratch, conv2dBackwardInputScratch, conv2dWeightScratch, CONV_WEIGHT_CHUNK,
} from './conv2d';
export { maxpool2dForward, maxpool2dBackward, avgpool2dForward, avgpool2dBackward } from './pool';
export { layernormForward, layernormBackwardInput, layernormParamGrad } from './layernorm';
export { activationForward, activationBackward, addFloats, copyFloats, dropoutApply } from './elementwise';
export { attentionForward, attentionBackward, attentionScratch } from './attention';

/** First byte after the module's static data: the host's allocations start here. */
export function heapBase(): usize {
  return __heap_base;
}
