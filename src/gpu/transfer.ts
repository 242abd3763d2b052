// Moving arrays to and from the GPU outside a recorded micro-batch: uploads made at
// creation, and one-off readbacks (tests, benchmarks, the start-up self-test).

import { STORAGE } from './buffers.ts';
import type { GpuContext } from './context.ts';
import { ComputeRecorder } from './recorder.ts';

export function upload(ctx: GpuContext, data: Float32Array | Uint32Array, label = 'test data'): GPUBuffer {
  const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
  const buffer = ctx.device.createBuffer({ label, size, usage: STORAGE, mappedAtCreation: true });
  new (data.constructor as Float32ArrayConstructor)(buffer.getMappedRange()).set(data as Float32Array);
  buffer.unmap();
  return buffer;
}

export function emptyBuffer(ctx: GpuContext, floats: number, label = 'test output'): GPUBuffer {
  return ctx.device.createBuffer({ label, size: Math.max(16, Math.ceil((floats * 4) / 16) * 16), usage: STORAGE });
}

export async function readFloats(ctx: GpuContext, buffer: GPUBuffer, floats: number, offsetFloats = 0): Promise<Float32Array> {
  const rec = new ComputeRecorder(ctx);
  const { data } = await rec.finishWithReadback([{ buffer, offset: offsetFloats * 4, size: floats * 4 }]);
  return new Float32Array(data[0]);
}

/**
 * queue.writeBuffer for any typed array. TypeScript types views over a possibly shared
 * buffer (ArrayBufferLike) apart from plain ones; WebGPU accepts both.
 */
export function writeArray(ctx: GpuContext, buffer: GPUBuffer, data: ArrayBufferView, offsetBytes = 0): void {
  ctx.device.queue.writeBuffer(buffer, offsetBytes, data as ArrayBufferView<ArrayBuffer>);
}
