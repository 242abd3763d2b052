import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { JobError, datasetFormatOf, defaultJob, innerHyper, installedDataJob, leaseBounds, jobId, parseJobDefinition, withFileDataSizes, jobLayout, jobResolved, learningRateAt, parseJob, plannedRounds, roundsPerEpoch, type JobInput } from './job.ts';
import { BABY_GPT, SHAKESPEARE_CHAR_GPT, gptSpec } from '../model/layers/gpt.ts';

const minimal: JobInput = {
  name: 'tiny',
  model: { widths: [784, 32, 10], activation: 'relu' },
  data: { dataset: 'fashion-mnist', trainExamples: 1000, testExamples: 500 },
  optimizer: { kind: 'adamw', lr: 0.001 },
  globalBatch: 100,
  stop: { epochs: 2 },
  evaluateEvery: 5,
  checkpointEvery: 5,
  seed: 1,
};

/** A copy of `minimal` with one field replaced by path. */
function withField(path: string, value: unknown): unknown {
  const job = structuredClone(minimal) as Record<string, unknown>;
  const keys = path.split('.');
  let at = job;
  for (const k of keys.slice(0, -1)) at = at[k] as Record<string, unknown>;
  if (value === undefined) delete at[keys[keys.length - 1]];
  else at[keys[keys.length - 1]] = value;
  return job;
}

function errorOf(json: unknown): string {
  try {
    parseJob(json, 'test.json');
  } catch (error) {
    expect(error).toBeInstanceOf(JobError);
    return (error as Error).message;
  }
  throw new Error('expected parseJob to throw');
}

describe('parseJob', () => {
  it('fills defaults and resolves data sizes', () => {
    const job = parseJob(JSON.stringify({ ...minimal, data: { dataset: 'fashion-mnist' } }), 'test.json');
    expect(job.data).toEqual({ dataset: 'fashion-mnist', trainExamples: 60000, testExamples: 10000 });
    expect(job.optimizer).toMatchObject({ kind: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-8, maxGradNorm: 0, schedule: { warmupSteps: 0, decay: 'constant' } });
    expect(job.lease).toEqual({ minExamples: 16, maxExamples: 1024, targetSeconds: 1, timeoutMs: 15000, inFlight: 1 });
    expect(job.aggregation).toBe('mean');
  });

  it('fills the verification defaults, and takes a robust rule with its parameters', () => {
    const job = parseJob(JSON.stringify(minimal), 'test.json');
    expect(job.verification).toEqual({
      aggregation: { rule: 'mean', trim: 0.25, clipRadius: 1, clipIterations: 3 },
      screening: { enabled: true, normFactor: 8, cosineFraction: 0.2, warmupResults: 8, banAfterFlags: 2 },
      replication: { fraction: 0.1 },
      spotChecks: { fraction: 0.05, maxExamples: 256, probationResults: 3, probationMaxExamples: 2048, tolerance: 1e-3 },
    });
    const robust = parseJob(JSON.stringify({ ...minimal, verification: { aggregation: { rule: 'trimmed-mean', trim: 0.1 } } }), 'test.json');
    expect(robust.verification.aggregation).toMatchObject({ rule: 'trimmed-mean', trim: 0.1 });
    expect(() => parseJob(JSON.stringify({ ...minimal, verification: { aggregation: { rule: 'mode' } } }), 'test.json')).toThrow(/verification\.aggregation\.rule/);
  });

  it('parses the embedded default job', () => {
    const job = defaultJob();
    expect(job.model).toEqual({ widths: [784, 256, 128, 10], activation: 'relu' });
    expect(job.sync).toMatchObject({ mode: 'local-steps', innerSteps: 64, innerBatch: 32 });
    // A new key's first results are spot-checked: its leases are within the probation's size.
    expect(job.verification.spotChecks.probationMaxExamples).toBeGreaterThanOrEqual(leaseBounds(job).maxExamples);
    expect(job.compression).toMatchObject({ up: { scheme: 'int4' }, down: { scheme: 'int4' } });
    expect(job.lease.inFlight).toBe(2);
    expect(job.stop.targetAccuracy).toBeGreaterThanOrEqual(0.88);
    expect(plannedRounds(job)).toBeGreaterThan(0);
    expect(jobLayout(job).total).toBeGreaterThan(235_000);
  });

  it('parses the zoo CNN: a layer list on the 1×28×28 images', () => {
    const path = 'src/coordinator/jobs/fashion-mnist-cnn.json';
    const job = parseJob(readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8'), path);
    const model = jobResolved(job);
    expect(model.inputShape).toEqual([1, 28, 28]);
    expect(model.layers.filter((l) => l.kind === 'conv2d')).toHaveLength(2);
    expect(model.parameterCount).toBe(16 * 9 + 16 + 32 * 16 * 9 + 32 + 1568 * 128 + 128 + 128 * 10 + 10);
    expect(job.stop.targetAccuracy).toBeGreaterThanOrEqual(0.92);
  });

  it("parses the zoo GPTs: nanoGPT's baby GPT trained by local steps to 1.88, and its shakespeare_char model", () => {
    const read = (name: string) => parseJobDefinition(JSON.parse(readFileSync(new URL(`./jobs/${name}`, import.meta.url), 'utf8')), name);
    const baby = read('shakespeare-char-gpt.json');
    expect(baby.model).toEqual(gptSpec(BABY_GPT));
    expect(baby.data).toMatchObject({ kind: 'text', file: '../../../datasets/tinyshakespeare/input.txt' });
    expect(baby.sync).toMatchObject({ mode: 'local-steps', innerSteps: 4, innerBatch: 12 });
    expect(baby.stop.targetLoss).toBe(1.88);
    const large = read('shakespeare-char-gpt-large.json');
    expect(large.model).toEqual(gptSpec(SHAKESPEARE_CHAR_GPT));
    expect(large.data).toMatchObject({ kind: 'text', stride: 32 });
    expect(large.stop).toEqual({ rounds: 5000, targetLoss: 1.4697 });
    expect(jobResolved(large as never).parameterCount).toBe(10_770_816);
  });

  it.each([
    ['not JSON', '{"name": ', /test.json is not valid JSON/],
    ['a missing field', withField('name', undefined), /name: .*expected string/i],
    ['an unknown key (a typo)', withField('optimizer.learningRate', 0.1), /optimizer: .*learningRate/],
    ['a wrong input width', withField('model.widths', [100, 10]), /model\.widths\.0: fashion-mnist has 784 inputs/],
    ['a wrong output width', withField('model.widths', [784, 12]), /model\.widths\.1: fashion-mnist has 10 classes/],
    ['a fractional width', withField('model.widths', [784, 3.5, 10]), /model\.widths\.1/],
    ['an unknown dataset', withField('data.dataset', 'mnist'), /data\.dataset/],
    ['too many training examples', withField('data.trainExamples', 60001), /data\.trainExamples: fashion-mnist has 60000 training examples/],
    ['too many test examples', withField('data.testExamples', 10001), /data\.testExamples: .* 10000 test examples/],
    ['an unknown optimizer', withField('optimizer', { kind: 'lamb', lr: 1 }), /optimizer/],
    ['a negative learning rate', withField('optimizer.lr', -1), /optimizer\.lr/],
    ['beta1 of 1', withField('optimizer.beta1', 1), /optimizer\.beta1/],
    ['no stop rule', withField('stop', {}), /stop: name at least one of epochs, rounds, targetAccuracy or targetLoss/],
    ['a target accuracy above 1', withField('stop', { targetAccuracy: 1.5 }), /stop\.targetAccuracy/],
    ['a decay without a horizon', withField('stop', { targetAccuracy: 0.9 }) && { ...minimal, stop: { targetAccuracy: 0.9 }, optimizer: { kind: 'adamw', lr: 0.001, schedule: { decay: 'cosine' } } }, /optimizer\.schedule\.decay: a cosine decay needs a planned length/],
    ['min lease above max lease', withField('lease', { minExamples: 100, maxExamples: 50 }), /lease\.minExamples: must not exceed lease\.maxExamples \(50\)/],
    ['a lease larger than the protocol allows', withField('lease', { maxExamples: 65537 }), /lease\.maxExamples/],
    ['a timeout shorter than twice the target time', withField('lease', { targetSeconds: 5, timeoutMs: 5000 }), /lease\.timeoutMs: must be at least twice/],
    ['a zero global batch', withField('globalBatch', 0), /globalBatch/],
    ['a fractional seed', withField('seed', 1.5), /seed/],
    ['evaluateEvery of 0', withField('evaluateEvery', 0), /evaluateEvery/],
    ['an unknown aggregation', withField('aggregation', 'median'), /aggregation/],
  ])('rejects %s with the path and what is wrong', (_what, json, pattern) => {
    const message = errorOf(json);
    expect(message).toMatch(/^test.json is not/);
    expect(message).toMatch(pattern);
  });

  const cnn = {
    input: [1, 28, 28],
    layers: [
      { kind: 'conv2d', outChannels: 4, kernel: 3, padding: 1 },
      { kind: 'relu' },
      { kind: 'maxpool2d', kernel: 2 },
      { kind: 'flatten' },
      { kind: 'linear', outFeatures: 10 },
      { kind: 'softmax-cross-entropy' },
    ],
  };

  it('takes a model as a list of layers, resolved with its layout and shapes', () => {
    const job = parseJob({ ...minimal, model: cnn }, 'test.json');
    const model = jobResolved(job);
    expect(model.inputShape).toEqual([1, 28, 28]);
    expect(model.layers.map((l) => l.outShape)).toEqual([[4, 28, 28], [4, 28, 28], [4, 14, 14], [784], [10], [1]]);
    expect(model.parameterCount).toBe(4 * 9 + 4 + 784 * 10 + 10);
    expect(() => jobLayout(job)).toThrow(/not an MLP/);
    // A flat input of the same size is as good as the image shape.
    expect(() => parseJob({ ...minimal, model: { ...cnn, input: [784], layers: cnn.layers.slice(3) } }, 'test.json')).not.toThrow();
  });

  it.each([
    ['an input that is not the dataset', { ...cnn, input: [3, 28, 28] }, /model\.input: fashion-mnist examples are \[784\] or \[1,28,28\]; the model's input is \[3,28,28\]/],
    ['logits for another number of classes', { ...cnn, layers: [...cnn.layers.slice(0, 4), { kind: 'linear', outFeatures: 7 }, cnn.layers[5]] }, /model\.layers: fashion-mnist has 10 classes; the model's last layer gives 7 logits/],
    ['a kernel that does not fit', { ...cnn, layers: [{ kind: 'conv2d', outChannels: 4, kernel: 40 }, ...cnn.layers.slice(1)] }, /model\.layers\.0/],
    ['an unknown layer kind', { ...cnn, layers: [{ kind: 'conv3d' }, ...cnn.layers.slice(1)] }, /model\.layers\.0\.kind/],
    ['a typo in a layer', { ...cnn, layers: [{ kind: 'conv2d', outChannels: 4, kernal: 3 }, ...cnn.layers.slice(1)] }, /model\.layers\.0/],
    ['no loss at the end', { ...cnn, layers: cnn.layers.slice(0, 5) }, /model\.layers\.4\.kind: the last layer must be the loss/],
    ['a next-token model on images',
      { input: [784], layers: [{ kind: 'embedding', vocabulary: 256, features: 8 }, { kind: 'attention', heads: 2 }, { kind: 'lm-head' }, { kind: 'softmax-cross-entropy' }] },
      /data: a next-token model \(an embedding first\) trains on text: give data as \{ "kind": "text", "file": … \}/],
  ])('rejects a layer model with %s, naming the field', (_what, model, pattern) => {
    const message = errorOf({ ...minimal, model });
    expect(message).toMatch(/^test.json is not a valid job/);
    expect(message).toMatch(pattern);
  });

  it('lists every problem at once', () => {
    const message = errorOf({ ...minimal, globalBatch: -1, seed: 'x' });
    expect(message).toMatch(/globalBatch/);
    expect(message).toMatch(/seed/);
  });
});

describe('jobId', () => {
  it('is stable across key order and formatting', () => {
    const reverseKeys = (v: unknown): unknown =>
      v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverseKeys(x)])) : v;
    const reordered = JSON.parse(JSON.stringify(reverseKeys(minimal), null, 2));
    expect(Object.keys(reordered)[0]).toBe('seed');
    expect(jobId(parseJob(reordered, 'a'))).toBe(jobId(parseJob(minimal, 'b')));
    expect(jobId(parseJob(minimal, 'a'))).toMatch(/^job-[0-9a-f]{16}$/);
  });

  it('changes with what is trained, not with the name, lease sizing or checkpoint interval', () => {
    const base = jobId(parseJob(minimal, 'a'));
    expect(jobId(parseJob(withField('seed', 2), 'a'))).not.toBe(base);
    expect(jobId(parseJob(withField('optimizer.lr', 0.002), 'a'))).not.toBe(base);
    expect(jobId(parseJob(withField('globalBatch', 50), 'a'))).not.toBe(base);
    expect(jobId(parseJob(withField('name', 'renamed'), 'a'))).toBe(base);
    expect(jobId(parseJob(withField('lease', { maxExamples: 64 }), 'a'))).toBe(base);
    expect(jobId(parseJob(withField('checkpointEvery', 1), 'a'))).toBe(base);
  });
});

describe('rounds and learning-rate schedule', () => {
  it('plans rounds from epochs and rounds, whichever is fewer', () => {
    const job = parseJob(minimal, 'a');
    expect(roundsPerEpoch(job)).toBe(10);
    expect(plannedRounds(job)).toBe(20);
    expect(plannedRounds(parseJob(withField('stop', { epochs: 2, rounds: 7 }), 'a'))).toBe(7);
    expect(plannedRounds(parseJob(withField('stop', { epochs: 1.25 }), 'a'))).toBe(13);
    expect(plannedRounds(parseJob(withField('stop', { targetAccuracy: 0.5 }), 'a'))).toBeNull();
    expect(roundsPerEpoch(parseJob(withField('globalBatch', 300), 'a'))).toBe(4);
  });

  it('warms up linearly, then decays to the floor at the last planned step', () => {
    const job = parseJob({ ...minimal, optimizer: { kind: 'adamw', lr: 1, schedule: { warmupSteps: 4, decay: 'cosine', finalLrFraction: 0.1 } } }, 'a');
    const o = job.optimizer;
    expect(learningRateAt(o, 1, 20)).toBeCloseTo(0.25);
    expect(learningRateAt(o, 4, 20)).toBeCloseTo(1);
    expect(learningRateAt(o, 12, 20)).toBeCloseTo(0.1 + 0.9 * 0.5);
    expect(learningRateAt(o, 20, 20)).toBeCloseTo(0.1);
    expect(learningRateAt(o, 30, 20)).toBeCloseTo(0.1);
    const linear = { ...o, schedule: { ...o.schedule, decay: 'linear' as const, finalLrFraction: 0 } };
    expect(learningRateAt(linear, 12, 20)).toBeCloseTo(0.5);
    const constant = { ...o, schedule: { ...o.schedule, decay: 'constant' as const } };
    expect(learningRateAt(constant, 100, null)).toBe(1);
    expect(() => learningRateAt(o, 0, 20)).toThrow(/1-based/);
    expect(() => learningRateAt(o, 10, null)).toThrow(/needs the planned number of steps/);
  });
});

describe('sync', () => {
  const localSteps = { mode: 'local-steps', innerSteps: 3, innerOptimizer: { kind: 'adamw', lr: 0.001 } };

  it('is every-step when the section is absent, as jobs were before it existed', () => {
    expect(parseJob(minimal, 'a').sync).toEqual({ mode: 'every-step' });
    expect(parseJob({ ...minimal, sync: { mode: 'every-step' } }, 'a').sync).toEqual({ mode: 'every-step' });
  });

  it('takes local steps and fills the inner AdamW and DiLoCo outer defaults', () => {
    const job = parseJob({ ...minimal, sync: localSteps }, 'a');
    expect(job.sync).toEqual({
      mode: 'local-steps',
      innerSteps: 3,
      innerBatch: 32,
      innerOptimizer: {
        kind: 'adamw', lr: 0.001, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-4, maxGradNorm: 0,
        schedule: { warmupSteps: 0, decay: 'constant', finalLrFraction: 0 },
      },
      outer: { lr: 0.7, momentum: 0.9, nesterov: true },
    });
    const sgd = parseJob({ ...minimal, sync: { ...localSteps, innerOptimizer: { kind: 'sgd', lr: 0.05, schedule: { decay: 'cosine' } } } }, 'a');
    expect(sgd.sync).toMatchObject({ innerOptimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 0, schedule: { decay: 'cosine' } } });
    const custom = parseJob({ ...minimal, sync: { ...localSteps, innerBatch: 8, outer: { lr: 0.5, momentum: 0 } } }, 'a');
    expect(custom.sync).toMatchObject({ innerBatch: 8, outer: { lr: 0.5, momentum: 0, nesterov: true } });
  });

  it("runs the job's own optimizer inside a lease unless innerOptimizer is given, at the learning rate of the lease's round", () => {
    const job = parseJob({ ...minimal, optimizer: { kind: 'sgd', lr: 0.05, schedule: { decay: 'cosine' } }, sync: { ...localSteps, innerOptimizer: undefined } }, 'a');
    // 1000 examples in rounds of 100 for 2 epochs: 20 rounds; round r uses step r + 1 of a cosine over 21, so the last still trains.
    expect(innerHyper(job, 0)).toEqual({ kind: 'sgd', lr: 0.05 * 0.5 * (1 + Math.cos(Math.PI / 21)), momentum: 0.9, weightDecay: 0, maxGradNorm: 0 });
    expect(innerHyper(job, 19).lr).toBeCloseTo(0.05 * 0.5 * (1 + Math.cos((20 * Math.PI) / 21)), 12);
    expect(innerHyper(job, 19).lr).toBeGreaterThan(0);
    const adam = parseJob({ ...minimal, sync: localSteps }, 'a');
    expect(innerHyper(adam, 7)).toEqual({ kind: 'adamw', lr: 0.001, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-4, maxGradNorm: 0 });
    expect(() => innerHyper(parseJob(minimal, 'a'), 0)).toThrow(/does not run local steps/);
  });

  it.each([
    ['an unknown mode', { mode: 'sometimes' }, /sync\.mode: .*'every-step' \| 'local-steps'/],
    ['local-step fields on every-step', { mode: 'every-step', innerSteps: 4 }, /sync: Unrecognized key: "innerSteps"/],
    ['no inner steps', { ...localSteps, innerSteps: undefined }, /sync\.innerSteps/],
    ['0 inner steps', { ...localSteps, innerSteps: 0 }, /sync\.innerSteps: Too small/],
    ['1025 inner steps', { ...localSteps, innerSteps: 1025 }, /sync\.innerSteps: Too big/],
    ['fractional inner steps', { ...localSteps, innerSteps: 2.5 }, /sync\.innerSteps/],
    ['an inner batch of 0', { ...localSteps, innerBatch: 0 }, /sync\.innerBatch: Too small/],
    ['more examples per lease than the protocol allows', { ...localSteps, innerSteps: 1024, innerBatch: 128 }, /sync\.innerBatch: innerSteps × innerBatch = 131072 examples per lease; a lease names at most 65536/],
    ['an inner batch larger than a micro-batch', { ...localSteps, innerSteps: 1, innerBatch: 9000 }, /sync\.innerBatch: must be at most 8192/],
    ['a round smaller than one lease', { ...localSteps, innerSteps: 4 }, /globalBatch: is 100, less than one local-steps lease \(innerSteps × innerBatch = 128\)/],
    ['an unknown inner optimizer', { ...localSteps, innerOptimizer: { kind: 'lion', lr: 0.1 } }, /sync\.innerOptimizer\.kind/],
    ['no inner learning rate', { ...localSteps, innerOptimizer: { kind: 'adamw' } }, /sync\.innerOptimizer\.lr/],
    ['an inner beta2 of 1', { ...localSteps, innerOptimizer: { kind: 'adamw', lr: 0.001, beta2: 1 } }, /sync\.innerOptimizer\.beta2/],
    ['a typo in the inner schedule', { ...localSteps, innerOptimizer: { kind: 'adamw', lr: 0.001, schedule: { decay: 'cosin' } } }, /sync\.innerOptimizer\.schedule\.decay/],
    ['an outer learning rate of 0', { ...localSteps, outer: { lr: 0 } }, /sync\.outer\.lr: Too small/],
    ['an outer momentum of 1', { ...localSteps, outer: { momentum: 1 } }, /sync\.outer\.momentum: Too big/],
    ['plain outer momentum', { ...localSteps, outer: { nesterov: false } }, /sync\.outer\.nesterov: only Nesterov momentum is implemented/],
    ['a typo in outer', { ...localSteps, outer: { learningRate: 0.7 } }, /sync\.outer: Unrecognized key: "learningRate"/],
  ])('rejects %s, naming the field', (_what, sync, pattern) => {
    const message = errorOf({ ...minimal, sync });
    expect(message).toMatch(/^test.json is not a valid job/);
    expect(message).toMatch(pattern);
  });

  it('leaves the id of every existing job as it was, and gives local steps ids of their own', () => {
    // Ids from before the section existed (commit 4ae36cf): their checkpoints must still load.
    const before: Record<string, string> = {
      // The default job before local steps (its name changed, which the id leaves out).
      'src/coordinator/jobs/fashion-mnist-mlp-every-step.json': 'job-01b0ecff22562e20',
      'e2e/jobs/adversarial.json': 'job-8bf4637f9d0619db',
      'e2e/jobs/network.json': 'job-983a87c747295a18',
      'e2e/jobs/small.json': 'job-dd666b87930a16e9',
      'e2e/jobs/widget.json': 'job-150449027ea6b2e2',
    };
    for (const [path, id] of Object.entries(before)) {
      const job = parseJob(readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8'), path);
      expect(job.sync, path).toEqual({ mode: 'every-step' });
      expect(jobId(job), path).toBe(id);
    }
    const base = jobId(parseJob(minimal, 'a'));
    expect(jobId(parseJob({ ...minimal, sync: { mode: 'every-step' } }, 'a'))).toBe(base);
    const local = jobId(parseJob({ ...minimal, sync: localSteps }, 'a'));
    expect(local).not.toBe(base);
    expect(jobId(parseJob({ ...minimal, sync: { ...localSteps, innerSteps: 2 } }, 'a'))).not.toBe(local);
    expect(jobId(parseJob({ ...minimal, sync: { ...localSteps, outer: { lr: 0.5 } } }, 'a'))).not.toBe(local);
  });
});

describe('file data in the job', () => {
  const files = { kind: 'npy', train: { inputs: 'x.npy', labels: 'y.npy' }, test: { inputs: 'tx.npy', labels: 'ty.npy' } } as const;

  it('parses the fashion-mnist form in two steps exactly as parseJob does', () => {
    const definition = parseJobDefinition(minimal, 'a');
    expect(installedDataJob(definition, 'a')).toEqual(parseJob(minimal, 'a'));
    expect(datasetFormatOf(parseJob(minimal, 'a'))).toBe('fashion-mnist-idx-gz');
  });

  it('sizes a file dataset by its files: all by default, at most what they hold, with the digest in the id', () => {
    const definition = parseJobDefinition({ ...minimal, data: files }, 'own.json');
    expect(() => installedDataJob(definition, 'own.json')).toThrow(/own\.json: data\.kind "npy" names files/);
    const job = withFileDataSizes(definition, { train: 1200, test: 300, digest: '0123456789abcdef' }, 'own.json');
    expect(job.data).toEqual({ ...files, trainExamples: 1200, testExamples: 300, digest: '0123456789abcdef' });
    expect(datasetFormatOf(job)).toBe('swarmgrad-u8');
    expect(roundsPerEpoch(job)).toBe(12);
    const other = withFileDataSizes(definition, { train: 1200, test: 300, digest: 'fedcba9876543210' }, 'own.json');
    expect(jobId(other)).not.toBe(jobId(job));
    const asked = parseJobDefinition({ ...minimal, data: { ...files, trainExamples: 1000, testExamples: 500 } }, 'own.json');
    expect(() => withFileDataSizes(asked, { train: 999, test: 300, digest: '0123456789abcdef' }, 'own.json')).toThrow(
      /data\.trainExamples: x\.npy holds 999 training examples, asked for 1000[^]*data\.testExamples: tx\.npy holds 300 test examples, asked for 500/,
    );
  });

  it('checks the rest of a file-data job as any other (the model only against the files, later)', () => {
    expect(() => parseJobDefinition({ ...minimal, model: { widths: [5, 3], activation: 'relu' }, data: files }, 'own.json')).not.toThrow();
    expect(() => parseJobDefinition({ ...minimal, data: files, globalBatch: 0 }, 'own.json')).toThrow(/globalBatch/);
    expect(() => parseJobDefinition({ ...minimal, data: { ...files, kind: 'idx' } }, 'own.json')).toThrow(/data\.train\.images/);
  });
});
