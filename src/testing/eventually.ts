// Waiting in tests for something asynchronous to happen. The limit catches a hang, not a slow
// machine: it is far above any real wait, and a check that passes returns at once.

import { vi } from 'vitest';

export const HANG_LIMIT_MS = 30_000;

/** Retries `check` until it stops throwing (resolving with its value), or fails after `timeoutMs`. */
export function eventually<T>(check: () => T | Promise<T>, timeoutMs = HANG_LIMIT_MS): Promise<T> {
  return vi.waitFor(check, { timeout: timeoutMs, interval: 5 });
}
