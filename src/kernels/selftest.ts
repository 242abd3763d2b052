// A known-answer self-test run at start-up: small integer products whose every
// intermediate is exactly representable in f32, so any correct GPU returns them exactly.
// A broken driver or a miscompiled kernel is caught before it computes a single gradient.

import type { GpuContext } from '../gpu/context.ts';
import { ComputeRecorder } from '../gpu/recorder.ts';
import { upload } from '../gpu/transfer.ts';
import { floats } from './common.ts';
import { MatmulOp, type MatmulConfig, type MatmulLayout } from './matmul.ts';

export class SelfTestError extends Error {
  override name = 'SelfTestError';
}

const M = 5;
const N = 6;
const K = 7;

/** a[i][p] = (i + 2p) mod 5 − 2, b[p][j] = (3p + j) mod 7 − 3, bias[j] = j − 2: small integers. */
function knownAnswer() {
  const a = new Float32Array(M * K);
  const b = new Float32Array(K * N);
  const bias = Float32Array.from({ length: N }, (_, j) => j - 2);
  for (let i = 0; i < M; i++) for (let p = 0; p < K; p++) a[i * K + p] = ((i + 2 * p) % 5) - 2;
  for (let p = 0; p < K; p++) for (let j = 0; j < N; j++) b[p * N + j] = ((3 * p + j) % 7) - 3;
  const expected = new Float32Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = bias[j];
      for (let p = 0; p < K; p++) s += a[i * K + p] * b[p * N + j];
      expected[i * N + j] = Math.max(s, 0);
    }
  }
  return { a, b, bias, expected };
}

function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = x[r * cols + c];
  return t;
}

/** Runs relu(A·B + bias) in every layout with `config`; throws SelfTestError on any mismatch. */
export async function runSelfTest(ctx: GpuContext, config: MatmulConfig): Promise<void> {
  const { a, b, bias, expected } = knownAnswer();
  const inputs: Record<MatmulLayout, [Float32Array, Float32Array]> = {
    nn: [a, b],
    nt: [a, transpose(b, K, N)],
    tn: [transpose(a, M, K), b],
  };
  const buffers: GPUBuffer[] = [];
  try {
    const rec = new ComputeRecorder(ctx, { label: 'self-test' });
    const outputs: GPUBuffer[] = [];
    for (const layout of ['nn', 'nt', 'tn'] as const) {
      const op = await MatmulOp.create(ctx, { layout, m: M, n: N, k: K }, { bias: true, activation: 'relu' }, config);
      const [A, B, Bias] = [upload(ctx, inputs[layout][0]), upload(ctx, inputs[layout][1]), upload(ctx, bias)];
      const C = upload(ctx, new Float32Array(M * N).fill(Number.NaN));
      buffers.push(A, B, Bias, C);
      outputs.push(C);
      op.encode(rec, { a: floats(A, 0, M * K), b: floats(B, 0, K * N), c: floats(C, 0, M * N), bias: floats(Bias, 0, N) });
    }
    const { data } = await rec.finishWithReadback(outputs.map((buffer) => ({ buffer, size: M * N * 4 })));
    data.forEach((bytes, i) => {
      const got = new Float32Array(bytes);
      const bad = got.findIndex((v, j) => v !== expected[j]);
      if (bad >= 0) {
        throw new SelfTestError(
          `GPU self-test failed (${['nn', 'nt', 'tn'][i]} matmul): element ${bad} is ${got[bad]}, expected ${expected[bad]}. ` +
            'This GPU or its driver computes incorrectly; it will not be used for training.',
        );
      }
    });
  } finally {
    for (const buffer of buffers) buffer.destroy();
  }
}
