// Records a unit of GPU work (a micro-batch's forward and backward, an optimizer step) into
// as few submits as the watchdog budget allows, times it, and reads results back once.

import { STAGING } from './buffers.ts';
import { DeviceLostError, type GpuContext } from './context.ts';
import { bindGroup, type Kernel } from './pipelines.ts';

export interface RecorderOptions {
  /**
   * Keep each submit's estimated GPU time under this many milliseconds. Operating systems
   * reset a GPU whose work runs for ~2 s (Windows TDR), and a game sharing the GPU stutters
   * long before that, so work is cut into submits by estimated cost.
   */
  maxSubmitMs?: number;
  /** Estimated device throughput in FLOP per millisecond, used with maxSubmitMs. */
  flopsPerMs?: number;
  label?: string;
}

export interface ReadbackRegion {
  buffer: GPUBuffer;
  offset?: number;
  /** Bytes; the whole rest of the buffer when omitted. */
  size?: number;
}

export interface RecordedResult {
  /** One ArrayBuffer per region, in order. */
  data: ArrayBuffer[];
  /** GPU time from timestamp queries, or null when the device has no timestamp-query. */
  gpuTimeMs: number | null;
  submits: number;
}

/** Timestamp pairs, at most one per compute pass. */
const MAX_PASSES = 64;
/** How long a readback may take before we call the device hung. */
const READBACK_TIMEOUT_MS = 60_000;

export class ComputeRecorder {
  private encoder: GPUCommandEncoder;
  private pass: GPUComputePassEncoder | null = null;
  private pendingFlops = 0;
  private passes = 0;
  private submits = 0;
  private readonly querySet: GPUQuerySet | null;
  private readonly maxSubmitFlops: number;
  private finished = false;

  constructor(
    private readonly ctx: GpuContext,
    private readonly options: RecorderOptions = {},
  ) {
    ctx.assertAlive();
    this.encoder = ctx.device.createCommandEncoder({ label: options.label });
    this.querySet = ctx.hasTimestamps ? ctx.device.createQuerySet({ type: 'timestamp', count: 2 * MAX_PASSES }) : null;
    const ms = options.maxSubmitMs ?? 100;
    this.maxSubmitFlops = options.flopsPerMs ? ms * options.flopsPerMs : Infinity;
  }

  /** Record one dispatch; `flops` is its estimated cost, for cutting submits. */
  dispatch(kernel: Kernel, resources: (GPUBuffer | GPUBufferBinding)[], workgroups: [number, number?, number?], flops = 0): void {
    this.assertOpen();
    const [x, y = 1, z = 1] = workgroups;
    const maxGroups = this.ctx.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxGroups || y > maxGroups || z > maxGroups) {
      throw new Error(`Kernel ${kernel.name}: dispatch ${x}×${y}×${z} exceeds ${maxGroups} workgroups per dimension`);
    }
    if (x === 0 || y === 0 || z === 0) return;
    if (this.pendingFlops > 0 && this.pendingFlops + flops > this.maxSubmitFlops) this.flush();
    const pass = this.openPass();
    pass.setPipeline(kernel.pipeline);
    pass.setBindGroup(0, bindGroup(this.ctx.device, kernel, resources));
    pass.dispatchWorkgroups(x, y, z);
    this.pendingFlops += flops;
  }

  /** Record a buffer-to-buffer copy (ends the current compute pass). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void {
    this.assertOpen();
    this.closePass();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, size);
  }

  /** Submit what is recorded so far and continue in a fresh encoder. */
  flush(): void {
    this.assertOpen();
    this.closePass();
    this.ctx.submit([this.encoder.finish()]);
    this.submits++;
    this.pendingFlops = 0;
    this.encoder = this.ctx.device.createCommandEncoder({ label: this.options.label });
  }

  /** Submit everything, without reading anything back. */
  async finish(): Promise<RecordedResult> {
    return this.finishWithReadback([]);
  }

  /**
   * Copy every region into one staging buffer, submit, and map it once: a single readback
   * however many results there are (with the GPU timestamps riding along).
   */
  async finishWithReadback(regions: ReadbackRegion[]): Promise<RecordedResult> {
    this.assertOpen();
    this.closePass();
    const { ctx } = this;
    const sizes = regions.map((r) => r.size ?? r.buffer.size - (r.offset ?? 0));
    const offsets: number[] = [];
    let total = 0;
    for (const size of sizes) {
      if (size % 4 !== 0) throw new Error(`Readback sizes must be multiples of 4 bytes, got ${size}`);
      offsets.push(total);
      total += size;
    }
    const timestampBytes = this.querySet && this.passes > 0 ? 16 * this.passes : 0;
    let resolve: GPUBuffer | null = null;
    if (timestampBytes) {
      resolve = ctx.buffers.acquire(timestampBytes, GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, 'timestamps');
      this.encoder.resolveQuerySet(this.querySet!, 0, 2 * this.passes, resolve, 0);
    }
    const stagingBytes = total + timestampBytes;
    const staging = stagingBytes ? ctx.buffers.acquire(stagingBytes, STAGING, 'staging') : null;
    regions.forEach((r, i) => this.encoder.copyBufferToBuffer(r.buffer, r.offset ?? 0, staging!, offsets[i], sizes[i]));
    if (resolve) this.encoder.copyBufferToBuffer(resolve, 0, staging!, total, timestampBytes);
    ctx.submit([this.encoder.finish()]);
    this.submits++;
    this.finished = true;
    this.querySet?.destroy();
    if (!staging) {
      await guardAgainstLoss(ctx, ctx.device.queue.onSubmittedWorkDone());
      return { data: [], gpuTimeMs: null, submits: this.submits };
    }
    try {
      await guardAgainstLoss(ctx, staging.mapAsync(GPUMapMode.READ, 0, stagingBytes));
      ctx.counters.readbacks++;
      const mapped = staging.getMappedRange(0, stagingBytes);
      const data = offsets.map((o, i) => mapped.slice(o, o + sizes[i]));
      const gpuTimeMs = timestampBytes ? sumPassTimes(new BigUint64Array(mapped.slice(total, total + timestampBytes))) : null;
      staging.unmap();
      return { data, gpuTimeMs, submits: this.submits };
    } finally {
      if (!ctx.deviceLost) {
        ctx.buffers.release(staging);
        if (resolve) ctx.buffers.release(resolve);
      }
    }
  }

  private openPass(): GPUComputePassEncoder {
    if (this.pass) return this.pass;
    let timestampWrites: GPUComputePassTimestampWrites | undefined;
    if (this.querySet && this.passes < MAX_PASSES) {
      timestampWrites = {
        querySet: this.querySet,
        beginningOfPassWriteIndex: 2 * this.passes,
        endOfPassWriteIndex: 2 * this.passes + 1,
      };
      this.passes++;
    }
    this.pass = this.encoder.beginComputePass({ label: this.options.label, timestampWrites });
    return this.pass;
  }

  private closePass(): void {
    this.pass?.end();
    this.pass = null;
  }

  private assertOpen(): void {
    if (this.finished) throw new Error('This recorder has already been submitted; make a new one.');
  }
}

function sumPassTimes(stamps: BigUint64Array): number {
  let ns = 0n;
  for (let i = 0; i + 1 < stamps.length; i += 2) {
    // Timestamps may be reset between submits on some drivers; a negative span is dropped.
    if (stamps[i + 1] > stamps[i]) ns += stamps[i + 1] - stamps[i];
  }
  return Number(ns) / 1e6;
}

/** Wait for GPU work, but give up with a clear error if the device is lost or hangs. */
export async function guardAgainstLoss<T>(ctx: GpuContext, work: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const lost = ctx.lost.then((info) => {
    throw new DeviceLostError(`The GPU device was lost (${info.reason}): ${info.message || 'no message'}`);
  });
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new DeviceLostError(`The GPU did not finish its work within ${READBACK_TIMEOUT_MS / 1000} s`)),
      READBACK_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([work, lost, hung]);
  } catch (error) {
    if (ctx.deviceLost && !(error instanceof DeviceLostError)) {
      throw new DeviceLostError(`The GPU device was lost while waiting: ${(error as Error).message}`);
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
