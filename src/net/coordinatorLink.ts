// Keeps a contributor connected to the coordinator: connect, and when the attempt fails or the
// channel closes (the relay or the coordinator restarted, the network blinked), wait with
// exponential backoff and jitter and connect again, handing out a fresh FrameChannel each time.
// The connect function is injected, so this runs in unit tests against the in-memory pair.

import { DEFAULT_BACKOFF, backoffDelayMs, checkBackoffPolicy, type BackoffPolicy } from './backoff.ts';
import type { FrameChannel } from './frameChannel.ts';

export type CoordinatorLinkState =
  | { readonly kind: 'idle' }
  | { readonly kind: 'connecting'; readonly attempt: number }
  | { readonly kind: 'open'; readonly channel: FrameChannel }
  /** The open channel closed; a retry follows at once. */
  | { readonly kind: 'closed'; readonly reason: string }
  | { readonly kind: 'retrying'; readonly attempt: number; readonly delayMs: number; readonly reason: string }
  | { readonly kind: 'stopped'; readonly reason: string };

export interface CoordinatorLinkOptions {
  readonly backoff?: BackoffPolicy;
  /** Uniform samples in [0, 1) for jitter. */
  readonly random?: () => number;
  /** A channel that stayed open this long resets the backoff to its first step (default 10 s). */
  readonly stableAfterMs?: number;
}

export class ReconnectingCoordinatorLink {
  /** Every state change, in order. */
  onState: ((state: CoordinatorLinkState) => void) | null = null;
  /** Each newly opened channel; the previous one is closed by then. */
  onChannel: ((channel: FrameChannel) => void) | null = null;

  readonly #connect: () => Promise<FrameChannel>;
  readonly #backoff: BackoffPolicy;
  readonly #random: () => number;
  readonly #stableAfterMs: number;
  #state: CoordinatorLinkState = { kind: 'idle' };
  /** Failed attempts since the last stable channel. */
  #failures = 0;
  /** Bumped by stop() and retryNow(), so that late results of an abandoned attempt are discarded. */
  #generation = 0;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #openedAt = 0;

  constructor(connect: () => Promise<FrameChannel>, options: CoordinatorLinkOptions = {}) {
    this.#connect = connect;
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
    checkBackoffPolicy(this.#backoff);
    this.#random = options.random ?? Math.random;
    this.#stableAfterMs = options.stableAfterMs ?? 10_000;
  }

  get state(): CoordinatorLinkState {
    return this.#state;
  }

  /** The open channel, or null while (re)connecting. */
  get channel(): FrameChannel | null {
    return this.#state.kind === 'open' ? this.#state.channel : null;
  }

  start(): void {
    if (this.#state.kind !== 'idle' && this.#state.kind !== 'stopped') return;
    this.#failures = 0;
    this.#attempt();
  }

  /** Closes the channel and stops retrying until start() is called again. */
  stop(reason = 'stopped by the contributor'): void {
    if (this.#state.kind === 'idle' || this.#state.kind === 'stopped') return;
    this.#generation++;
    this.#clearRetryTimer();
    const channel = this.channel;
    this.#setState({ kind: 'stopped', reason });
    channel?.close(reason);
  }

  /** While waiting to retry, try now (the browser came back online, a person pressed a button). */
  retryNow(): void {
    if (this.#state.kind !== 'retrying') return;
    this.#clearRetryTimer();
    this.#attempt();
  }

  #attempt(): void {
    const generation = ++this.#generation;
    this.#setState({ kind: 'connecting', attempt: this.#failures + 1 });
    let pending: Promise<FrameChannel>;
    try {
      pending = this.#connect();
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (channel) => {
        if (generation !== this.#generation) {
          channel.close('the connection attempt was abandoned');
          return;
        }
        this.#opened(channel, generation);
      },
      (error: unknown) => {
        if (generation !== this.#generation) return;
        this.#scheduleRetry(error instanceof Error ? error.message : String(error));
      },
    );
  }

  #opened(inner: FrameChannel, generation: number): void {
    if (!inner.open) {
      this.#scheduleRetry('the channel closed as soon as it opened');
      return;
    }
    this.#openedAt = Date.now();
    const channel = new ObservedFrameChannel(inner, (reason) => {
      if (generation !== this.#generation) return;
      if (Date.now() - this.#openedAt >= this.#stableAfterMs) this.#failures = 0;
      this.#setState({ kind: 'closed', reason });
      this.#scheduleRetry(reason);
    });
    this.#setState({ kind: 'open', channel });
    this.onChannel?.(channel);
  }

  #scheduleRetry(reason: string): void {
    this.#failures++;
    const delayMs = backoffDelayMs(this.#failures, this.#random(), this.#backoff);
    this.#setState({ kind: 'retrying', attempt: this.#failures + 1, delayMs, reason });
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#attempt();
    }, delayMs);
  }

  #clearRetryTimer(): void {
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
  }

  #setState(state: CoordinatorLinkState): void {
    this.#state = state;
    this.onState?.(state);
  }
}

/** Hands the link's user a channel whose onClose is theirs, while the link still learns of the close. */
class ObservedFrameChannel implements FrameChannel {
  readonly #inner: FrameChannel;
  #onClose: ((reason: string) => void) | null = null;
  #closeReason: string | null = null;
  #closeReported = false;

  constructor(inner: FrameChannel, afterClose: (reason: string) => void) {
    this.#inner = inner;
    inner.onClose = (reason) => {
      this.#closeReason = reason;
      if (this.#onClose) this.#reportClose();
      afterClose(reason);
    };
  }

  get peerId(): string {
    return this.#inner.peerId;
  }
  get onFrame(): ((frame: Uint8Array) => void) | null {
    return this.#inner.onFrame;
  }
  set onFrame(handler: ((frame: Uint8Array) => void) | null) {
    this.#inner.onFrame = handler;
  }
  get onClose(): ((reason: string) => void) | null {
    return this.#onClose;
  }
  set onClose(handler: ((reason: string) => void) | null) {
    this.#onClose = handler;
    if (handler && this.#closeReason !== null && !this.#closeReported) this.#reportClose();
  }
  get bufferedAmount(): number {
    return this.#inner.bufferedAmount;
  }
  get open(): boolean {
    return this.#inner.open;
  }
  send(frame: Uint8Array): Promise<void> {
    return this.#inner.send(frame);
  }
  close(reason?: string): void {
    this.#inner.close(reason);
  }

  #reportClose(): void {
    this.#closeReported = true;
    this.#onClose!(this.#closeReason!);
  }
}
