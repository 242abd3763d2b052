// Throughput, size and error of each compression scheme (src/compression) on vectors the size
// of the default job's parameters (235,200 floats): random normal values, and a real gradient
// of the default MLP at its initial parameters on 256 Fashion-MNIST training examples (a
// random vector instead, said so, when the dataset is not installed). MB/s counts the fp32
// bytes of the input vector (940,800) per second, for encoding and for decoding alike.
//
//   node --import tsx scripts/bench-compression.ts [--repeats 9]

import { parseArgs } from 'node:util';
import { CpuKinkModel } from '../src/coordinator/kinkModel.ts';
import { resolveModel } from '../src/model/layers/spec.ts';
import { loadFashionMnistFromDir } from '../src/data/fashionMnistNode.ts';
import { DEFAULT_MLP, initParameters, mlpLayout } from '../src/model/mlp.ts';
import { Random } from '../src/util/random.ts';
import { decodeVector, encodeDelta, encodeVector, sharedMask, topKMask, type EncodeOptions } from '../src/compression/index.ts';

const { values: args } = parseArgs({ options: { repeats: { type: 'string', default: '9' } } });
const repeats = Number(args.repeats);
if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`--repeats must be a positive integer, got ${args.repeats}`);

/** Median milliseconds of `repeats` runs after one warm-up run. */
function medianMs(run: () => void): number {
  run();
  const ms: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    run();
    ms.push(performance.now() - t0);
  }
  return ms.sort((a, b) => a - b)[Math.floor(ms.length / 2)];
}

/** ‖x − x̂‖ / ‖x‖ in f64. */
function relativeError(x: Float32Array, decoded: Float32Array): number {
  let error = 0;
  let norm = 0;
  for (let i = 0; i < x.length; i++) {
    error += (x[i] - decoded[i]) ** 2;
    norm += x[i] ** 2;
  }
  return Math.sqrt(error / norm);
}

const layout = mlpLayout(DEFAULT_MLP);
const length = layout.total;
const random = new Random(1);
const normal = Float32Array.from({ length }, () => 1e-3 * random.normal());

async function realGradient(): Promise<{ gradient: Float32Array; what: string }> {
  try {
    const { train } = await loadFashionMnistFromDir();
    const gradient = new Float32Array(length);
    const indices = Array.from({ length: 256 }, (_, i) => i);
    (await CpuKinkModel.create(resolveModel(DEFAULT_MLP))).lossAndGradient(initParameters(layout, 1), train, indices, gradient);
    return { gradient, what: 'the default MLP gradient at its initial parameters, 256 Fashion-MNIST examples' };
  } catch (error) {
    const gradient = Float32Array.from({ length }, () => 1e-3 * random.normal());
    return { gradient, what: `a second random normal vector (no real gradient: ${(error as Error).message.split('\n')[0]})` };
  }
}

const { gradient, what } = await realGradient();
const zeros = gradient.reduce((n, x) => n + (x === 0 ? 1 : 0), 0);
const k = Math.round(length / 100);
const mask = sharedMask(length, k, 7);

const schemesFor = (vector: Float32Array): { name: string; options: EncodeOptions; mask?: Uint32Array }[] => [
  { name: 'f32', options: { scheme: 'f32' } },
  { name: 'int8 B=64', options: { scheme: 'int8', blockSize: 64 } },
  { name: 'int8 B=128', options: { scheme: 'int8', blockSize: 128 } },
  { name: 'int8 B=256', options: { scheme: 'int8', blockSize: 256 } },
  { name: 'ternary B=64', options: { scheme: 'ternary', blockSize: 64 } },
  { name: 'ternary B=128', options: { scheme: 'ternary', blockSize: 128 } },
  { name: 'ternary B=256', options: { scheme: 'ternary', blockSize: 256 } },
  { name: `int8 B=128, shared 1% mask (k=${k})`, options: { scheme: 'int8' }, mask },
  { name: `ternary B=128, shared 1% mask (k=${k})`, options: { scheme: 'ternary' }, mask },
  { name: `int8 B=128, top-1% mask of this vector`, options: { scheme: 'int8' }, mask: topKMask(vector, k) },
];

console.log(`node ${process.version}, ${length} floats (${4 * length} bytes as fp32), median of ${repeats} runs\n`);
for (const [label, vector] of [
  ['random normal, σ = 1e-3', normal],
  [`${what}; ${zeros} exact zeros`, gradient],
] as const) {
  console.log(label);
  console.log(`  ${'scheme'.padEnd(40)} ${'bytes'.padStart(9)} ${'ratio'.padStart(8)} ${'encode MB/s'.padStart(12)} ${'decode MB/s'.padStart(12)} ${'rel. L2 err'.padStart(12)}`);
  for (const { name, options, mask: m } of schemesFor(vector)) {
    const encoded = encodeVector(vector, options, m);
    const encodeMs = medianMs(() => encodeVector(vector, options, m));
    const decodeMs = medianMs(() => decodeVector(encoded, m));
    const mbps = (ms: number) => ((4 * length) / 1e6 / (ms / 1000)).toFixed(0);
    const bytes = encoded.payload.length;
    console.log(
      `  ${name.padEnd(40)} ${String(bytes).padStart(9)} ${`${((4 * length) / bytes).toFixed(2)}×`.padStart(8)} ${mbps(encodeMs).padStart(12)} ${mbps(decodeMs).padStart(12)} ${relativeError(vector, decodeVector(encoded, m)).toExponential(2).padStart(12)}`,
    );
  }
  console.log();
}
console.log('rel. L2 err is ‖x − x̂‖/‖x‖ over the whole vector, so a mask counts the coordinates it drops.\n');

const params = initParameters(layout, 1);
const stepped = Float32Array.from(params, (p, i) => p - 0.01 * gradient[i]);
console.log('helpers');
console.log(`  sharedMask(${length}, ${k}, seed)          ${medianMs(() => sharedMask(length, k, 3)).toFixed(2).padStart(8)} ms`);
console.log(`  topKMask(gradient, ${k})                   ${medianMs(() => topKMask(gradient, k)).toFixed(2).padStart(8)} ms`);
console.log(`  encodeDelta(params, params − 0.01·g, int8) ${medianMs(() => encodeDelta(params, stepped, { scheme: 'int8' })).toFixed(2).padStart(8)} ms (encode + the receiver's decode)`);
