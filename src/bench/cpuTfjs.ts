// The baseline the CPU backend's training bar is measured against: the same MLP trained
// with tfjs-backend-wasm (XNNPACK, SIMD, threads): widths 784-256-128-10 with ReLU, batch
// 128, Kaiming-uniform weights from our initialiser, mean softmax cross-entropy, AdamW with
// decoupled weight decay on the weights only (tfjs has no AdamW: written out in tfjs ops
// exactly as reference.ts states it). Benchmark-only: tfjs is a dev dependency.

import * as tf from '@tensorflow/tfjs-core';
// The gradient of every op: tfjs-core registers none by itself.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
// tfjs-backend-wasm's own prebuilt bundle, loaded as it ships: its thread workers run the
// source text of its module factory, which no longer stands alone once vite re-bundles it.
import tfjsWasmBundle from '@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.es2017.min.js?url';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { epochOrder } from '../data/order.ts';
import { DEFAULT_ADAMW } from '../kernels/optimizer.ts';
import { DEFAULT_MLP, initParameters, mlpLayout, segmentView } from '../model/mlp.ts';
import { batchIndices, type MlpMeasureRequest, type TrainingFigures } from './cpuBaselines.ts';

export class TfjsThreadsError extends Error {
  override name = 'TfjsThreadsError';
}

interface TfjsWasmBundle {
  setWasmPaths(paths: Record<string, string>): void;
  setThreadsCount(threads: number): void;
  getThreadsCount(): number;
}

/** Runs the UMD bundle against our tfjs-core: it reads core from, and adds `wasm` to, globalThis.tf. */
async function loadTfjsWasm(): Promise<TfjsWasmBundle> {
  const host = globalThis as unknown as { tf?: Record<string, unknown> };
  host.tf = { ...tf };
  await import(/* @vite-ignore */ tfjsWasmBundle);
  const wasm = host.tf.wasm as TfjsWasmBundle | undefined;
  if (!wasm?.setThreadsCount) throw new Error(`tfjs-backend-wasm's bundle (${tfjsWasmBundle}) did not register itself on globalThis.tf`);
  return wasm;
}

export async function trainTfjsWasm(r: MlpMeasureRequest): Promise<TrainingFigures> {
  const { setWasmPaths, setThreadsCount, getThreadsCount } = await loadTfjsWasm();
  setWasmPaths({ 'tfjs-backend-wasm.wasm': wasmPlain, 'tfjs-backend-wasm-simd.wasm': wasmSimd, 'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedSimd });
  setThreadsCount(r.threads);
  if (!tf.findBackendFactory('wasm')) throw new Error('tfjs-backend-wasm did not register its backend with tfjs-core');
  if (!(await tf.setBackend('wasm'))) throw new Error('tfjs could not start its wasm backend (its reason is in the console)');
  await tf.ready();
  const threads = getThreadsCount();
  // Its pthread pool may come up smaller than asked (it does in a worker here): never report 1 thread as 2.
  if (threads !== r.threads) throw new TfjsThreadsError(`tfjs-backend-wasm started ${threads} thread${threads === 1 ? '' : 's'} when ${r.threads} were asked for`);

  const layout = mlpLayout(DEFAULT_MLP);
  const init = initParameters(layout, r.seed);
  const weights = layout.weights.map((w) => tf.variable(tf.tensor2d(segmentView(init, w).slice(), [w.rows, w.cols])));
  const biases = layout.biases.map((b) => tf.variable(tf.zeros([b.cols])));
  const params = [...weights, ...biases];
  const decays = params.map((_, i) => i < weights.length);
  const m = params.map((p) => tf.variable(tf.zerosLike(p)));
  const v = params.map((p) => tf.variable(tf.zerosLike(p)));
  const h = DEFAULT_ADAMW;
  const features = r.train.features;
  const order = epochOrder(r.seed, 0, r.train.count);
  const x = new Float32Array(r.batch * features);
  const y = new Int32Array(r.batch);

  const step = async (t: number): Promise<number> => {
    const indices = batchIndices(order, t, r.batch);
    indices.forEach((e, row) => {
      for (let f = 0; f < features; f++) x[row * features + f] = r.train.images[e * features + f] / 255;
      y[row] = r.train.labels[e];
    });
    const loss = tf.tidy(() => {
      const xs = tf.tensor2d(x, [r.batch, features]);
      const labels = tf.oneHot(tf.tensor1d(y, 'int32'), r.train.classes);
      const { value, grads } = tf.variableGrads(() => {
        let a: tf.Tensor2D = xs;
        weights.forEach((w, l) => {
          a = tf.add(tf.matMul(a, w), biases[l]) as tf.Tensor2D;
          if (l < weights.length - 1) a = tf.relu(a);
        });
        return tf.losses.softmaxCrossEntropy(labels, a) as tf.Scalar;
      }, params);
      const bc1 = 1 - h.beta1 ** t;
      const bc2 = 1 - h.beta2 ** t;
      params.forEach((p, i) => {
        const g = grads[p.name];
        const mi = tf.add(tf.mul(h.beta1, m[i]), tf.mul(1 - h.beta1, g));
        const vi = tf.add(tf.mul(h.beta2, v[i]), tf.mul(1 - h.beta2, tf.square(g)));
        m[i].assign(mi);
        v[i].assign(vi);
        let update = tf.div(tf.div(mi, bc1), tf.add(tf.sqrt(tf.div(vi, bc2)), h.eps));
        if (decays[i]) update = tf.add(update, tf.mul(h.weightDecay, p));
        p.assign(tf.sub(p, tf.mul(h.lr, update)));
      });
      return value;
    });
    const value = (await loss.data())[0];
    loss.dispose();
    return value;
  };

  const losses: number[] = [];
  let t = 0;
  for (let i = 0; i < r.warmupSteps; i++) losses.push(await step(++t));
  const start = performance.now();
  let timed = 0;
  while (timed < r.minSteps || performance.now() - start < r.budgetMs) {
    losses.push(await step(++t));
    timed++;
  }
  const wallMs = performance.now() - start;
  return {
    examplesPerSecond: (timed * r.batch * 1000) / wallMs,
    steps: timed,
    wallMs,
    firstLoss: losses[0],
    lastLoss: losses[losses.length - 1],
    details: { threads, tfjs: tf.version_core, optimizer: h, warmupSteps: r.warmupSteps, tensorsAfter: tf.memory().numTensors },
  };
}
