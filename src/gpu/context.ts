// The GPU context: one adapter, one device asked for the adapter's real limits, and what a
// contributor's page needs to know about them. Device loss is reported, never hidden.

import { BufferPool } from './buffers.ts';
import { PipelineCache } from './pipelines.ts';

export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A fallback or software adapter (SwiftShader, WARP, llvmpipe): slow, but correct. */
  isFallbackAdapter: boolean;
  features: string[];
  limits: {
    maxStorageBufferBindingSize: number;
    maxBufferSize: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
    maxComputeWorkgroupsPerDimension: number;
    maxStorageBuffersPerShaderStage: number;
  };
}

/** An adapter as people name it: vendor, architecture, device and description, where known ('' when none is). */
export function adapterName(a: Pick<AdapterReport, 'vendor' | 'architecture' | 'device' | 'description'>): string {
  return [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' ');
}

export interface GpuContextOptions {
  /** The WebGPU entry point; navigator.gpu by default (Node passes the `webgpu` package's). */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
}

/** Features used when present; everything works without them. */
const OPTIONAL_FEATURES: GPUFeatureName[] = ['timestamp-query'];

const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|warp|software|basic render/i;

export class GpuNotAvailableError extends Error {
  override name = 'GpuNotAvailableError';
}

export class GpuContext {
  readonly pipelines: PipelineCache;
  readonly buffers: BufferPool;
  /** Resolves when the device is lost, for whatever reason (destroy() included). */
  readonly lost: Promise<GPUDeviceLostInfo>;
  /** Counters for the benchmark's "submits and readbacks per micro-batch" figure. */
  readonly counters = { submits: 0, readbacks: 0 };
  private isLost = false;
  private uncapturedErrors: string[] = [];

  private constructor(
    readonly adapter: GPUAdapter,
    readonly device: GPUDevice,
    readonly report: AdapterReport,
  ) {
    this.pipelines = new PipelineCache(device);
    this.buffers = new BufferPool(device);
    this.lost = device.lost.then((info) => {
      this.isLost = true;
      return info;
    });
    device.addEventListener('uncapturederror', (event) => {
      const error = (event as GPUUncapturedErrorEvent).error;
      this.uncapturedErrors.push(error.message);
      console.error(`WebGPU uncaptured error: ${error.message}`);
    });
  }

  static async create(options: GpuContextOptions = {}): Promise<GpuContext> {
    const gpu = options.gpu ?? (typeof navigator !== 'undefined' ? navigator.gpu : undefined);
    if (!gpu) {
      throw new GpuNotAvailableError(
        'WebGPU is not available here: navigator.gpu is missing. It needs a secure context ' +
          '(https or http://localhost) and a browser with WebGPU enabled.',
      );
    }
    const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
    if (!adapter) {
      throw new GpuNotAvailableError('WebGPU is present but no GPU adapter was found (blocklisted or disabled GPU).');
    }
    const features = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
    const l = adapter.limits;
    // Ask for the adapter's real limits: the defaults are far below what most GPUs offer.
    const device = await adapter.requestDevice({
      requiredFeatures: features,
      requiredLimits: {
        maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
        maxBufferSize: l.maxBufferSize,
        maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
        maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
        maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
        maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      },
    });
    return new GpuContext(adapter, device, describeAdapter(adapter, device));
  }

  get hasTimestamps(): boolean {
    return this.device.features.has('timestamp-query');
  }

  get deviceLost(): boolean {
    return this.isLost;
  }

  /** Throws if the device is gone, so callers fail fast instead of waiting on dead work. */
  assertAlive(): void {
    if (this.isLost) throw new DeviceLostError('The GPU device was lost.');
  }

  /** Errors the device reported outside any error scope since the last call. */
  takeUncapturedErrors(): string[] {
    const errors = this.uncapturedErrors;
    this.uncapturedErrors = [];
    return errors;
  }

  submit(commands: GPUCommandBuffer[]): void {
    this.assertAlive();
    this.device.queue.submit(commands);
    this.counters.submits++;
  }

  destroy(): void {
    this.buffers.destroyAll();
    this.device.destroy();
  }
}

export class DeviceLostError extends Error {
  override name = 'DeviceLostError';
}

function describeAdapter(adapter: GPUAdapter, device: GPUDevice): AdapterReport {
  const info = adapter.info;
  const text = [info.vendor, info.architecture, info.device, info.description].join(' ');
  // Chromium reports SwiftShader as a fallback adapter; older builds only name it.
  const fallbackFlag = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  const l = device.limits;
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isFallbackAdapter: fallbackFlag || SOFTWARE_ADAPTER.test(text),
    features: [...device.features].sort(),
    limits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    },
  };
}

/** A stable key naming this adapter, for caches of per-device choices (autotune). */
export function adapterKey(report: AdapterReport): string {
  return [report.vendor, report.architecture, report.device, report.description, report.isFallbackAdapter]
    .map((s) => String(s || '-'))
    .join('|');
}
