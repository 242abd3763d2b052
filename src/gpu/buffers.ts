// A pool of GPU buffers, so that micro-batches of the same shape reuse their activations and
// staging buffers instead of allocating (and zeroing) new ones every time.

/** Sizes are rounded up to a bucket: powers of two up to 1 MiB, then whole MiB. */
export function bucketSize(bytes: number): number {
  const MiB = 1 << 20;
  if (bytes <= 256) return 256;
  if (bytes <= MiB) return 2 ** Math.ceil(Math.log2(bytes));
  return Math.ceil(bytes / MiB) * MiB;
}

export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();
  private readonly owned = new Set<GPUBuffer>();

  constructor(private readonly device: GPUDevice) {}

  /** A buffer of at least `bytes` with exactly `usage`. Contents are undefined on reuse. */
  acquire(bytes: number, usage: GPUBufferUsageFlags, label = 'pooled'): GPUBuffer {
    const size = bucketSize(bytes);
    const list = this.free.get(`${usage}:${size}`);
    const reused = list?.pop();
    if (reused) return reused;
    const buffer = this.device.createBuffer({ label, size, usage });
    this.owned.add(buffer);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    if (!this.owned.has(buffer)) throw new Error(`Buffer ${buffer.label} does not belong to this pool`);
    const key = `${buffer.usage}:${buffer.size}`;
    const list = this.free.get(key);
    if (list) list.push(buffer);
    else this.free.set(key, [buffer]);
  }

  /** Bytes held by the pool, in use or free. */
  get bytesHeld(): number {
    let total = 0;
    for (const b of this.owned) total += b.size;
    return total;
  }

  destroyAll(): void {
    for (const b of this.owned) b.destroy();
    this.owned.clear();
    this.free.clear();
  }
}

// GPUBufferUsage's values, spelled out so this module loads where the WebGPU globals do not
// exist (Node unit tests): MAP_READ 0x1, COPY_SRC 0x4, COPY_DST 0x8, UNIFORM 0x40, STORAGE 0x80.
export const STORAGE = 0x80 | 0x8 | 0x4;
export const UNIFORM = 0x40 | 0x8;
export const STAGING = 0x1 | 0x8;
