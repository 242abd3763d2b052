// What computes, in the words the widget's badge and panel use: "GPU" only on the WebGPU
// backend, "CPU" on the WebAssembly one, with the adapter or the threads and cores.

import type { BackendReport } from '../worker/api.ts';
import type { FrameMessage } from './messages.ts';

type Status = Extract<FrameMessage, { type: 'swarmgrad:status' }>;
export type WidgetDevice = NonNullable<Status['device']>;

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The device of a chosen backend (null before one is), `cores` the browser's logical cores. */
export function deviceOf(backend: BackendReport | null, cores: number): WidgetDevice | null {
  if (!backend) return null;
  if (backend.backend === 'webgpu') {
    const a = backend.adapter;
    const name = a ? [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' ') : '';
    return { kind: 'gpu', detail: `WebGPU, ${name || 'an unnamed adapter'}${a?.isFallbackAdapter ? ' (software)' : ''}`.slice(0, 300) };
  }
  const threads = backend.cpu?.threads ?? 1;
  const simd = backend.cpu ? `, ${backend.cpu.simd} SIMD` : '';
  return { kind: 'cpu', detail: `WebAssembly, ${plural(threads, 'thread')} of ${plural(Math.max(1, Math.round(cores)), 'core')}${simd}` };
}

/** The panel's line for it. */
export function deviceLine(device: WidgetDevice | null): string {
  return device ? `Computing on your ${device.kind === 'gpu' ? 'GPU' : 'CPU'} (${device.detail}).` : 'Choosing your GPU or CPU…';
}

/** The badge's words: what computes is named once the frame knows it (GPU only on WebGPU, CPU on WebAssembly). */
export function badgeLabel(status: Pick<Status, 'phase' | 'device'> | null): string {
  if (!status || status.phase === 'awaiting-consent') return 'Lend idle compute?';
  const what = status.device ? (status.device.kind === 'gpu' ? 'GPU' : 'CPU') : 'Compute';
  const state: Record<Exclude<Status['phase'], 'awaiting-consent'>, string> = {
    starting: 'starting',
    computing: 'computing',
    idle: 'ready, not computing',
    paused: 'paused',
    stopped: 'stopped',
    failed: 'unavailable',
  };
  return `${what}: ${state[status.phase]}`;
}
