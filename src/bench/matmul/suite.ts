// The matmul suite: every implementation at every size, size by size so that figures compared
// at one N were measured minutes apart at most; each product verified before its time counts.

import { matmulFlops } from '../../kernels/matmul.ts';
import { BAR_SIZE, type BenchSettings } from '../settings.ts';
import { SizeGate } from '../sizeGate.ts';
import type { BenchContext, BenchRow, BenchSuite } from '../suite.ts';
import { matmulChecks } from './checks.ts';
import type { MatmulImplementation, MatmulProvider } from './implementation.ts';
import { GFLOPS, MATMUL_SUITE_ID } from './names.ts';
import { OnnxRuntimeProvider } from './onnxruntime.ts';
import { OurMatmulProvider } from './ours.ts';
import { benchInputs, verifyMatmul } from './verify.ts';


const flopsAt = (n: number) => matmulFlops({ m: n, n, k: n });
/** Above this predicted time per run, warm kernels get one run and no warm-up. */
const SLOW_RUN_MS = 2000;

export function createMatmulSuite(
  settings: Pick<BenchSettings, 'sizes' | 'capMs' | 'repeat'>,
  providers: () => MatmulProvider[] = () => [new OurMatmulProvider(), new OnnxRuntimeProvider()],
): BenchSuite {
  return {
    id: MATMUL_SUITE_ID,
    title: 'Matmul C = A·B, N×N float32',
    sizeLabel: 'N',
    async run(ctx, emit) {
      const opened = providers();
      const impls: { impl: MatmulImplementation; gate: SizeGate }[] = [];
      try {
        for (const provider of opened) {
          ctx.log(`Setting up ${provider.title}…`);
          let provided: MatmulImplementation[];
          try {
            provided = await provider.open(ctx.log);
          } catch (error) {
            // The other providers are still worth measuring; the row and the log say what failed.
            const reason = `failed to set up: ${(error as Error).message}`;
            ctx.log(`${provider.title} ${reason}`);
            emit({ suite: MATMUL_SUITE_ID, name: provider.title, value: NaN, unit: GFLOPS, skipped: reason });
            continue;
          }
          for (const impl of provided) {
            impls.push({ impl, gate: new SizeGate({ capMs: settings.capMs, requiredSizes: [BAR_SIZE], blindLimit: BAR_SIZE, work: flopsAt }) });
          }
        }
        for (const n of settings.sizes) {
          const problem = { n, ...benchInputs(n) };
          for (const { impl, gate } of impls) {
            ctx.signal?.throwIfAborted();
            emit(await measureOne(ctx, impl, gate, problem, settings));
          }
        }
      } finally {
        for (const provider of opened) await provider.close();
      }
    },
    checks: matmulChecks,
  };
}

async function measureOne(
  ctx: BenchContext,
  impl: MatmulImplementation,
  gate: SizeGate,
  problem: { n: number; a: Float32Array; b: Float32Array },
  settings: Pick<BenchSettings, 'repeat'>,
): Promise<BenchRow> {
  const { n } = problem;
  const base = { suite: MATMUL_SUITE_ID, name: impl.name, size: n, unit: GFLOPS };
  const decision = gate.decide(n);
  if (!decision.measure) {
    ctx.log(`${impl.name} at N=${n}: ${decision.reason}`);
    return { ...base, value: NaN, skipped: decision.reason, details: { family: impl.family } };
  }
  // A slow run of a kernel already warm from a smaller size is made once, without a warm-up.
  const slow = impl.warmAcrossSizes && decision.predictedMs !== null && decision.predictedMs > SLOW_RUN_MS;
  const policy = slow ? { warmups: 0, repetitions: 1 } : settings.repeat;
  try {
    const m = await impl.measure(problem, { ...policy, signal: ctx.signal });
    verifyMatmul(`${impl.name} at N=${n}`, n, problem.a, problem.b, m.c);
    gate.recordRun(n, m.wallMs);
    const gflops = flopsAt(n) / m.ms / 1e6;
    ctx.log(`${impl.name} at N=${n}: ${gflops.toFixed(3)} ${GFLOPS}, ${m.ms.toFixed(2)} ms per run (${m.samplesMs.length} timed)`);
    return {
      ...base,
      value: gflops,
      ms: m.ms,
      details: {
        family: impl.family,
        timing: m.timing,
        wallMs: m.wallMs,
        samplesMs: m.samplesMs,
        warmups: m.warmups,
        verified: 'row and column sums of C match float64 sums',
        ...(slow ? { note: `one run, no warm-up: predicted ${(decision.predictedMs! / 1000).toFixed(1)} s and already warm from a smaller N` } : {}),
        ...m.details,
      },
    };
  } catch (error) {
    if (ctx.signal?.aborted) throw error;
    const message = (error as Error).message;
    gate.recordFailure(n, message);
    ctx.log(`${impl.name} at N=${n} FAILED: ${message}`);
    return { ...base, value: NaN, skipped: `failed: ${message}`, details: { family: impl.family } };
  }
}
