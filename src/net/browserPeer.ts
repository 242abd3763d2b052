// The contributor's side: PeerJS registers with the relay and dials the coordinator; the frames
// then travel on the raw RTCDataChannel underneath, whose bufferedAmount and low-threshold
// event give backpressure (PeerJS' own send() queues without limit and polls every 50 ms).

import { Peer, type DataConnection, type PeerError } from 'peerjs';
import { explainConnectFailure, type CoordinatorWhereabouts } from './contributorErrors.ts';
import type { FrameChannel, Watermarks } from './frameChannel.ts';
import { selectedRoute, type LinkRoute } from './route.ts';
import { PortFrameChannel, type DataChannelPort, type DataChannelPortEvents } from './portFrameChannel.ts';

export interface CoordinatorConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly secure: boolean;
  readonly coordinatorId: string;
  /** The job owner's STUN/TURN servers (from /api/job); none by default: only host candidates, never a public server. */
  readonly iceServers?: RTCIceServer[];
  /** Which way the link goes once it is open (the selected candidate pair), or null if the browser does not say. */
  readonly onRoute?: (route: LinkRoute | null) => void;
  /** The relay's API key (PeerJS default "peerjs"). */
  readonly key?: string;
  /** Give up on one attempt after this long (default 20 s). */
  readonly timeoutMs?: number;
  /** An ICE link that stays "disconnected" this long counts as lost (default 5 s). */
  readonly disconnectGraceMs?: number;
  readonly watermarks?: Watermarks;
}

/** Connects to the coordinator; rejects with a message a contributor can act on. */
export function connectToCoordinator(opts: CoordinatorConnectOptions): Promise<FrameChannel> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const path = opts.path.endsWith('/') ? opts.path : `${opts.path}/`;
  const where: CoordinatorWhereabouts = {
    relayUrl: `${opts.secure ? 'wss' : 'ws'}://${opts.host}:${opts.port}${path.slice(0, -1)}`,
    coordinatorId: opts.coordinatorId,
    turn: (opts.iceServers ?? []).flatMap((s) => (Array.isArray(s.urls) ? s.urls : [s.urls])).filter((u) => /^turns?:/.test(u)),
  };

  return new Promise<FrameChannel>((resolve, reject) => {
    let lastLoggedError = '';
    const peer = new Peer({
      host: opts.host,
      port: opts.port,
      path,
      secure: opts.secure,
      // PeerJS spreads its options over its defaults: an undefined key would erase the default.
      ...(opts.key ? { key: opts.key } : {}),
      config: { iceServers: opts.iceServers ?? [] },
      // PeerJS drops the message of WebRTC errors it re-emits; its error log still has it. Keep, don't print.
      debug: 1,
      logFunction: (_level, ...parts: unknown[]) => {
        lastLoggedError = parts.map(describeLogPart).join(' ');
      },
    });
    let connection: DataConnection | undefined;
    let settled = false;

    const fail = (kind: string, message: string): void => {
      if (settled) return;
      const detail = message || lastLoggedError.replace(/^(PeerJS:\s*)?Error:\s*/, '');
      settled = true;
      clearTimeout(timer);
      peer.destroy();
      reject(new Error(explainConnectFailure(kind, detail, where, timeoutMs)));
    };
    // Signaling went through but ICE never found a path: a blocked network, not a slow coordinator.
    const timer = setTimeout(() => {
      const ice = connection?.peerConnection?.iceConnectionState;
      if (ice && ice !== 'connected' && ice !== 'completed' && ice !== 'closed') fail('no-path', `ICE ${ice}`);
      else fail('timeout', '');
    }, timeoutMs);

    peer.on('error', (error: PeerError<string>) => fail(error.type, error.message));
    peer.on('open', () => {
      connection = peer.connect(opts.coordinatorId, { serialization: 'raw', reliable: true });
      if (!connection) {
        fail('network', 'the relay connection dropped before dialing');
        return;
      }
      connection.on('error', (error: PeerError<string>) => fail(error.type, error.message));
      connection.on('open', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        // After this the relay is not needed; its errors (say, a relay restart) no longer concern this channel.
        peer.removeAllListeners('error');
        peer.on('error', () => {});
        resolve(openedChannel(peer, connection!, opts));
        if (opts.onRoute) watchRoute(connection!.peerConnection, opts.onRoute);
      });
    });
  });
}

/**
 * Reports the selected candidate pair now and whenever ICE switches to another: the first pair
 * to work is not always the best (a relayed pair may answer first, a direct one later).
 */
function watchRoute(link: RTCPeerConnection, onRoute: (route: LinkRoute | null) => void): void {
  // A report this code cannot read (say, a candidate type it does not know) is no route, not an unhandled rejection.
  const read = () =>
    link
      .getStats()
      .then((report) => selectedRoute(report as unknown as { values(): Iterable<{ id: string; type: string }> }))
      .then(onRoute, () => onRoute(null));
  void read();
  const ice = link.sctp?.transport?.iceTransport;
  if (ice && 'onselectedcandidatepairchange' in ice) ice.addEventListener('selectedcandidatepairchange', () => void read());
}

function describeLogPart(part: unknown): string {
  if (part instanceof Error || (typeof part === 'object' && part !== null && 'message' in part)) {
    const { name, message } = part as { name?: string; message: string };
    return name ? `${name}: ${message}` : message;
  }
  return String(part);
}

function openedChannel(peer: Peer, connection: DataConnection, opts: CoordinatorConnectOptions): FrameChannel {
  const port = new RtcDataChannelPort(connection, opts.disconnectGraceMs ?? 5_000);
  const leaving = new AbortController();
  const channel = new PortFrameChannel(opts.coordinatorId, port, {
    watermarks: opts.watermarks,
    // The relay slot and the RTCPeerConnection go with the channel.
    onClosed: () => {
      leaving.abort();
      port.dispose();
      peer.destroy();
    },
  });
  // Closing here tells the coordinator at once; a tab that just vanishes is noticed only when ICE times out (~30 s).
  if (typeof window !== 'undefined') {
    window.addEventListener('pagehide', () => channel.close('the contributor left the page'), { signal: leaving.signal });
  }
  return channel;
}

/** The RTCDataChannel under a PeerJS DataConnection, watched together with its RTCPeerConnection. */
class RtcDataChannelPort implements DataChannelPort {
  readonly #connection: DataConnection;
  readonly #channel: RTCDataChannel;
  readonly #link: RTCPeerConnection;
  readonly #graceMs: number;
  #events: DataChannelPortEvents | null = null;
  #graceTimer: ReturnType<typeof setTimeout> | null = null;
  #closed = false;
  readonly #abort = new AbortController();

  constructor(connection: DataConnection, graceMs: number) {
    this.#connection = connection;
    this.#channel = connection.dataChannel;
    this.#link = connection.peerConnection;
    this.#graceMs = graceMs;
    this.#channel.binaryType = 'arraybuffer';
  }

  get bufferedAmount(): number {
    return this.#channel.bufferedAmount;
  }

  get bufferedAmountLowThreshold(): number {
    return this.#channel.bufferedAmountLowThreshold;
  }

  set bufferedAmountLowThreshold(bytes: number) {
    this.#channel.bufferedAmountLowThreshold = bytes;
  }

  send(frame: Uint8Array): void {
    this.#channel.send(frame as Uint8Array<ArrayBuffer>);
  }

  listen(events: DataChannelPortEvents): void {
    this.#events = events;
    const signal = this.#abort.signal;
    this.#channel.addEventListener(
      'message',
      (event: MessageEvent<unknown>) => {
        if (event.data instanceof ArrayBuffer) events.onMessage(new Uint8Array(event.data));
        else this.#lost('the coordinator sent a text message; this channel carries binary frames only');
      },
      { signal },
    );
    this.#channel.addEventListener('bufferedamountlow', () => events.onBufferedAmountLow(), { signal });
    this.#channel.addEventListener('close', () => this.#lost('the coordinator closed the connection'), { signal });
    this.#channel.addEventListener(
      'error',
      (event: Event) => {
        const error = (event as RTCErrorEvent).error;
        this.#lost(`data channel error: ${error?.message ?? 'unknown'}`);
      },
      { signal },
    );
    // Closing the RTCPeerConnection does not fire "close" on its channels: watch the link too.
    this.#link.addEventListener('connectionstatechange', () => this.#linkStateChanged(), { signal });
    this.#connection.on('close', () => this.#lost('the connection to the coordinator closed'));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.dispose();
    this.#connection.close();
  }

  /** Stops listening; called once the channel has closed. */
  dispose(): void {
    this.#abort.abort();
    this.#connection.removeAllListeners();
    if (this.#graceTimer) clearTimeout(this.#graceTimer);
    this.#graceTimer = null;
  }

  #linkStateChanged(): void {
    const state = this.#link.connectionState;
    if (state === 'failed' || state === 'closed') {
      this.#lost(`the connection to the coordinator ${state === 'failed' ? 'failed' : 'closed'}`);
    } else if (state === 'disconnected' && !this.#graceTimer) {
      // The coordinator process died or the network dropped; ICE alone may take 30 s to call it failed.
      this.#graceTimer = setTimeout(() => this.#lost(`lost contact with the coordinator for ${this.#graceMs / 1000} s`), this.#graceMs);
    } else if (state === 'connected' && this.#graceTimer) {
      clearTimeout(this.#graceTimer);
      this.#graceTimer = null;
    }
  }

  #lost(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.dispose();
    this.#connection.close();
    this.#events?.onClose(reason);
  }
}
