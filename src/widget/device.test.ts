import { describe, expect, it } from 'vitest';
import type { BackendReport } from '../worker/api.ts';
import { badgeLabel, contributionLine, deviceLine, deviceOf, formatComputeTime } from './device.ts';

const cpu: BackendReport = { backend: 'cpu', cpu: { threads: 1, simd: 'relaxed', crossOriginIsolated: false }, kernel: 'wasm gemm 4×8', tuning: null, flopsPerMs: 1e7, selfTest: 'passed' };
const gpu: BackendReport = {
  backend: 'webgpu', kernel: 'tiled 64', tuning: null, flopsPerMs: 1e9, selfTest: 'passed',
  adapter: { vendor: 'nvidia', architecture: 'ada', device: '', description: 'RTX 4070', isFallbackAdapter: false, features: [], limits: { maxStorageBufferBindingSize: 1, maxBufferSize: 1, maxComputeWorkgroupStorageSize: 1, maxComputeInvocationsPerWorkgroup: 1, maxComputeWorkgroupsPerDimension: 1, maxStorageBuffersPerShaderStage: 1 } },
};

describe('what the widget says computes', () => {
  it('names the CPU on the WebAssembly backend, with its threads, cores and SIMD', () => {
    expect(deviceOf(cpu, 8)).toEqual({ kind: 'cpu', detail: 'WebAssembly, 1 thread of 8 cores, relaxed SIMD' });
    expect(deviceOf({ ...cpu, cpu: { threads: 2, simd: 'plain', crossOriginIsolated: true } }, 1)).toEqual({ kind: 'cpu', detail: 'WebAssembly, 2 threads of 1 core, plain SIMD' });
    expect(deviceLine(deviceOf(cpu, 2))).toBe('Computing on your CPU (WebAssembly, 1 thread of 2 cores, relaxed SIMD).');
  });

  it('names the GPU only on WebGPU, with its adapter', () => {
    expect(deviceOf(gpu, 8)).toEqual({ kind: 'gpu', detail: 'WebGPU, nvidia ada RTX 4070' });
    expect(deviceOf({ ...gpu, adapter: undefined }, 8)).toEqual({ kind: 'gpu', detail: 'WebGPU, an unnamed adapter' });
    expect(deviceOf(null, 8)).toBeNull();
    expect(deviceLine(null)).toBe('Choosing your GPU or CPU…');
  });

  it('puts it on the badge once known, and claims neither before', () => {
    expect(badgeLabel(null)).toBe('Lend idle compute?');
    expect(badgeLabel({ phase: 'awaiting-consent', device: null })).toBe('Lend idle compute?');
    expect(badgeLabel({ phase: 'starting', device: null })).toBe('Compute: starting');
    expect(badgeLabel({ phase: 'computing', device: deviceOf(cpu, 2) })).toBe('CPU: computing');
    expect(badgeLabel({ phase: 'idle', device: deviceOf(gpu, 2) })).toBe('GPU: ready, not computing');
    expect(badgeLabel({ phase: 'failed', device: null })).toBe('Compute: unavailable');
  });
});

describe('what the widget says the visitor gave', () => {
  it('counts results, examples, compute time and the credit the receipts proved', () => {
    expect(contributionLine({ results: 0, examples: 0, computeMs: 0, verified: { results: 0, examples: 0 } })).toBe('You have not sent a result yet.');
    expect(contributionLine({ results: 12, examples: 3072, computeMs: 64_500, verified: { results: 1, examples: 256 } })).toBe(
      'You sent 12 results (3,072 examples, 1 min 04 s of compute); 1 result (256 examples) counted, proven by receipts this page checked.',
    );
  });

  it('formats compute time in seconds, minutes or hours', () => {
    expect(formatComputeTime(0)).toBe('0.0 s');
    expect(formatComputeTime(400)).toBe('0.4 s');
    expect(formatComputeTime(12_345)).toBe('12 s');
    expect(formatComputeTime(59_999)).toBe('59 s');
    expect(formatComputeTime(3_599_000)).toBe('59 min 59 s');
    expect(formatComputeTime(7_440_000)).toBe('2 h 04 min');
  });
});
