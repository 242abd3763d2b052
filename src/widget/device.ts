// What computes and what the visitor gave, in the words the widget's badge and panel use:
// "GPU" only on the WebGPU backend, "CPU" on the WebAssembly one, with the adapter or the
// threads and cores; results, examples, compute time and the credit their receipts proved.

import { adapterName } from '../gpu/context.ts';
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
    const name = a ? adapterName(a) : '';
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

/** What this visitor gave this job, as the frame knows it. */
export interface WidgetContribution {
  /** Results this page sent and examples in them. */
  results: number;
  examples: number;
  computeMs: number;
  /** Results counted in closed rounds, each proven by a receipt this page verified. */
  verified: { results: number; examples: number };
}

const count = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;

/** Compute time as "0.4 s", "45 s", "3 min 05 s" or "2 h 04 min". */
export function formatComputeTime(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor(s / 60) % 60).padStart(2, '0')} min`;
}

/** The panel's contribution line. */
export function contributionLine(c: WidgetContribution): string {
  if (c.results === 0) return 'You have not sent a result yet.';
  return `You sent ${count(c.results, 'result')} (${count(c.examples, 'example')}, ${formatComputeTime(c.computeMs)} of compute); ` +
    `${count(c.verified.results, 'result')} (${count(c.verified.examples, 'example')}) counted, proven by receipts this page checked.`;
}
