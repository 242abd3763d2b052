// How pages describe a training backend to a person.

import { adapterName } from '../gpu/context.ts';
import type { BackendReport } from '../worker/api.ts';
import { formatNumber } from './dom.ts';

export function describeDevice(report: BackendReport): [string, string][] {
  const facts: [string, string][] = [['Backend', report.backend === 'webgpu' ? 'WebGPU' : 'CPU (WebAssembly)']];
  const a = report.adapter;
  if (a) {
    const name = adapterName(a) || 'unnamed adapter';
    facts.push(['Adapter', `${name}${a.isFallbackAdapter ? ' (software fallback)' : ''}`]);
    facts.push(['Timestamp queries', a.features.includes('timestamp-query') ? 'yes' : 'no (wall-clock timing)']);
  }
  facts.push(['Matmul kernel', `${report.kernel}${report.tuning ? ', autotuned' : ''}`]);
  facts.push(['Measured matmul speed', `${formatNumber(report.flopsPerMs / 1e6, 2)} GFLOP/s`]);
  facts.push(['Self-test', report.selfTest]);
  return facts;
}
