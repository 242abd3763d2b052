// `npm start`: one Node process that serves the pages, embeds the signaling relay on the
// same port, and runs the coordinator as a WebRTC peer. With --contributors N it also runs
// N local headless contributors; when the job is done it writes the model and a run
// summary and exits (0 when the job reached its goal).

import { constants, existsSync, readFileSync } from 'node:fs';
import { access, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createHmac, createPrivateKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { dirname, join, resolve } from 'node:path';
import { Coordinator } from '../coordinator/coordinator.ts';
import { loadNewestCheckpoint } from '../coordinator/checkpointStore.ts';
import { checkpointOptimizer, defaultJob, jobId, jobLayout, jobModel, jobResolved, parseJobDefinition, plannedRounds, sampleSettings, type Job } from '../coordinator/job.ts';
import { lossCurve } from '../coordinator/summary.ts';
import { loadJobDataset, type JobDataset } from '../data/jobDataset.ts';
import { cpuModelSpotChecker, type SpotChecker } from '../coordinator/verification.ts';
import { CpuModel } from '../cpu/cpuModel.ts';
import { startCoordinatorPeer } from '../net/nodePeer.ts';
import { attachSignalingRelay } from '../net/relay.ts';
import { iceConfig, iceServersFor, type HmacSha1, type IceConfig } from '../net/iceServers.ts';
import { VOCABULARY_METADATA_KEY, exportModelOnnx } from '../model/onnx.ts';
import type { ImageDataset } from '../data/dataset.ts';
import { initModelParameters } from '../model/layers/spec.ts';
import { USAGE, UsageError, describeFailure, fileError, outputError, parseCommandLine, wantsDebug, type PlanOptions, type ServerOptions } from './cli.ts';
import { launchContributors, type LaunchedContributors } from './contributorLauncher.ts';
import { planJob, planText } from './plan.ts';
import { CoordinatorHost } from './coordinatorHost.ts';
import { jobDataSummary, jobDatasetRoute } from './datasetRoute.ts';
import { EvaluationThread } from './evaluationThread.ts';
import { httpApi, type JobAnnouncement } from './httpApi.ts';
import { loadOrCreateCoordinatorKey, nodeVerifier } from './nodeSigning.ts';
import { LedgerFile } from './ledgerFile.ts';
import { ResultCheckPool } from './resultCheckPool.ts';
import { KeyLinkError } from '../ledger/credit.ts';
import { RunStatus, progressLine } from './runStatus.ts';
import { staticFiles } from './staticFiles.ts';

const RELAY_PATH = '/peerjs';
const COORDINATOR_ID = 'swarmgrad-coordinator';

async function main(argv: readonly string[]): Promise<number> {
  const command = parseCommandLine(argv);
  switch (command.kind) {
    case 'help':
      console.log(USAGE);
      return 0;
    case 'version':
      console.log(`swarmgrad ${packageVersion()}`);
      return 0;
    case 'plan':
      return plan(command.options);
    case 'run':
      return run(command.options);
  }
}

function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/**
 * The job file, parsed and validated, or the embedded default, with its dataset read and
 * checked against the model (relative data paths are from the job file's folder): all
 * before anything is started.
 */
async function loadJob(path: string | null): Promise<{ job: Job; dataset: JobDataset }> {
  if (path === null) return loadJobDataset(defaultJob(), process.cwd(), { source: 'the embedded default job' });
  const text = await readFile(path, 'utf8').catch((error) => {
    throw fileError(error, path, 'The job file');
  });
  return loadJobDataset(parseJobDefinition(text, path), dirname(resolve(path)), { source: path });
}

async function plan(options: PlanOptions): Promise<number> {
  const { job, dataset } = await loadJob(options.job);
  const { train, test } = dataset.splits;
  const figures = planJob({
    job,
    speed: options.speed,
    downMbps: options.downMbps,
    upMbps: options.upMbps,
    contributors: [1, 2, 4],
    spotCheckMsPerExample: await measureSpotCheck(job, train),
    dataset: { trainCount: train.count, testCount: test?.count ?? 0 },
  });
  console.log(options.json ? JSON.stringify(figures, null, 2) : planText(figures));
  return 0;
}

/**
 * The coordinator's recomputation of sampled and suspect results, on the training set: the
 * CPU layer table on this thread, which resolves the ReLU kinks of an MLP (verification.ts).
 */
async function spotCheckerFor(job: Job, train: ImageDataset): Promise<SpotChecker> {
  const model = jobResolved(job);
  return cpuModelSpotChecker((await CpuModel.create(model, { threads: 1 })).inline, train, job.sync);
}

/** Milliseconds per example of the coordinator's reference gradient on this machine (what a spot check costs). */
async function measureSpotCheck(job: Job, train: ImageDataset): Promise<number> {
  const model = jobResolved(job);
  const checker = await spotCheckerFor({ ...job, sync: { mode: 'every-step' } }, train);
  const params = initModelParameters(model, job.seed);
  // A next-token model's example is a window of T positions: time about 512 positions, as the memory allows.
  const examples = model.tokens ? Math.max(1, Math.floor(512 / model.tokens.context)) : 32;
  const indices = Uint32Array.from({ length: examples }, (_, i) => i % train.count);
  // Round 0 as the dropout seed: a model with dropout is checked as its leases are, with their masks.
  checker(params, indices, undefined, 0); // warm-up
  let done = 0;
  const started = performance.now();
  while (performance.now() - started < 300) {
    checker(params, indices, undefined, 0);
    done += indices.length;
  }
  return (performance.now() - started) / done;
}

async function run(args: ServerOptions): Promise<number> {
  const contributorCount = args.contributors;
  // Read before anything starts, so that a bad file is told at once.
  const tls = await loadTls(args.tls);
  const ice = await loadIce(args);
  const port = args.port;
  const { job, dataset } = await loadJob(args.job);
  if (dataset.kind === 'files') for (const note of dataset.notes) console.log(`data: ${note}`);
  const id = jobId(job);
  const layout = jobResolved(job);
  const outDir = resolve(args.out ?? join('runs', slug(job.name)));
  const checkpointDir = join(outDir, 'checkpoints');
  const siteDir = resolve(args.site);
  if (!existsSync(join(siteDir, 'index.html'))) throw new UsageError(`${siteDir} has no built pages: run \`npm run build\` (npm start does it for you)`);
  await mkdir(checkpointDir, { recursive: true }).catch((error) => {
    throw outputError(error, outDir);
  });
  await access(outDir, constants.W_OK).catch((error) => {
    throw outputError(error, outDir);
  });
  if (args.fresh) await rename(checkpointDir, `${checkpointDir}-${Date.now()}`).then(() => mkdir(checkpointDir, { recursive: true }));

  const loaded = await loadNewestCheckpoint(checkpointDir, { jobId: id, parameterCount: layout.total, optimizer: checkpointOptimizer(job) });
  for (const skipped of loaded?.skipped ?? []) console.warn(`warning: skipped checkpoint ${JSON.stringify(skipped)}`);
  if (loaded) console.log(`resuming from ${loaded.path} (round ${loaded.state.round})`);
  // The coordinator's key outlives --fresh: contributors pin it.
  const signer = loadOrCreateCoordinatorKey(join(outDir, 'coordinator-key.pem'));
  // The public half, for anyone checking the ledger offline (`npm run ledger -- verify … --key …`).
  await writeFile(join(outDir, 'coordinator.pub'), `${JSON.stringify({ publicKey: signer.publicKey })}\n`);
  // Spot checks recompute sampled and suspect results with the CPU reference on the training set.
  const { train, test } = dataset.splits;
  const datasetRoute = jobDatasetRoute(dataset);
  const coordinator = new Coordinator({
    job,
    instance: Date.now().toString(36),
    datasetUrl: datasetRoute.location.url,
    checkpoint: loaded?.state,
    signer,
    verifier: nodeVerifier,
    spotChecker: await spotCheckerFor(job, train),
  });

  const startedAt = Date.now();
  const sample = sampleSettings(job);
  const vocabulary = dataset.kind === 'files' ? dataset.vocabulary : null;
  const status = new RunStatus(
    {
      id,
      name: job.name,
      globalBatch: job.globalBatch,
      parameters: layout.total,
      plannedRounds: plannedRounds(job),
      targetAccuracy: job.stop.targetAccuracy ?? null,
      targetLoss: job.stop.targetLoss ?? null,
      tokens: layout.tokens !== null,
      sample,
    },
    startedAt,
    {
      evaluations: loaded
        ? lossCurve(loaded.state.history, loaded.state.evaluations).map((p) => ({ version: p.version, at: p.at, accuracy: p.testAccuracy, loss: p.testLoss, trainLoss: p.trainLoss }))
        : undefined,
    },
  );
  // A text's vocabulary travels with every export, so that whoever samples from the model decodes the same characters.
  const exportOptions = { producer: 'swarmgrad', ...(vocabulary ? { metadata: { [VOCABULARY_METADATA_KEY]: JSON.stringify(vocabulary) } } : {}) };
  const announcement: JobAnnouncement = {
    id,
    name: job.name,
    model: jobModel(job),
    dataset: datasetRoute.location,
    data: jobDataSummary(dataset),
    trainExamples: job.data.trainExamples,
    globalBatch: job.globalBatch,
    parameterCount: layout.total,
    coordinatorId: COORDINATOR_ID,
    relayPath: RELAY_PATH,
    targetAccuracy: job.stop.targetAccuracy ?? null,
    coordinatorKey: signer.publicKey,
  };
  let finalParams: Float32Array | null = null;
  // Requests may arrive before the coordinator's host exists (the server listens first).
  let hostRef: CoordinatorHost | null = null;
  let ledgerRef: LedgerFile | null = null;

  // Each page gets TURN credentials of its own, made when it asks for the job.
  const api = httpApi({
    job: () => ({ ...announcement, iceServers: iceServersFor(ice, `page-${randomBytes(6).toString('hex')}`, Date.now(), hmacSha1) }),
    status: () => ({ ...status.snapshot(Date.now(), { connectedPeers: relay.stats().connectedPeers }), traffic: hostRef?.traffic() ?? null, ledger: ledgerRef ? { size: ledgerRef.size, head: ledgerRef.head } : null }),
    modelOnnx: () => exportModelOnnx(layout, finalParams ?? coordinator.params, exportOptions),
    leaderboard: () => ledgerRef?.leaderboard() ?? null,
    linkKeys: (link) => {
      if (!ledgerRef) throw new KeyLinkError('the ledger is not open yet; try again in a moment', 409);
      const taken = ledgerRef.linkKeys(link);
      console.log(`ledger: ${link.fromKey.slice(0, 20)}… hands its credit to ${link.toKey.slice(0, 20)}… (entry ${taken.index})`);
      return taken;
    },
  });
  const serveDataset = datasetRoute.middleware;
  const site = staticFiles(siteDir);
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const notFound = () => res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n');
    relay.handleRequest(req, res, (error?: unknown) => {
      if (error) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`relay error: ${String(error)}\n`);
        return;
      }
      api(req, res, () => serveDataset(req, res, () => site(req, res, notFound)));
    });
  };
  const server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, handle) : createServer(handle);
  const relay = attachSignalingRelay(server, { path: RELAY_PATH });
  relay.onError = (error) => console.warn(`[relay] ${error.message}`);
  await new Promise<void>((ok, fail) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') fail(new UsageError(`Port ${port} is in use: pick another with --port`));
      else if (error.code === 'EACCES') fail(new UsageError(`Port ${port} needs more privileges on this machine: pick one above 1023 with --port`));
      else if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') fail(new UsageError(`Cannot listen on ${args.host}: it is not an address of this machine (--host)`));
      else fail(error);
    });
    server.listen(port, args.host, ok);
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('The server has no TCP port');
  const origin = `${tls ? 'https' : 'http'}://${args.host === '0.0.0.0' ? 'localhost' : args.host}:${address.port}`;

  const ledger = await LedgerFile.open(outDir, {
    genesis: { kind: 'log', jobId: id, jobName: job.name, coordinatorKey: signer.publicKey },
    signer,
    fresh: args.fresh ?? false,
    log: (line) => console.log(line),
  });
  ledgerRef = ledger;
  const evaluation = new EvaluationThread({
    spec: jobModel(job),
    test,
    testExamples: job.data.testExamples,
    sampling: sample && vocabulary ? { ...sample, seed: job.seed, vocabulary } : undefined,
  });
  const resultChecks = args.checkThreads > 0 ? new ResultCheckPool(args.checkThreads) : undefined;
  const host = new CoordinatorHost({
    coordinator,
    evaluation,
    resultChecks,
    checkpointDir,
    ledger,
    onEvent: (event) => status.record(event),
    onEvaluation: (version, accuracy, loss) => {
      status.recordEvaluation({ version, accuracy, loss, at: Date.now() });
      console.log(`evaluation: version ${version}, test accuracy ${(100 * accuracy).toFixed(2)}%, loss ${loss.toFixed(4)}`);
    },
    onSample: (version, text) => {
      status.recordSample({ version, text, at: Date.now() });
      console.log(`sample at version ${version}:\n${indent(sample!.prompt + text)}`);
    },
  });
  hostRef = host;
  const peer = await startCoordinatorPeer({
    // Its own relay, at an address the server listens on.
    host: args.host === '0.0.0.0' ? '127.0.0.1' : args.host,
    port: address.port,
    path: RELAY_PATH,
    coordinatorId: COORDINATOR_ID,
    ...(tls ? { secure: true, ca: tls.cert } : {}),
    iceServers: () => iceServersFor(ice, 'coordinator', Date.now(), hmacSha1),
  });
  peer.onError = (error) => console.warn(`[coordinator peer] ${error.message}`);
  peer.onNote = (line) => console.log(`[coordinator peer] ${line}`);
  peer.onChannel = (channel) => host.attach(channel);

  console.log(`swarmgrad: job "${job.name}" (${id})`);
  console.log(`  contribute: ${origin}/`);
  console.log(`  dashboard:  ${origin}/dashboard.html`);
  const progress = setInterval(() => console.log(progressLine(status.snapshot(Date.now()))), 5000);

  let local: LaunchedContributors | null = null;
  if (contributorCount > 0) local = await launchContributors(`${origin}/`, contributorCount, (line) => console.log(line), tls ? { trustCertificate: tls.cert } : {});

  const stop = async (code: number) => {
    clearInterval(progress);
    await host.close('the coordinator is shutting down');
    await local?.close().catch(() => {});
    await peer.close().catch(() => {});
    await evaluation.close();
    await resultChecks?.close();
    ledger.close();
    api.close();
    relay.close();
    server.close();
    // The relay package keeps timers of its own running: exit explicitly.
    process.exit(code);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void stop(130));

  const done = await host.done;
  finalParams = done.params;
  // The final evaluation's sample is usually the final model's: reuse it rather than write another.
  const finalText = evaluation.samples ? await (host.sampleOf(done.version) ?? evaluation.sample(done.params)).catch((error: Error) => {
    console.warn(`could not sample text from the final model: ${error.message}`);
    return null;
  }) : null;
  const finalSample = finalText === null ? null : { version: done.version, ...sample!, text: finalText };
  if (finalSample) console.log(`sample of the final model (version ${done.version}):\n${indent(finalSample.prompt + finalSample.text)}`);
  const summary = { ...coordinator.summary(Date.now()), ...(vocabulary ? { vocabulary, sample: finalSample } : {}), finishedAt: new Date().toISOString() };
  await writeFile(join(outDir, 'model.onnx'), exportModelOnnx(layout, done.params, exportOptions));
  await writeFile(join(outDir, 'parameters.f32'), new Uint8Array(done.params.buffer, done.params.byteOffset, done.params.byteLength));
  await writeFile(join(outDir, 'summary.json'), JSON.stringify(summary, null, 2));
  console.log(progressLine(status.snapshot(Date.now())));
  console.log(`done: ${done.message}`);
  console.log(
    `  ${summary.rounds} rounds, ${summary.examples} examples (${summary.epochs.toFixed(2)} epochs), ` +
      `${(summary.durationMs / 1000).toFixed(0)} s, coverage ${summary.coverage.exact ? 'exact (every example of every round once)' : 'NOT exact'}`,
  );
  console.log(`  wrote ${join(outDir, 'model.onnx')} and ${join(outDir, 'summary.json')}${vocabulary ? ' (both hold the vocabulary)' : ''}`);
  const target = job.stop.targetAccuracy;
  const targetLoss = job.stop.targetLoss;
  const reachedGoal = done.reason !== 'diverged' && summary.coverage.exact &&
    (target === undefined || (done.testAccuracy ?? 0) >= target) && (targetLoss === undefined || (done.testLoss ?? Infinity) <= targetLoss);
  if (!reachedGoal) console.error(`the job did not reach its goal (${done.reason}, test accuracy ${done.testAccuracy}, loss ${done.testLoss})`);
  if (args.stay) {
    console.log('the job is done; still serving the pages (--stay). Ctrl-C to quit.');
    return new Promise<number>(() => {});
  }
  await stop(reachedGoal ? 0 : 1);
  return 0;
}

const hmacSha1: HmacSha1 = (key, message) => new Uint8Array(createHmac('sha1', key).update(message).digest());

/** The certificate and key for --tls-cert/--tls-key, read and checked to be a pair. */
async function loadTls(options: ServerOptions['tls']): Promise<{ cert: string; key: string } | null> {
  if (!options) return null;
  const [cert, key] = await Promise.all([
    readFile(options.cert, 'utf8').catch((error) => {
      throw fileError(error, options.cert, 'The TLS certificate');
    }),
    readFile(options.key, 'utf8').catch((error) => {
      throw fileError(error, options.key, 'The TLS key');
    }),
  ]);
  let certificate: X509Certificate;
  let privateKey: KeyObject;
  try {
    certificate = new X509Certificate(cert);
  } catch (error) {
    throw new UsageError(`--tls-cert ${options.cert} is not a PEM certificate (${(error as Error).message})`);
  }
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    throw new UsageError(`--tls-key ${options.key} is not a PEM private key (${(error as Error).message})`);
  }
  if (!certificate.checkPrivateKey(privateKey)) throw new UsageError(`--tls-key ${options.key} is not the key of the certificate ${options.cert}`);
  if (Date.parse(certificate.validTo) < Date.now()) throw new UsageError(`the certificate ${options.cert} expired on ${certificate.validTo}`);
  return { cert, key };
}

/** The ICE servers, with the TURN secret read from its file. */
async function loadIce(args: ServerOptions): Promise<IceConfig> {
  const secret = args.turnSecretFile
    ? (
        await readFile(args.turnSecretFile, 'utf8').catch((error) => {
          throw fileError(error, args.turnSecretFile!, 'The TURN secret file');
        })
      ).trim()
    : null;
  try {
    return iceConfig(args.iceServers, secret, args.turnTtlSeconds);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'job';
}

const argv = process.argv.slice(2);
main(argv).then(
  (code) => process.exit(code),
  (error) => {
    const { text, exitCode } = describeFailure(error, wantsDebug(argv));
    console.error(text);
    process.exit(exitCode);
  },
);

/** A multi-line text indented for the console. */
function indent(text: string): string {
  return text.split('\n').map((line) => `  | ${line}`).join('\n');
}
