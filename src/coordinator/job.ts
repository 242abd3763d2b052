// A training job: the JSON file that says what to train and how (model, data, optimizer,
// batch, lease sizing, when to stop). Validated once at the boundary with zod; the rest of
// the coordinator works on the parsed, defaults-filled Job and never re-checks it.

import { createHash } from 'node:crypto';
import { z } from 'zod';
import { mlpLayout, type ParamLayout } from '../model/mlp.ts';
import { isMlpShorthand, modelSpecSchema, resolveModel, type ModelSpec, type ResolvedModel } from '../model/layers/spec.ts';
import { DEFAULT_BLOCK_SIZE, MAX_BLOCK_SIZE, MIN_BLOCK_SIZE, SCHEMES } from '../compression/index.ts';
import { MAX_LEASE_EXAMPLES } from '../protocol/messages.ts';
import type { OptimizerHyper } from '../kernels/optimizer.ts';
import { MAX_MICRO_BATCH } from '../worker/api.ts';
import type { DatasetFormat } from '../data/dataset.ts';
import defaultJobJson from './jobs/fashion-mnist-mlp.json' with { type: 'json' };

/** Examples per split of each dataset a job may name; trainExamples/testExamples default to all. */
export const DATASETS = {
  'fashion-mnist': { train: 60000, test: 10000, features: 784, classes: 10, shapes: [[784], [1, 28, 28]] },
} as const;

/** The protocol's limits: a lease names at most MAX_LEASE_EXAMPLES examples and runs at most an hour. */
const MAX_LEASE_MS = 3_600_000;

const int = (min: number, max = 2 ** 31 - 1) => z.number().int().min(min).max(max);
const positive = z.number().finite().positive();

const Schedule = z.strictObject({
  /** Steps of linear warm-up from 0 to the peak learning rate. */
  warmupSteps: int(0).default(0),
  /** After warm-up: keep the peak, or decay it to finalLrFraction·lr at the last planned step. */
  decay: z.enum(['constant', 'cosine', 'linear']).default('constant'),
  finalLrFraction: z.number().min(0).max(1).default(0),
});

/** How results are checked before they count, and how a round's gradients are combined. */
const Verification = z.strictObject({
  aggregation: z
    .strictObject({
      rule: z.enum(['mean', 'trimmed-mean', 'median', 'centered-clipping']).default('mean'),
      trim: z.number().min(0).lt(0.5).default(0.25),
      clipRadius: positive.default(1),
      clipIterations: int(1, 20).default(3),
    })
    .prefault({}),
  screening: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** A gradient whose norm is outside [expected / normFactor, expected · normFactor] for its lease size is rejected. */
      normFactor: z.number().gt(1).default(8),
      /** Rejected when its cosine with the rest of the round (leave-one-out mean) is below cosineFraction × the cosine expected at its lease size. */
      cosineFraction: z.number().min(0).max(1).default(0.2),
      /** Accepted results seen before the norm and direction checks start (before that only zeros are refused). */
      warmupResults: int(1).default(8),
      /** Norm flags that ban a key (each one is already a rejected, uncounted result). */
      banAfterFlags: int(1).default(2),
    })
    .prefault({}),
  /**
   * Replication: this fraction of a round's results, drawn at random once the round is
   * complete, is recomputed by another contributor (another key) before the round closes. The
   * recomputation counts if it agrees; a disagreement goes to a third, and whoever the two
   * agreeing keys contradict is banned (quorum).
   */
  replication: z.strictObject({ fraction: z.number().min(0).max(1).default(0.1) }).prefault({}),
  /** Recomputing results with the CPU reference (needs the host's spot checker; see CoordinatorOptions.spotChecker). */
  spotChecks: z
    .strictObject({
      /** Fraction of results recomputed at random (besides every result the direction check finds suspect). */
      fraction: z.number().min(0).max(1).default(0.05),
      /** Random spot checks only for leases up to this size (the check blocks the coordinator: ~0.5 ms per example here). */
      maxExamples: int(1).default(256),
      /** Reputation: a key's first this-many results are all spot-checked (each passed check or replica agreement counts), up to probationMaxExamples each. */
      probationResults: int(0).default(3),
      probationMaxExamples: int(1).default(2048),
      /** A result whose relative L2 distance ‖g − ref‖ / ‖ref‖ to the recomputation exceeds this is a proven cheat. */
      tolerance: z.number().positive().default(1e-3),
    })
    .prefault({}),
});

const AdamW = z.strictObject({
  kind: z.literal('adamw'),
  lr: positive.max(1),
  beta1: z.number().min(0).lt(1).default(0.9),
  beta2: z.number().min(0).lt(1).default(0.999),
  eps: positive.default(1e-8),
  weightDecay: z.number().min(0).max(1).default(1e-4),
  /** Clip the global gradient norm to this; 0 turns clipping off. */
  maxGradNorm: z.number().min(0).default(0),
  schedule: Schedule.default({ warmupSteps: 0, decay: 'constant', finalLrFraction: 0 }),
});

const Sgd = z.strictObject({
  kind: z.literal('sgd'),
  lr: positive.max(10),
  momentum: z.number().min(0).max(1).default(0.9),
  weightDecay: z.number().min(0).max(1).default(0),
  maxGradNorm: z.number().min(0).default(0),
  schedule: Schedule.default({ warmupSteps: 0, decay: 'constant', finalLrFraction: 0 }),
});

/**
 * A local-steps lease's inner optimizer: AdamW or SGD with momentum, its state fresh in every
 * lease (so a replica can recompute it). Its schedule runs over rounds (outer steps): every
 * inner step of a lease of round r uses the learning rate of step r + 1.
 */
const InnerOptimizer = z.discriminatedUnion('kind', [AdamW, Sgd]);

/**
 * How often contributors synchronise. every-step: a lease returns a gradient and every round is
 * one optimizer step (what jobs did before this section). local-steps (DiLoCo): a lease runs
 * innerSteps AdamW steps of innerBatch examples from version v and returns Δ = θ_v − θ_after;
 * a round's combined Δ takes one outer Nesterov step (outerOptimizer.ts).
 */
const Sync = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('every-step') }),
  z.strictObject({
    mode: z.literal('local-steps'),
    innerSteps: int(1, 1024),
    innerBatch: int(1, MAX_LEASE_EXAMPLES).default(32),
    /** Left out: the job's own `optimizer` runs inside each lease. */
    innerOptimizer: InnerOptimizer.optional(),
    outer: z
      .strictObject({
        lr: positive.max(10).default(0.7),
        momentum: z.number().min(0).lt(1).default(0.9),
        /** Only Nesterov is implemented; writing it lets a job file say which momentum it means. */
        nesterov: z.literal(true, { error: 'only Nesterov momentum is implemented for the outer step; set true or leave it out' }).default(true),
      })
      .prefault({}),
  }),
]);

/** How one direction's vectors travel (src/compression): f32 as they are, or block-quantised with a scale per blockSize values. */
const Encoding = z
  .strictObject({
    scheme: z.enum(SCHEMES),
    blockSize: int(MIN_BLOCK_SIZE, MAX_BLOCK_SIZE).default(DEFAULT_BLOCK_SIZE),
  })
  .prefault({ scheme: 'f32' });

/**
 * up: the results (gradients, or local steps' Δ), encoded by the contributor, decoded by the
 * coordinator. down: parameters as deltas against the version a contributor holds (full
 * parameters on join, or when it is more than keepVersions behind).
 */
const Compression = z.strictObject({
  up: Encoding,
  down: Encoding,
  keepVersions: int(1, 64).default(8),
});

/** Examples per split as the job asks: the first this-many (default: all). */
const exampleCounts = {
  /** Train on the first this-many training examples (default: all). */
  trainExamples: int(1).optional(),
  /** Evaluate on the first this-many test examples (default: all). */
  testExamples: int(1).optional(),
};

const FashionMnistData = z.strictObject({ dataset: z.enum(['fashion-mnist']), ...exampleCounts });

/** A file the job owner brings: relative paths are to the job file's directory (loadJobDataset resolves them). */
const dataFile = z.string().min(1).max(1000);

/**
 * The job owner's own data, read from files when the job is loaded (src/data/jobDataset.ts):
 * NumPy .npy arrays (inputs [N, ...], labels [N]) or IDX files (images [N, rows, cols],
 * labels [N]; gzipped or raw). Their shapes and classes are only known once the files are
 * read, so they are checked against the model there, not here.
 */
const FileData = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('npy'),
    train: z.strictObject({ inputs: dataFile, labels: dataFile }),
    test: z.strictObject({ inputs: dataFile, labels: dataFile }),
    ...exampleCounts,
  }),
  z.strictObject({
    kind: z.literal('idx'),
    train: z.strictObject({ images: dataFile, labels: dataFile }),
    test: z.strictObject({ images: dataFile, labels: dataFile }),
    ...exampleCounts,
  }),
  // A UTF-8 text for a next-token model (src/data/text.ts): its characters are the vocabulary,
  // the first trainFraction of it trains and the rest validates; an example is a window of the
  // model's context, the examples counts below are windows.
  z.strictObject({
    kind: z.literal('text'),
    file: dataFile,
    trainFraction: z.number().gt(0).lt(1).default(0.9),
    /**
     * Tokens between the starts of consecutive windows (default: the model's context, so windows
     * tile the text). A smaller stride gives more windows, overlapping, at more alignments (nanoGPT
     * draws random offsets); every window is still trained exactly once per epoch.
     */
    stride: int(1).optional(),
    ...exampleCounts,
  }),
]);

/** A text sample as nanoGPT's sample.py draws one: from a newline, at temperature 0.8; a few hundred characters. */
const SAMPLE_DEFAULTS = { prompt: '\n', length: 300, temperature: 0.8 } as const;

const JobFields = z
  .strictObject({
    name: z.string().min(1).max(200),
    /** A list of layers ({ input, layers }, src/model/layers/spec.ts), or the MLP shorthand { widths, activation }. */
    model: modelSpecSchema,
    /** A dataset installed on the machine ({ dataset }), or the job owner's own files ({ kind: 'npy' | 'idx', … }, see JobFileDataSchema). */
    data: FashionMnistData,
    optimizer: z.discriminatedUnion('kind', [AdamW, Sgd]),
    /** How a round's gradients become one: the example-weighted mean (robust rules come later). */
    aggregation: z.enum(['mean']).default('mean'),
    /** Screening, bans and the robust aggregation rule (verification.ts); all fields have defaults. */
    verification: Verification.prefault({}),
    /** every-step (the default) or DiLoCo-style local steps with an outer optimizer. */
    sync: Sync.default({ mode: 'every-step' }),
    /** Quantised results up and parameter deltas down; f32 both ways by default. */
    compression: Compression.prefault({}),
    /** Examples per optimizer step; the last round of an epoch takes what is left. */
    globalBatch: int(1, 1 << 20),
    lease: z
      .strictObject({
        minExamples: int(1, MAX_LEASE_EXAMPLES).default(16),
        maxExamples: int(1, MAX_LEASE_EXAMPLES).default(1024),
        /** Size each lease to take this long at the contributor's measured speed. */
        targetSeconds: positive.max(600).default(1),
        /** A lease not answered within this is given to someone else. */
        timeoutMs: int(100, MAX_LEASE_MS).default(15_000),
        /**
         * Leases a contributor may hold at once within a round. 2 pipelines them: the next lease
         * is computed while the last result is still uploading (a slow uplink's time is hidden
         * behind compute). Leases are granted one per contributor per pass, so nobody waits while
         * another holds two.
         */
        inFlight: int(1, 8).default(1),
      })
      .default({ minExamples: 16, maxExamples: 1024, targetSeconds: 1, timeoutMs: 15_000, inFlight: 1 }),
    stop: z
      .strictObject({
        epochs: positive.optional(),
        rounds: int(1).optional(),
        /** Stop as soon as an evaluation reaches this test accuracy. */
        targetAccuracy: z.number().gt(0).max(1).optional(),
        /** Stop as soon as an evaluation's mean loss is at most this (a next-token model's validation loss). */
        targetLoss: z.number().gt(0).optional(),
      })
      .refine((s) => s.epochs !== undefined || s.rounds !== undefined || s.targetAccuracy !== undefined || s.targetLoss !== undefined, {
        message: 'name at least one of epochs, rounds, targetAccuracy or targetLoss, or the job never ends',
      }),
    /** Evaluate on the test set every this many rounds (and at the end). */
    evaluateEvery: int(1),
    /**
     * A next-token model's text sample after every evaluation (sampleSettings): from `prompt`,
     * `length` characters at `temperature`, drawn by the coordinator's CPU model with the job's seed.
     */
    sample: z
      .strictObject({
        prompt: z.string().min(1).max(1000).default(SAMPLE_DEFAULTS.prompt),
        length: int(1, 2000).default(SAMPLE_DEFAULTS.length),
        temperature: z.number().min(0).max(10).default(SAMPLE_DEFAULTS.temperature),
      })
      .optional(),
    /** Ask the host for a checkpoint every this many rounds. */
    checkpointEvery: int(1),
    seed: int(0),
  });

function refineJob(job: z.output<typeof JobFields> | z.output<typeof FileDataJobFields>, ctx: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  // A next-token model reads token windows, and a text gives nothing else.
  const textData = 'kind' in job.data && job.data.kind === 'text';
  const tokens = resolveModel(job.model).tokens !== null;
  if (tokens !== textData) {
    issue(tokens ? ['data'] : ['model', 'layers', 0], tokens
      ? 'a next-token model (an embedding first) trains on text: give data as { "kind": "text", "file": … }'
      : 'a text dataset trains a next-token model: start the model with {"kind":"embedding", …} and end it with {"kind":"lm-head"} and the loss');
    return;
  }
  if (job.sample && !tokens) issue(['sample'], 'text samples come from a next-token model on a text; leave sample out of this job');
  if ('dataset' in job.data) {
    const ds = DATASETS[job.data.dataset];
    if (job.data.trainExamples !== undefined && job.data.trainExamples > ds.train) {
      issue(['data', 'trainExamples'], `${job.data.dataset} has ${ds.train} training examples, asked for ${job.data.trainExamples}`);
    }
    if (job.data.testExamples !== undefined && job.data.testExamples > ds.test) {
      issue(['data', 'testExamples'], `${job.data.dataset} has ${ds.test} test examples, asked for ${job.data.testExamples}`);
    }
    checkModelAgainstData(job.model, job.data.dataset, issue);
  }
  if (job.lease.minExamples > job.lease.maxExamples) {
    issue(['lease', 'minExamples'], `must not exceed lease.maxExamples (${job.lease.maxExamples})`);
  }
  if (job.lease.timeoutMs < 2 * job.lease.targetSeconds * 1000) {
    issue(['lease', 'timeoutMs'], `must be at least twice lease.targetSeconds (${job.lease.targetSeconds} s), or every lease of a contributor on target expires`);
  }
  if (job.sync.mode === 'local-steps') {
    const perLease = job.sync.innerSteps * job.sync.innerBatch;
    if (perLease > MAX_LEASE_EXAMPLES) issue(['sync', 'innerBatch'], `innerSteps × innerBatch = ${perLease} examples per lease; a lease names at most ${MAX_LEASE_EXAMPLES}`);
    if (job.sync.innerBatch > MAX_MICRO_BATCH) issue(['sync', 'innerBatch'], `must be at most ${MAX_MICRO_BATCH}: one inner step is one micro-batch on the device`);
    if (job.globalBatch < perLease) {
      issue(['globalBatch'], `is ${job.globalBatch}, less than one local-steps lease (innerSteps × innerBatch = ${perLease}); a round of local steps is one or more whole leases`);
    }
  }
  const inner = job.sync.mode === 'local-steps' ? job.sync.innerOptimizer : undefined;
  if (inner && inner.schedule.decay !== 'constant' && job.stop.epochs === undefined && job.stop.rounds === undefined) {
    issue(['sync', 'innerOptimizer', 'schedule', 'decay'], `a ${inner.schedule.decay} decay needs a planned length: set stop.epochs or stop.rounds`);
  }
  const needsHorizon = job.optimizer.schedule.decay !== 'constant';
  if (needsHorizon && job.stop.epochs === undefined && job.stop.rounds === undefined) {
    issue(['optimizer', 'schedule', 'decay'], `a ${job.optimizer.schedule.decay} decay needs a planned length: set stop.epochs or stop.rounds`);
  }
}

const FileDataJobFields = JobFields.extend({ data: FileData });
const JobSchema = JobFields.superRefine(refineJob);
const FileDataJobSchema = FileDataJobFields.superRefine(refineJob);

/** What the job file may say (optional fields and defaults included). */
export type JobInput = z.input<typeof JobSchema> | z.input<typeof FileDataJobSchema>;

/** A job as the file says it, validated and defaults filled; a file dataset's sizes are not known yet (loadJobDataset reads them). */
export type JobDefinition = z.output<typeof JobSchema> | z.output<typeof FileDataJobSchema>;
/** The job owner's files, as the job names them. */
export type JobFileData = z.output<typeof FileData>;

/**
 * A parsed job: every default filled in, data sizes resolved. A file dataset also carries
 * the digest of its contents (loadJobDataset), so that its jobId changes with the data.
 */
export type Job = JobDefinition & { data: { trainExamples: number; testExamples: number; digest?: string } };
export type JobOptimizer = Job['optimizer'];
export type JobSchedule = JobOptimizer['schedule'];
export type JobSync = Job['sync'];
export type LocalStepsSync = Extract<JobSync, { mode: 'local-steps' }>;
export type JobCompression = Job['compression'];

/** Lease sizes as the scheduler sees them: a local-steps lease is innerSteps inner batches (the round's last may be shorter). */
export function leaseBounds(job: Job): Job['lease'] {
  if (job.sync.mode !== 'local-steps') return job.lease;
  const size = job.sync.innerSteps * job.sync.innerBatch;
  return { ...job.lease, minExamples: size, maxExamples: size };
}

/** The optimizer a local-steps lease runs: sync.innerOptimizer, or the job's own optimizer when that is left out. */
export function innerOptimizerOf(sync: LocalStepsSync, job: Pick<Job, 'optimizer'>): JobOptimizer {
  return sync.innerOptimizer ?? job.optimizer;
}

/**
 * The inner optimizer of a local-steps lease of round `round` (0-based), at the learning rate its
 * schedule gives step round + 1 of planned rounds + 1: a decay to 0 ends just after the last round,
 * so that every round's leases still train (a lease at rate 0 would send Δ = 0).
 */
export function innerHyper(job: Job, round: number): OptimizerHyper {
  if (job.sync.mode !== 'local-steps') throw new Error('innerHyper: the job does not run local steps');
  const o = innerOptimizerOf(job.sync, job);
  const planned = plannedRounds(job);
  const lr = learningRateAt(o, round + 1, planned === null ? null : planned + 1);
  return o.kind === 'adamw'
    ? { kind: 'adamw', lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay, maxGradNorm: o.maxGradNorm }
    : { kind: 'sgd', lr, momentum: o.momentum, weightDecay: o.weightDecay, maxGradNorm: o.maxGradNorm };
}

/** Which optimizer state a job's checkpoints hold: the job's optimizer, or under local steps the outer one. */
export function checkpointOptimizer(job: Job): 'adamw' | 'sgd' | 'outer-nesterov' {
  return job.sync.mode === 'local-steps' ? 'outer-nesterov' : job.optimizer.kind;
}

export class JobError extends Error {
  override name = 'JobError';
}

/**
 * Parse and validate a job from JSON text or an already-parsed value. `source` (a path, or
 * "the embedded default job") names it in errors; every problem is listed with its path.
 * A job whose data names files is refused here: loadJobDataset reads them and gives the Job.
 */
export function parseJob(json: unknown, source: string): Job {
  return installedDataJob(parseJobDefinition(json, source), source);
}

/** A job on an installed dataset (DATASETS) with its sizes; one whose data names files is refused (loadJobDataset reads those). */
export function installedDataJob(job: JobDefinition, source: string): Job {
  if (!('dataset' in job.data)) {
    throw new JobError(`${source}: data.kind "${job.data.kind}" names files, whose sizes are known only once they are read: load the job with loadJobDataset (src/data/jobDataset.ts), as npm start does`);
  }
  const ds = DATASETS[job.data.dataset];
  return { ...job, data: { ...job.data, trainExamples: job.data.trainExamples ?? ds.train, testExamples: job.data.testExamples ?? ds.test } };
}

/** How contributors fetch the job's data (JobInfo.dataset): Fashion-MNIST's own files, or the coordinator's u8 form of the job owner's. */
export function datasetFormatOf(job: Pick<Job, 'data'>): DatasetFormat {
  return 'dataset' in job.data ? 'fashion-mnist-idx-gz' : 'swarmgrad-u8';
}

/**
 * Validates a job (JSON text or a parsed value) without reading any file: every field's form,
 * and for an installed dataset its sizes and the model's shapes. A file dataset is checked
 * against the model by loadJobDataset, which then gives the Job (withFileDataSizes).
 */
export function parseJobDefinition(json: unknown, source: string): JobDefinition {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (error) {
      throw new JobError(`${source} is not valid JSON: ${(error as Error).message}`);
    }
  }
  const data = (value as { data?: unknown } | null)?.data;
  const namesFiles = typeof data === 'object' && data !== null && 'kind' in data;
  const parsed = (namesFiles ? FileDataJobSchema : JobSchema).safeParse(value);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.length ? i.path.join('.') : '(job)'}: ${i.message}`);
    throw new JobError(`${source} is not a valid job:\n${lines.join('\n')}\nFix these fields and start again.`);
  }
  return parsed.data;
}

/** A split's inputs file: the .npy inputs or the IDX images (a text's one file holds both splits). */
export function inputsFile(data: JobFileData, which: 'train' | 'test'): string {
  if (data.kind === 'text') return data.file;
  const split = data[which];
  return 'inputs' in split ? split.inputs : split.images;
}

/**
 * A file-dataset job with its sizes: the examples the files hold (trainExamples/testExamples
 * at most that, default all) and the digest of the data. Errors name the field to fix.
 */
export function withFileDataSizes(job: JobDefinition, files: { train: number; test: number; digest: string }, source: string): Job {
  if ('dataset' in job.data) throw new Error(`withFileDataSizes: ${source} uses the installed dataset ${job.data.dataset}, not files`);
  const d = job.data;
  const problems: string[] = [];
  if (d.trainExamples !== undefined && d.trainExamples > files.train) {
    problems.push(`  data.trainExamples: ${inputsFile(d, 'train')} holds ${files.train} training examples, asked for ${d.trainExamples}; lower it or leave it out to train on all`);
  }
  if (d.testExamples !== undefined && d.testExamples > files.test) {
    problems.push(`  data.testExamples: ${inputsFile(d, 'test')} holds ${files.test} test examples, asked for ${d.testExamples}; lower it or leave it out to evaluate on all`);
  }
  if (problems.length) throw new JobError(`${source} is not a valid job:\n${problems.join('\n')}\nFix these fields and start again.`);
  return { ...job, data: { ...d, trainExamples: d.trainExamples ?? files.train, testExamples: d.testExamples ?? files.test, digest: files.digest } };
}

/** Keys sorted at every level, so the same job always serialises to the same text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * A stable id of what the job trains. The name, lease sizing, checkpoint interval and text
 * samples are left out: changing them between restarts does not change the maths, so a checkpoint
 * stays usable; everything else (model, data, optimizer, sync, batch, stop, evaluation, seed) is in.
 */
export function jobId(job: Job): string {
  const { name: _name, lease: _lease, checkpointEvery: _checkpointEvery, sample: _sample, sync, compression, ...rest } = job;
  // every-step and f32 are what every job did before `sync` and `compression` existed: leaving them out keeps their ids, and so their checkpoints.
  const uncompressed = compression.up.scheme === 'f32' && compression.down.scheme === 'f32';
  const training = { ...rest, ...(sync.mode === 'every-step' ? {} : { sync }), ...(uncompressed ? {} : { compression }) };
  return `job-${createHash('sha256').update(canonicalJson(training)).digest('hex').slice(0, 16)}`;
}

export type SampleSettings = Required<NonNullable<Job['sample']>>;

/** How a next-token job's text samples are drawn (the job's `sample`, or its defaults); null for other jobs. */
export function sampleSettings(job: Pick<Job, 'model' | 'sample'>): SampleSettings | null {
  if (resolveModel(job.model).tokens === null) return null;
  return { ...SAMPLE_DEFAULTS, ...job.sample };
}

/** The model as the job file gives it (either form); the protocol sends it so. */
export function jobModel(job: Job): ModelSpec {
  return structuredClone(job.model);
}

/** The job's model resolved: shapes, the flat parameter layout, FLOPs. */
export function jobResolved(job: Job): ResolvedModel {
  return resolveModel(job.model);
}

/** The hand-written MLP's layout, for the paths that still take one (MLP jobs only). */
export function jobLayout(job: Job): ParamLayout {
  if (!isMlpShorthand(job.model)) throw new Error(`jobLayout: ${job.name} is not an MLP given by widths`);
  return mlpLayout(job.model);
}

/**
 * The model's input must be the dataset's example and its loss must cover the dataset's
 * classes: each problem is reported at the model field that fixes it.
 */
function checkModelAgainstData(model: ModelSpec, dataset: keyof typeof DATASETS, issue: (path: (string | number)[], message: string) => void): void {
  const ds = DATASETS[dataset];
  if (isMlpShorthand(model)) {
    const { widths } = model;
    if (widths[0] !== ds.features) issue(['model', 'widths', 0], `${dataset} has ${ds.features} inputs per example; the first width must be ${ds.features}`);
    if (widths[widths.length - 1] !== ds.classes) {
      issue(['model', 'widths', widths.length - 1], `${dataset} has ${ds.classes} classes; the last width must be ${ds.classes}`);
    }
    return;
  }
  const resolved = resolveModel(model);
  if (resolved.inputSize !== ds.features || !ds.shapes.some((s) => sameShape(s, resolved.inputShape))) {
    issue(['model', 'input'], `${dataset} examples are ${ds.shapes.map((s) => `[${s.join(',')}]`).join(' or ')}; the model's input is [${resolved.inputShape.join(',')}]`);
  }
  if (resolved.classes !== ds.classes) {
    issue(['model', 'layers'], `${dataset} has ${ds.classes} classes; the model's last layer gives ${resolved.classes} logits to the loss`);
  }
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/** Rounds in one epoch: the last takes the examples left over, so every example is used once. */
export function roundsPerEpoch(job: Job): number {
  return Math.ceil(job.data.trainExamples / job.globalBatch);
}

/** Rounds the job plans to run, or null when only a target accuracy ends it. */
export function plannedRounds(job: Job): number | null {
  const limits: number[] = [];
  if (job.stop.epochs !== undefined) limits.push(Math.ceil(job.stop.epochs * roundsPerEpoch(job)));
  if (job.stop.rounds !== undefined) limits.push(job.stop.rounds);
  return limits.length ? Math.min(...limits) : null;
}

/**
 * The learning rate of optimizer step t (1-based): linear warm-up to the peak, then constant
 * or a cosine/linear decay that reaches finalLrFraction·lr at the last planned step.
 */
export function learningRateAt(optimizer: Pick<JobOptimizer, 'lr' | 'schedule'>, t: number, totalSteps: number | null): number {
  if (!Number.isInteger(t) || t < 1) throw new Error(`learningRateAt: step t is 1-based and must be an integer ≥ 1, got ${t}`);
  const { lr, schedule } = optimizer;
  if (t <= schedule.warmupSteps) return (lr * t) / schedule.warmupSteps;
  if (schedule.decay === 'constant') return lr;
  if (totalSteps === null) throw new Error(`learningRateAt: a ${schedule.decay} decay needs the planned number of steps`);
  const span = Math.max(1, totalSteps - schedule.warmupSteps);
  const progress = Math.min(1, (t - schedule.warmupSteps) / span);
  const shape = schedule.decay === 'cosine' ? 0.5 * (1 + Math.cos(Math.PI * progress)) : 1 - progress;
  const floor = schedule.finalLrFraction;
  return lr * (floor + (1 - floor) * shape);
}

/** The job `npm start` runs without --job: see jobs/fashion-mnist-mlp.json and scripts/simulate-job.ts. */
export function defaultJob(): Job {
  return parseJob(defaultJobJson, 'the embedded default job (src/coordinator/jobs/fashion-mnist-mlp.json)');
}
