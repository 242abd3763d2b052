// How pages describe a training device to a person.

import type { DeviceReport } from '../worker/api.ts';
import { formatNumber } from './dom.ts';

export function describeDevice(report: DeviceReport): [string, string][] {
  const a = report.adapter;
  const name = [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' ') || 'unnamed adapter';
  return [
    ['Backend', report.backend === 'webgpu' ? 'WebGPU' : report.backend],
    ['Adapter', `${name}${a.isFallbackAdapter ? ' (software fallback)' : ''}`],
    ['Matmul kernel', `${report.matmulConfig}${report.tuning ? ', autotuned' : ''}`],
    ['Measured matmul speed', `${formatNumber(report.flopsPerMs / 1e6, 2)} GFLOP/s`],
    ['Timestamp queries', a.features.includes('timestamp-query') ? 'yes' : 'no (wall-clock timing)'],
    ['Self-test', report.selfTest],
  ];
}
