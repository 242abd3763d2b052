// A GPT as a layer list (src/model/layers/spec.ts), as nanoGPT's model.py builds it: token and
// position embeddings, `layers` pre-norm blocks (x + attention(layernorm(x)), then
// x + mlp(layernorm(x)) with a 4× GELU MLP), a final layernorm and a head tied to the token
// embedding. Unlike nanoGPT's shakespeare_char config, every linear keeps its bias.

import type { LayerModelSpec, LayerSpec } from './spec.ts';

export interface GptShape {
  layers: number;
  heads: number;
  /** The embedding width C. */
  features: number;
  /** The context T. */
  context: number;
  vocabulary: number;
  /** Dropout after attention's projection, in the MLP and on the embeddings (0: none). */
  dropout?: number;
}

/** nanoGPT's CPU "baby GPT" of its README (4 layers, 4 heads, 128, context 64, no dropout) over 65 characters. */
export const BABY_GPT: GptShape = { layers: 4, heads: 4, features: 128, context: 64, vocabulary: 65 };
/** nanoGPT's config/train_shakespeare_char.py (6 layers, 6 heads, 384, context 256, dropout 0.2). */
export const SHAKESPEARE_CHAR_GPT: GptShape = { layers: 6, heads: 6, features: 384, context: 256, vocabulary: 65, dropout: 0.2 };

export function gptSpec(shape: GptShape): LayerModelSpec {
  const { layers, heads, features: c, context, vocabulary } = shape;
  const p = shape.dropout ?? 0;
  const drop: LayerSpec[] = p > 0 ? [{ kind: 'dropout', p }] : [];
  // GPT-2 scales the residual projections' initialisation by 1/√(2·layers).
  const projectionInitStd = 0.02 / Math.sqrt(2 * layers);
  const block: LayerSpec[] = [
    { kind: 'residual', layers: [{ kind: 'layernorm' }, { kind: 'attention', heads, projectionInitStd }, ...drop] },
    {
      kind: 'residual',
      layers: [
        { kind: 'layernorm' }, { kind: 'linear', outFeatures: 4 * c, initStd: 0.02 }, { kind: 'gelu' },
        { kind: 'linear', outFeatures: c, initStd: projectionInitStd }, ...drop,
      ],
    },
  ];
  return {
    input: [context],
    layers: [
      { kind: 'embedding', vocabulary, features: c }, { kind: 'position-embedding' }, ...drop,
      ...Array.from({ length: layers }, () => block).flat(),
      { kind: 'layernorm' }, { kind: 'lm-head' }, { kind: 'softmax-cross-entropy' },
    ],
  };
}
