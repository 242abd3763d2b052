// The attention benchmark's problem (issue 12): one causal self-attention block on the baby
// GPT's shapes (batch 12 windows of T = 64 tokens, C = 128, 4 heads) between its token embedding
// and the tied head, so that both sides run the same whole graph from token ids to logits:
// ours (GpuModel / CpuModel: forward, and forward + backward) and onnxruntime-web (our ONNX
// export of the same model: forward only, an inference engine has no backward).

import { randomDataset, type ImageDataset } from '../../data/dataset.ts';
import { initModelParameters, resolveModel, type LayerModelSpec, type ResolvedModel } from '../../model/layers/spec.ts';
import { BABY_GPT } from '../../model/layers/gpt.ts';
import { Random } from '../../util/random.ts';

export const ATTENTION_GPU_SUITE_ID = 'attention-gpu';
export const ATTENTION_CPU_SUITE_ID = 'attention-cpu';
export const ATTENTION_BATCH = 12;
export const ATTENTION_SEED = 12;

export const ATTENTION_SPEC: LayerModelSpec = {
  input: [BABY_GPT.context],
  layers: [
    { kind: 'embedding', vocabulary: BABY_GPT.vocabulary, features: BABY_GPT.features },
    { kind: 'attention', heads: BABY_GPT.heads },
    { kind: 'lm-head' },
    { kind: 'softmax-cross-entropy' },
  ],
};

export const attentionLabel = `embedding → attention (${BABY_GPT.heads} heads, C ${BABY_GPT.features}, T ${BABY_GPT.context}) → tied head, batch ${ATTENTION_BATCH}`;

export function attentionModel(): ResolvedModel {
  return resolveModel(ATTENTION_SPEC);
}

export function attentionParameters(model: ResolvedModel): Float32Array {
  return initModelParameters(model, ATTENTION_SEED);
}

/** Random windows of token ids with a next token per position: what the backends hold resident. */
export function attentionWindows(model: ResolvedModel): ImageDataset {
  return randomDataset(new Random(ATTENTION_SEED), 4 * ATTENTION_BATCH, model.inputSize, model.classes, { labelsPerExample: model.labelsPerExample });
}

/** The first batch's window indices, and their ids as floats (the backends' raw-input form). */
export function attentionBatch(windows: ImageDataset): { indices: Uint32Array; ids: Float32Array } {
  const indices = Uint32Array.from({ length: ATTENTION_BATCH }, (_, i) => i);
  return { indices, ids: Float32Array.from(windows.images.subarray(0, ATTENTION_BATCH * windows.features)) };
}

/** Logits compared between ours and theirs: a few spread over the batch. */
export function attentionProbes(model: ResolvedModel): number[] {
  const total = ATTENTION_BATCH * model.labelsPerExample * model.classes;
  return [0, 1, 777, Math.floor(total / 2), total - 1];
}

export const oursName = (pass: 'forward' | 'forward+backward', threads?: number) => `ours ${pass}${threads ? ` (${threads} thread${threads === 1 ? '' : 's'})` : ''}`;
export const ortName = (threads?: number) => `onnxruntime-web forward${threads ? ` (${threads} thread${threads === 1 ? '' : 's'})` : ''}`;
