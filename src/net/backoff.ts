// How long to wait before the next reconnection attempt: exponential growth with a cap, and
// "equal jitter" (half fixed, half random) so that a thousand contributors whose coordinator
// restarted do not all knock on the relay in the same second.

export interface BackoffPolicy {
  /** Delay before the first retry. */
  readonly initialDelayMs: number;
  /** Each failed attempt multiplies the delay by this. */
  readonly multiplier: number;
  /** The delay never grows past this. */
  readonly maxDelayMs: number;
  /** Fraction of the delay that is random, 0 (none) to 1 (all). */
  readonly jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialDelayMs: 500, multiplier: 2, maxDelayMs: 10_000, jitter: 0.5 };

/**
 * The delay before retry number `attempt` (1 = the first retry after a failure).
 * `random` is a uniform sample in [0, 1): pass Math.random() in production, a constant in tests.
 */
export function backoffDelayMs(attempt: number, random: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  checkBackoffPolicy(policy);
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RangeError(`A retry attempt is numbered from 1, got ${attempt}.`);
  }
  if (!(random >= 0 && random < 1)) throw new RangeError(`random must be in [0, 1), got ${random}.`);
  // Math.min before pow overflows: the cap is reached long before attempt 1000.
  const exponent = Math.min(attempt - 1, 1000);
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.multiplier ** exponent);
  return Math.round(ceiling * (1 - policy.jitter) + ceiling * policy.jitter * random);
}

export function checkBackoffPolicy(policy: BackoffPolicy): void {
  const { initialDelayMs, multiplier, maxDelayMs, jitter } = policy;
  if (!(initialDelayMs > 0) || !(multiplier >= 1) || !(maxDelayMs >= initialDelayMs) || !(jitter >= 0 && jitter <= 1)) {
    throw new RangeError(
      `A backoff policy needs initialDelayMs > 0, multiplier ≥ 1, maxDelayMs ≥ initialDelayMs and 0 ≤ jitter ≤ 1; got ${JSON.stringify(policy)}.`,
    );
  }
}
