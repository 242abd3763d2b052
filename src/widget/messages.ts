// The postMessage API between a host page's widget script and the widget frame (served from
// the coordinator's origin). One schema for both ends; every message is validated and every
// sender's origin checked. There is deliberately no "start" message: only a click inside
// the frame starts compute, so a host page cannot start it.

import { z } from 'zod';

export const WIDGET_API_VERSION = 1;

const usageLimit = z.number().min(0.1).max(1);

/** Host page → frame. */
export const HostMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('swarmgrad:init'), v: z.literal(WIDGET_API_VERSION), project: z.string().min(1).max(200) }).strict(),
  /** Pause on the host's behalf (a game entering a demanding scene). */
  z.object({ type: z.literal('swarmgrad:pause'), v: z.literal(WIDGET_API_VERSION) }).strict(),
  /** Lift the host's pause. Does nothing without the visitor's consent. */
  z.object({ type: z.literal('swarmgrad:resume'), v: z.literal(WIDGET_API_VERSION) }).strict(),
  /** The host page's frame cadence since the last report, measured by the widget script. */
  z
    .object({
      type: z.literal('swarmgrad:frames'),
      v: z.literal(WIDGET_API_VERSION),
      frames: z.number().int().min(0).max(10_000),
      dropped: z.number().int().min(0).max(10_000),
      p95Ms: z.number().min(0).max(60_000),
      hidden: z.boolean(),
    })
    .strict(),
]);

export const WidgetPhaseSchema = z.enum(['awaiting-consent', 'starting', 'computing', 'idle', 'paused', 'stopped', 'failed']);

/** Frame → host page. Carries no key, no contributor id, nothing the host could sign with. */
export const FrameMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('swarmgrad:ready'), v: z.literal(WIDGET_API_VERSION) }).strict(),
  z
    .object({
      type: z.literal('swarmgrad:status'),
      v: z.literal(WIDGET_API_VERSION),
      phase: WidgetPhaseSchema,
      /** True exactly while the worker is computing a lease. */
      computing: z.boolean(),
      consent: z.boolean(),
      /** Why it is paused, when it is. */
      pausedBy: z.array(z.enum(['visitor', 'host', 'hidden', 'battery', 'device-lost', 'budget', 'metered'])),
      dutyCycle: z.number().min(0).max(1),
      usageLimit,
      tasks: z.number().int().min(0),
      examples: z.number().int().min(0),
      message: z.string().max(500),
      /** Compute time so far (ms), and the results and examples counted in closed rounds with a receipt this page verified. */
      computeMs: z.number().min(0),
      verified: z.object({ results: z.number().int().min(0), examples: z.number().int().min(0) }).strict(),
      /** What computes, once the backend is chosen (null before): the badge names it, the panel describes it. */
      device: z.object({ kind: z.enum(['gpu', 'cpu']), detail: z.string().max(300) }).strict().nullable(),
    })
    .strict(),
]);

export type HostMessage = z.infer<typeof HostMessageSchema>;
export type FrameMessage = z.infer<typeof FrameMessageSchema>;
export type WidgetPhase = z.infer<typeof WidgetPhaseSchema>;
export type PauseReason = Extract<FrameMessage, { type: 'swarmgrad:status' }>['pausedBy'][number];

export type Received<T> = { kind: 'message'; message: T } | { kind: 'ignored'; reason: string } | { kind: 'invalid'; error: string };

/**
 * Check one MessageEvent: from `expectedSource` (the other window) at `expectedOrigin`, and
 * well-formed. Foreign messages (other origins, other windows, other libraries' traffic
 * without our prefix) are ignored quietly; ours that do not validate are an error.
 */
export function receive<T>(
  schema: z.ZodType<T>,
  event: { origin: string; data: unknown; source?: unknown },
  expectedOrigin: string,
  expectedSource?: unknown,
): Received<T> {
  if (event.origin !== expectedOrigin) return { kind: 'ignored', reason: `message from ${event.origin}, expected ${expectedOrigin}` };
  if (expectedSource !== undefined && event.source !== expectedSource) return { kind: 'ignored', reason: 'message from another window' };
  const data = event.data as { type?: unknown } | null;
  if (typeof data !== 'object' || data === null || typeof data.type !== 'string' || !data.type.startsWith('swarmgrad:')) {
    return { kind: 'ignored', reason: 'not a swarmgrad widget message' };
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`).join('; ');
    return { kind: 'invalid', error: `bad swarmgrad widget message "${data.type}": ${issues}` };
  }
  return { kind: 'message', message: parsed.data };
}

/** An origin as the browser writes it (scheme://host[:port]), or an error naming what was given. */
export function normalizeOrigin(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`"${text}" is not a URL; give the coordinator as https://host[:port]`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`"${text}" is not an http(s) origin`);
  return url.origin;
}
