// Small shared helpers for kernel wrappers: compile a template, make a uniform, size a
// one-dimensional dispatch.

import { UNIFORM } from '../gpu/buffers.ts';
import type { GpuContext } from '../gpu/context.ts';
import type { BindingRole, Kernel } from '../gpu/pipelines.ts';
import { renderWgsl, type TemplateParams } from '../gpu/template.ts';
import { WGSL } from './shaders.ts';

export function compileTemplate(
  ctx: GpuContext,
  name: string,
  file: keyof typeof WGSL,
  params: TemplateParams,
  bindings: BindingRole[],
  prelude = '',
): Promise<Kernel> {
  const code = (prelude ? prelude + '\n' : '') + renderWgsl(WGSL[file], params, `${file}.wgsl`);
  return ctx.pipelines.get({ name, code, bindings });
}

/** A uniform buffer holding `words` (32-bit values; floats pass as a Float32Array). */
export function createUniform(ctx: GpuContext, label: string, words: Uint32Array | Float32Array | ArrayBuffer): GPUBuffer {
  const bytes = words instanceof ArrayBuffer ? words : words.buffer.slice(words.byteOffset, words.byteOffset + words.byteLength);
  const size = Math.ceil(bytes.byteLength / 16) * 16;
  const buffer = ctx.device.createBuffer({ label, size, usage: UNIFORM });
  ctx.device.queue.writeBuffer(buffer, 0, bytes);
  return buffer;
}

/**
 * Workgroups for `items` invocations of a 1-D kernel with 64-wide workgroups, folded into
 * two dimensions past the per-dimension limit (kernels index gid.y·groups.x·64 + gid.x).
 */
export function linearGroups(items: number, maxPerDimension = 65535): [number, number] {
  const groups = Math.max(1, Math.ceil(items / 64));
  if (groups <= maxPerDimension) return [groups, 1];
  const y = Math.ceil(groups / maxPerDimension);
  return [Math.ceil(groups / y), y];
}

/** A binding of a whole buffer or of a float range of it. */
export function floats(buffer: GPUBuffer, offsetFloats = 0, lengthFloats?: number): GPUBufferBinding {
  const offset = offsetFloats * 4;
  return { buffer, offset, size: lengthFloats === undefined ? buffer.size - offset : lengthFloats * 4 };
}
