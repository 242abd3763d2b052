// Compute pipelines, compiled asynchronously and cached by their final WGSL text.
// Bindings are declared explicitly (read, read-write or uniform), in the shader's binding
// order: the pipeline layout must agree with the shader, and a mismatch fails loudly here.

export type BindingRole = 'read' | 'readwrite' | 'uniform';

export interface KernelSource {
  /** A readable name for errors and GPU debuggers, e.g. "matmul_nn_4x8_direct". */
  name: string;
  code: string;
  entryPoint?: string;
  bindings: BindingRole[];
}

export interface Kernel {
  name: string;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  bindings: BindingRole[];
}

const BUFFER_TYPE: Record<BindingRole, GPUBufferBindingType> = {
  read: 'read-only-storage',
  readwrite: 'storage',
  uniform: 'uniform',
};

export class PipelineCache {
  private readonly kernels = new Map<string, Promise<Kernel>>();

  constructor(private readonly device: GPUDevice) {}

  get size(): number {
    return this.kernels.size;
  }

  /** The compiled kernel for this source; compiled once, concurrent callers share the promise. */
  get(source: KernelSource): Promise<Kernel> {
    const key = `${source.entryPoint ?? 'main'}|${source.bindings.join(',')}|${source.code}`;
    let kernel = this.kernels.get(key);
    if (!kernel) {
      kernel = this.compile(source);
      this.kernels.set(key, kernel);
      // A failed compile is not cached: the caller sees the error, a retry compiles again.
      kernel.catch(() => this.kernels.delete(key));
    }
    return kernel;
  }

  private async compile(source: KernelSource): Promise<Kernel> {
    const { device } = this;
    const module = device.createShaderModule({ label: source.name, code: source.code });
    const layout = device.createBindGroupLayout({
      label: source.name,
      entries: source.bindings.map((role, binding) => ({
        binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: BUFFER_TYPE[role] },
      })),
    });
    try {
      const pipeline = await device.createComputePipelineAsync({
        label: source.name,
        layout: device.createPipelineLayout({ label: source.name, bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: source.entryPoint ?? 'main' },
      });
      return { name: source.name, pipeline, layout, bindings: source.bindings };
    } catch (error) {
      throw new Error(`Kernel ${source.name} failed to compile: ${await describeCompileFailure(module, error)}`);
    }
  }
}

async function describeCompileFailure(module: GPUShaderModule, error: unknown): Promise<string> {
  const info = await module.getCompilationInfo();
  const messages = info.messages
    .filter((m) => m.type === 'error')
    .map((m) => `line ${m.lineNum}:${m.linePos}: ${m.message}`);
  return messages.length ? messages.join('; ') : String((error as Error)?.message ?? error);
}

/** A bind group for `kernel`, binding the buffers (or buffer ranges) in binding order. */
export function bindGroup(device: GPUDevice, kernel: Kernel, resources: (GPUBuffer | GPUBufferBinding)[]): GPUBindGroup {
  if (resources.length !== kernel.bindings.length) {
    throw new Error(`Kernel ${kernel.name} takes ${kernel.bindings.length} bindings, got ${resources.length}`);
  }
  return device.createBindGroup({
    label: kernel.name,
    layout: kernel.layout,
    entries: resources.map((r, binding) => ({
      binding,
      resource: 'buffer' in r ? r : { buffer: r },
    })),
  });
}
