// The browser half of the network tests and measurements: a contributor's connection code
// (src/net/browserPeer.ts and coordinatorLink.ts) driven through window.netTest by Playwright.

import { connectToCoordinator, type CoordinatorConnectOptions } from '../../../src/net/browserPeer.ts';
import { ReconnectingCoordinatorLink, type CoordinatorLinkState } from '../../../src/net/coordinatorLink.ts';
import type { FrameChannel } from '../../../src/net/frameChannel.ts';
import { Tag, decodeControl, encodeControl, sequenceOf, sequencedFrame, type ControlMessage } from '../benchFrames.ts';

const FRAME_BYTES = 16 * 1024;

const params = new URLSearchParams(location.search);
const options: CoordinatorConnectOptions = {
  host: location.hostname,
  port: Number(location.port),
  path: '/peerjs',
  secure: location.protocol === 'https:',
  coordinatorId: params.get('coordinator') ?? 'coordinator',
  // Host candidates only: never a public STUN or TURN server (PeerJS would add its own defaults).
  iceServers: [],
};

const states: string[] = [];
const link = new ReconnectingCoordinatorLink(() => connectToCoordinator(options), {
  backoff: { initialDelayMs: 250, multiplier: 2, maxDelayMs: 2_000, jitter: 0.5 },
});
link.onState = (state: CoordinatorLinkState) => {
  const text = describe(state);
  states.push(text);
  document.querySelector('#link-state')!.textContent = text;
};

function describe(state: CoordinatorLinkState): string {
  switch (state.kind) {
    case 'retrying':
      return `retrying in ${(state.delayMs / 1000).toFixed(1)} s: ${state.reason}`;
    case 'closed':
    case 'stopped':
      return `${state.kind}: ${state.reason}`;
    case 'connecting':
      return `connecting (attempt ${state.attempt})`;
    default:
      return state.kind;
  }
}

function channel(): FrameChannel {
  const open = link.channel;
  if (!open) throw new Error(`no open channel; link state: ${states.at(-1)}`);
  return open;
}

/** Resolves with the next CONTROL frame; other frames go to `other`. */
function listen(ch: FrameChannel, other: (frame: Uint8Array) => void): () => Promise<ControlMessage> {
  const waiting: ((m: ControlMessage) => void)[] = [];
  ch.onFrame = (frame) => {
    if (frame[0] === Tag.CONTROL) waiting.shift()?.(decodeControl(frame));
    else other(frame);
  };
  return () => new Promise((resolve) => waiting.push(resolve));
}

async function sha256Hex(parts: Uint8Array[]): Promise<string> {
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  const all = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    all.set(p, offset);
    offset += p.byteLength;
  }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

const netTest = {
  states,
  /** Time to a usable channel, from nothing (relay registration, offer/answer, ICE, DTLS, SCTP). */
  async timeConnect(): Promise<number> {
    const started = performance.now();
    const ch = await connectToCoordinator(options);
    const ms = performance.now() - started;
    ch.close('measured');
    return ms;
  },
  startLink(): void {
    link.start();
  },
  linkState(): string {
    return states.at(-1) ?? 'idle';
  },
  /** Sends `bytes` of random frames to be echoed; compares SHA-256 of what went and what came back. */
  async echo(bytes: number): Promise<{ sentSha256: string; receivedSha256: string; receivedBytes: number; ms: number }> {
    const ch = channel();
    const sent: Uint8Array[] = [];
    const received: Uint8Array[] = [];
    let receivedBytes = 0;
    let done: () => void = () => {};
    const allBack = new Promise<void>((resolve) => (done = resolve));
    listen(ch, (frame) => {
      received.push(frame);
      receivedBytes += frame.byteLength;
      if (receivedBytes >= bytes) done();
    });
    const started = performance.now();
    for (let offset = 0; offset < bytes; offset += FRAME_BYTES) {
      const frame = new Uint8Array(Math.min(FRAME_BYTES, bytes - offset));
      crypto.getRandomValues(frame);
      frame[0] = Tag.ECHO;
      sent.push(frame);
      await ch.send(frame);
    }
    await allBack;
    const ms = performance.now() - started;
    return { sentSha256: await sha256Hex(sent), receivedSha256: await sha256Hex(received), receivedBytes, ms };
  },
  /** Page → coordinator: `bytes` in 16 KiB frames; the coordinator reports what it got and its CPU time. */
  async upload(bytes: number): Promise<{ ms: number; report: ControlMessage }> {
    const ch = channel();
    const nextControl = listen(ch, () => {});
    await ch.send(encodeControl({ op: 'reset-cpu' }));
    const started = performance.now();
    let frames = 0;
    for (let offset = 0; offset < bytes; offset += FRAME_BYTES) {
      await ch.send(sequencedFrame(Tag.SINK, frames++, Math.min(FRAME_BYTES, bytes - offset)));
    }
    const reply = nextControl();
    await ch.send(encodeControl({ op: 'sink-report' }));
    const report = await reply;
    return { ms: performance.now() - started, report };
  },
  /** Coordinator → page: `bytes` in 16 KiB frames, checked for order here. */
  async download(bytes: number): Promise<{ ms: number; receivedBytes: number; outOfOrder: number; report: ControlMessage }> {
    const ch = channel();
    let receivedBytes = 0;
    let frames = 0;
    let outOfOrder = 0;
    const nextControl = listen(ch, (frame) => {
      if (frame[0] !== Tag.SOURCE || sequenceOf(frame) !== frames) outOfOrder++;
      frames++;
      receivedBytes += frame.byteLength;
    });
    const started = performance.now();
    const done = nextControl();
    await ch.send(encodeControl({ op: 'source', bytes, frameBytes: FRAME_BYTES }));
    const report = await done;
    return { ms: performance.now() - started, receivedBytes, outOfOrder, report };
  },
  /** What a contributor would see when connecting with these settings changed. */
  async connectError(overrides: Partial<Pick<CoordinatorConnectOptions, 'coordinatorId' | 'port'>>): Promise<string> {
    try {
      const ch = await connectToCoordinator({ ...options, ...overrides, timeoutMs: 15_000 });
      ch.close();
      return 'connected';
    } catch (error) {
      return (error as Error).message;
    }
  },
};

declare global {
  interface Window {
    netTest: typeof netTest;
  }
}
window.netTest = netTest;
