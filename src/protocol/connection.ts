// A protocol connection over one frame channel: typed messages out (encoded, framed, sent
// with backpressure, one message at a time), validated messages in. A peer that sends
// garbage gets an error message and is disconnected; nothing it sent reaches the handler.

import type { FrameChannel } from '../net/frameChannel.ts';
import { ProtocolError, decodeMessage, encodeMessage } from './codec.ts';
import { FrameReassembler, splitIntoFrames } from './frames.ts';
import {
  COORDINATOR_MESSAGES,
  CONTRIBUTOR_MESSAGES,
  messageTable,
  type AnyMessage,
  type ContributorMessage,
  type CoordinatorMessage,
  type ErrorCode,
} from './messages.ts';

export interface ConnectionHandlers<In> {
  onMessage(message: In): void;
  /** The connection closed: by us, by the peer, or because the peer broke the protocol. */
  onClose?(reason: string): void;
}

const CONTRIBUTOR_TABLE = messageTable(CONTRIBUTOR_MESSAGES);
const COORDINATOR_TABLE = messageTable(COORDINATOR_MESSAGES);

export class ProtocolConnection<In extends AnyMessage, Out extends AnyMessage> {
  private readonly reassembler: FrameReassembler;
  private nextMessageId = 1;
  /** Sends are chained so that the frames of two messages never interleave. */
  private sending: Promise<void> = Promise.resolve();
  private closed = false;
  bytesSent = 0;
  bytesReceived = 0;

  constructor(
    readonly channel: FrameChannel,
    private readonly accepts: ReadonlyMap<string, import('./messages.ts').MessageDefinition>,
    maxMessageBytes: number,
    private readonly handlers: ConnectionHandlers<In>,
  ) {
    this.reassembler = new FrameReassembler({ maxMessageBytes });
    channel.onFrame = (frame) => this.receive(frame);
    channel.onClose = (reason) => this.finish(reason);
  }

  get peerId(): string {
    return this.channel.peerId;
  }

  get isOpen(): boolean {
    return !this.closed && this.channel.open;
  }

  /** Send one message; resolves when all its frames are queued under the high-water mark. */
  send(message: Out): Promise<void> {
    const bytes = encodeMessage(message);
    const id = this.nextMessageId++;
    const next = this.sending.then(async () => {
      if (this.closed) throw new Error(`Cannot send ${message.type}: the connection to ${this.peerId} is closed`);
      for (const frame of splitIntoFrames(bytes, id)) await this.channel.send(frame);
      this.bytesSent += bytes.length;
    });
    // A failed send must not block the ones after it; the caller still sees its own error.
    this.sending = next.catch(() => {});
    return next;
  }

  /** Tell the peer why, then close. */
  async fail(code: ErrorCode, message: string): Promise<void> {
    if (this.closed) return;
    try {
      await this.send({ type: 'error', body: { code, message: message.slice(0, 1000), fatal: true }, tensors: {} } as Out);
    } catch {
      // The channel may already be gone; closing below is what matters.
    }
    this.close(`${code}: ${message}`);
  }

  /**
   * Close once every message queued so far has left the channel's buffer (the one saying why
   * among them), or after `drainTimeoutMs` if a stalled peer never takes it.
   */
  async closeWhenSent(reason: string, drainTimeoutMs = 2_000): Promise<void> {
    await this.sending;
    const deadline = Date.now() + drainTimeoutMs;
    while (this.channel.open && this.channel.bufferedAmount > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    this.close(reason);
  }

  close(reason = 'closed'): void {
    if (this.closed) return;
    this.channel.close(reason);
    this.finish(reason);
  }

  private receive(frame: Uint8Array): void {
    if (this.closed) return;
    let message: In;
    try {
      const bytes = this.reassembler.push(frame);
      if (!bytes) return;
      this.bytesReceived += bytes.length;
      message = decodeMessage<In>(bytes, this.accepts);
    } catch (error) {
      const e = error instanceof ProtocolError ? error : new ProtocolError('malformed', String(error));
      void this.fail(e.code, e.message);
      return;
    }
    this.handlers.onMessage(message);
  }

  private finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.handlers.onClose?.(reason);
  }
}

/** The coordinator's side of a contributor connection. */
export function coordinatorSide(channel: FrameChannel, maxMessageBytes: number, handlers: ConnectionHandlers<ContributorMessage>) {
  return new ProtocolConnection<ContributorMessage, CoordinatorMessage>(channel, CONTRIBUTOR_TABLE, maxMessageBytes, handlers);
}

/** A contributor's side of its coordinator connection. */
export function contributorSide(channel: FrameChannel, maxMessageBytes: number, handlers: ConnectionHandlers<CoordinatorMessage>) {
  return new ProtocolConnection<CoordinatorMessage, ContributorMessage>(channel, COORDINATOR_TABLE, maxMessageBytes, handlers);
}

/** Room for the largest tensor message of a model with `parameterCount` floats. */
export function maxMessageBytesFor(parameterCount: number): number {
  return 4 * parameterCount + 64 * 1024;
}
