// The matmul family (shaders/matmul.wgsl): tile configurations, and an op that binds one
// problem shape to one configuration.

import { UNIFORM } from '../gpu/buffers.ts';
import type { GpuContext } from '../gpu/context.ts';
import type { Kernel } from '../gpu/pipelines.ts';
import type { ComputeRecorder } from '../gpu/recorder.ts';
import { renderWgsl } from '../gpu/template.ts';
import { WGSL } from './shaders.ts';

export type MatmulLayout = 'nn' | 'nt' | 'tn';
export type Activation = 'none' | 'relu' | 'gelu';

export interface MatmulConfig {
  /** Rows of C per invocation (a multiple of 4). */
  tm: number;
  /** vec4 columns of C per invocation: each invocation computes tm × 4·vn outputs. */
  vn: number;
  wgX: number;
  wgY: number;
  /** Stage tiles in workgroup memory (needs wgX = wgY). */
  shared: boolean;
}

/** The versions the autotuner chooses between; every one is correct for every shape. */
export const MATMUL_CONFIGS: readonly MatmulConfig[] = [
  { tm: 4, vn: 1, wgX: 8, wgY: 8, shared: false },
  { tm: 4, vn: 2, wgX: 8, wgY: 8, shared: false },
  { tm: 8, vn: 1, wgX: 8, wgY: 8, shared: false },
  { tm: 4, vn: 2, wgX: 16, wgY: 4, shared: false },
  { tm: 4, vn: 1, wgX: 8, wgY: 8, shared: true },
  { tm: 4, vn: 2, wgX: 8, wgY: 8, shared: true },
  { tm: 8, vn: 2, wgX: 8, wgY: 8, shared: true },
  { tm: 4, vn: 1, wgX: 16, wgY: 16, shared: true },
];

export function configName(c: MatmulConfig): string {
  return `${c.tm}x${4 * c.vn}_wg${c.wgX}x${c.wgY}_${c.shared ? 'shared' : 'direct'}`;
}

export function parseConfigName(name: string): MatmulConfig {
  const m = /^(\d+)x(\d+)_wg(\d+)x(\d+)_(shared|direct)$/.exec(name);
  if (!m) throw new Error(`Not a matmul configuration name: ${JSON.stringify(name)}`);
  return { tm: +m[1], vn: +m[2] / 4, wgX: +m[3], wgY: +m[4], shared: m[5] === 'shared' };
}

/** Bytes of workgroup memory and invocations a configuration needs, to filter by device limits. */
export function configFits(c: MatmulConfig, limits: GPUSupportedLimits | { maxComputeWorkgroupStorageSize: number; maxComputeInvocationsPerWorkgroup: number }): boolean {
  const invocations = c.wgX * c.wgY;
  const shared = c.shared ? 16 * (c.wgY * c.tm * c.wgX + 4 * c.wgY * c.wgX * c.vn) : 0;
  return invocations <= limits.maxComputeInvocationsPerWorkgroup && shared <= limits.maxComputeWorkgroupStorageSize;
}

export interface MatmulShape {
  layout: MatmulLayout;
  m: number;
  n: number;
  k: number;
}

export interface MatmulEpilogue {
  bias?: boolean;
  activation?: Activation;
  /** Also store the pre-activation (bias added, activation not applied). */
  preact?: boolean;
}

export function matmulFlops(s: { m: number; n: number; k: number }): number {
  return 2 * s.m * s.n * s.k;
}

function validateShape(s: MatmulShape): void {
  for (const d of ['m', 'n', 'k'] as const) {
    if (!Number.isInteger(s[d]) || s[d] < 1) throw new Error(`matmul ${d} must be a positive integer, got ${s[d]}`);
  }
  if (!['nn', 'nt', 'tn'].includes(s.layout)) throw new Error(`matmul layout must be nn, nt or tn, got ${s.layout}`);
}

/** The template values for a shape, epilogue and configuration. */
export function matmulTemplateParams(s: MatmulShape, e: MatmulEpilogue, c: MatmulConfig) {
  if (c.tm % 4 !== 0) throw new Error(`matmul tm must be a multiple of 4, got ${c.tm}`);
  if (c.shared && c.wgX !== c.wgY) throw new Error(`a shared-memory matmul needs wgX = wgY, got ${c.wgX}×${c.wgY}`);
  const aTrans = s.layout === 'tn';
  const bTrans = s.layout === 'nt';
  const bias = !!e.bias;
  const preact = !!e.preact;
  return {
    A_TRANS: aTrans,
    B_TRANS: bTrans,
    A_VEC4: (aTrans ? s.m : s.k) % 4 === 0,
    B_VEC4: (bTrans ? s.k : s.n) % 4 === 0,
    C_VEC4: s.n % 4 === 0,
    TM: c.tm,
    TM4: c.tm / 4,
    VN: c.vn,
    TN: 4 * c.vn,
    WG_X: c.wgX,
    WG_Y: c.wgY,
    SHARED: c.shared,
    BIAS: bias,
    ACT_RELU: e.activation === 'relu',
    ACT_GELU: e.activation === 'gelu',
    PREACT: preact,
    BIAS_BINDING: 4,
    PREACT_BINDING: bias ? 5 : 4,
  };
}

/**
 * One matmul of a fixed shape, epilogue and configuration: compiled kernel plus its dims
 * uniform. Encode it as often as needed; buffers are given per encode.
 */
export class MatmulOp {
  private constructor(
    readonly shape: MatmulShape,
    readonly epilogue: MatmulEpilogue,
    readonly config: MatmulConfig,
    private readonly kernel: Kernel,
    private readonly dims: GPUBuffer,
  ) {}

  static async create(ctx: GpuContext, shape: MatmulShape, epilogue: MatmulEpilogue, config: MatmulConfig): Promise<MatmulOp> {
    validateShape(shape);
    const params = matmulTemplateParams(shape, epilogue, config);
    const code = WGSL.gelu + '\n' + renderWgsl(WGSL.matmul, params, 'matmul.wgsl');
    const bindings: ('read' | 'readwrite' | 'uniform')[] = ['read', 'read', 'uniform', 'readwrite'];
    if (epilogue.bias) bindings.push('read');
    if (epilogue.preact) bindings.push('readwrite');
    const act = epilogue.activation ?? 'none';
    const name = `matmul_${shape.layout}_${configName(config)}${epilogue.bias ? '_bias' : ''}${act !== 'none' ? '_' + act : ''}`;
    const kernel = await ctx.pipelines.get({ name, code, bindings });
    const dims = ctx.device.createBuffer({ label: `${name} dims`, size: 16, usage: UNIFORM });
    ctx.device.queue.writeBuffer(dims, 0, new Uint32Array([shape.m, shape.n, shape.k, 0]));
    return new MatmulOp(shape, epilogue, config, kernel, dims);
  }

  get flops(): number {
    return matmulFlops(this.shape);
  }

  get workgroups(): [number, number] {
    const { m, n } = this.shape;
    const c = this.config;
    return [Math.ceil(n / (c.wgX * 4 * c.vn)), Math.ceil(m / (c.wgY * c.tm))];
  }

  encode(
    rec: ComputeRecorder,
    buffers: { a: GPUBufferBinding; b: GPUBufferBinding; c: GPUBufferBinding; bias?: GPUBufferBinding; preact?: GPUBufferBinding },
  ): void {
    const resources: GPUBufferBinding[] = [buffers.a, buffers.b, { buffer: this.dims }, buffers.c];
    if (this.epilogue.bias) {
      if (!buffers.bias) throw new Error('This matmul has a bias epilogue: give a bias buffer');
      resources.push(buffers.bias);
    }
    if (this.epilogue.preact) {
      if (!buffers.preact) throw new Error('This matmul stores pre-activations: give a preact buffer');
      resources.push(buffers.preact);
    }
    rec.dispatch(this.kernel, resources, this.workgroups, this.flops);
  }

  destroy(): void {
    this.dims.destroy();
  }
}
