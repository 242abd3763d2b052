// The coordinator as a WebRTC peer in Node. It registers its id with the signaling relay over
// the PeerJS WebSocket protocol (spoken directly: PeerJS itself needs browser globals), answers
// each contributor's offer, and hands every opened data channel out as a FrameChannel whose
// peerId is the contributor's PeerJS id. Contributors that vanish are cleaned up: a closed data
// channel, a failed or long-disconnected ICE link, or a negotiation that never finishes.

import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { DEFAULT_BACKOFF, backoffDelayMs, type BackoffPolicy } from './backoff.ts';
import type { FrameChannel, Watermarks } from './frameChannel.ts';
import { nodeDataChannelWebRtc } from './nodeDataChannel.ts';
import type { AnsweringPeerConnection, NodeWebRtc, PeerLinkState } from './nodeWebRtc.ts';
import type { IceServerSpec } from './iceServers.ts';
import { PortFrameChannel, type DataChannelPort } from './portFrameChannel.ts';
import { DEFAULT_RELAY_KEY } from './relay.ts';
import {
  decodeRelayMessage,
  encodeAnswer,
  encodeCandidate,
  encodeHeartbeat,
  type CandidateMessage,
  type OfferMessage,
  type RelayMessage,
} from './signaling.ts';

export interface CoordinatorPeerOptions {
  readonly host: string;
  readonly port: number;
  /** The relay's path, as given to attachSignalingRelay (e.g. "/peerjs"). */
  readonly path: string;
  readonly coordinatorId: string;
  readonly secure?: boolean;
  readonly key?: string;
  /**
   * STUN and TURN servers, asked for at each answer (TURN credentials expire); none by
   * default: a coordinator with a public address needs none to be reached.
   */
  readonly iceServers?: () => readonly IceServerSpec[];
  /** With `secure`: the certificate (PEM) the relay must present, trusted for this connection only. */
  readonly ca?: string;
  /** The WebRTC library; node-datachannel unless a measurement swaps it. */
  readonly webrtc?: NodeWebRtc;
  readonly watermarks?: Watermarks;
  /** A contributor whose data channel is not open this long after its offer is dropped. */
  readonly negotiationTimeoutMs?: number;
  /** An ICE link that stays "disconnected" this long counts as gone. */
  readonly disconnectGraceMs?: number;
  /**
   * After the coordinator closes a contributor's channel (a ban, the end of the job), its peer
   * connection stays up this long so that the last messages (the error saying why) get out:
   * closing the connection at once would drop what SCTP still holds.
   */
  readonly closeLingerMs?: number;
  /** How long startCoordinatorPeer waits for the relay to accept the registration. */
  readonly registerTimeoutMs?: number;
  /** Waits between attempts to get back to a relay that went away. */
  readonly relayBackoff?: BackoffPolicy;
}

export interface CoordinatorPeer {
  readonly coordinatorId: string;
  /** Each contributor's data channel, once open. Set it before contributors connect: without it they are turned away. */
  onChannel: ((channel: FrameChannel) => void) | null;
  /** Problems that do not stop the coordinator: a bad offer, a lost relay connection (it reconnects by itself). */
  onError: ((error: Error) => void) | null;
  /** What the owner may want in the log: which way each contributor's link goes once open. */
  onNote: ((line: string) => void) | null;
  readonly relayConnected: boolean;
  /** Contributors with an open channel. */
  readonly openChannels: number;
  /** Contributors still negotiating. */
  readonly negotiating: number;
  /** Closes every contributor's channel and leaves the relay. */
  close(): Promise<void>;
}

/** When the coordinator looks again at which pair a new link uses, after the one before. */
const ROUTE_RECHECKS_MS = [2_000, 8_000];

/** PeerJS' own rule for ids; the relay accepts others, but browsers would refuse to dial them. */
const PEER_ID = /^[A-Za-z0-9]+(?:[ _-][A-Za-z0-9]+)*$/;
const HEARTBEAT_MS = 5_000; // what PeerJS clients send; the relay drops sockets silent for alive_timeout
const PEERJS_PROTOCOL_VERSION = '1.5.5';
const CLOSE_LINGER_MS = 1_000;

/** Registers `coordinatorId` with the relay; resolves once the relay accepted it. */
export async function startCoordinatorPeer(options: CoordinatorPeerOptions): Promise<CoordinatorPeer> {
  if (!PEER_ID.test(options.coordinatorId)) {
    throw new Error(
      `"${options.coordinatorId}" is not a usable coordinator id: PeerJS ids are letters and digits, optionally joined by single "-", "_" or spaces.`,
    );
  }
  const peer = new RelayRegisteredCoordinator(options);
  await peer.register();
  return peer;
}

interface ContributorSession {
  readonly peerId: string;
  readonly connectionId: string;
  readonly link: AnsweringPeerConnection;
  channel: PortFrameChannel | null;
  negotiationTimer: ReturnType<typeof setTimeout> | null;
  /** The types of the candidates the contributor sent (host, srflx, relay…), for the log when no path is found. */
  remoteCandidates: string[];
  /** The last ICE stage seen before the link closed. */
  lastIce: string | null;
  disconnectTimer: ReturnType<typeof setTimeout> | null;
  ended: boolean;
}

class RelayRegisteredCoordinator implements CoordinatorPeer {
  onChannel: ((channel: FrameChannel) => void) | null = null;
  onError: ((error: Error) => void) | null = null;
  onNote: ((line: string) => void) | null = null;
  readonly coordinatorId: string;
  readonly #options: CoordinatorPeerOptions;
  readonly #webrtc: NodeWebRtc;
  readonly #relayUrl: string;
  /** Same token on every reconnection, so the relay hands our id back to us. */
  readonly #token = randomBytes(12).toString('hex');
  readonly #sessions = new Map<string, ContributorSession>();
  /** Links of channels this side closed, still up for CLOSE_LINGER_MS; close() waits for them. */
  readonly #lingering = new Set<Promise<void>>();
  #socket: WebSocket | null = null;
  #registered = false;
  #closed = false;
  #heartbeat: ReturnType<typeof setInterval> | null = null;
  #reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  #reconnectAttempts = 0;

  constructor(options: CoordinatorPeerOptions) {
    this.#options = options;
    this.coordinatorId = options.coordinatorId;
    this.#webrtc = options.webrtc ?? nodeDataChannelWebRtc;
    const path = options.path.endsWith('/') ? options.path : `${options.path}/`;
    const query = new URLSearchParams({
      key: options.key ?? DEFAULT_RELAY_KEY,
      id: options.coordinatorId,
      token: this.#token,
      version: PEERJS_PROTOCOL_VERSION,
    });
    this.#relayUrl = `${options.secure ? 'wss' : 'ws'}://${options.host}:${options.port}${path}peerjs?${query}`;
  }

  get relayConnected(): boolean {
    return this.#registered;
  }

  get openChannels(): number {
    let count = 0;
    for (const session of this.#sessions.values()) if (session.channel?.open) count++;
    return count;
  }

  get negotiating(): number {
    let count = 0;
    for (const session of this.#sessions.values()) if (!session.channel) count++;
    return count;
  }

  /** Opens the relay socket and waits for OPEN; rejects with what the relay or the network said. */
  register(): Promise<void> {
    const timeoutMs = this.#options.registerTimeoutMs ?? 10_000;
    const where = `signaling relay at ${this.#relayUrl.split('?')[0]}`;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (error: Error | null): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) {
          socket.removeAllListeners();
          socket.on('error', () => {}); // a late error from a socket we abandoned has no one left to tell
          socket.terminate();
          this.#socket = null;
          reject(error);
        } else resolve();
      };
      const timer = setTimeout(
        () => settle(new Error(`The ${where} did not accept coordinator "${this.coordinatorId}" within ${timeoutMs} ms.`)),
        timeoutMs,
      );
      const socket = this.#openSocket({
        onRegistered: () => settle(null),
        onRefused: (message) => settle(new Error(`The ${where} refused coordinator "${this.coordinatorId}": ${message}`)),
        onGone: (detail) =>
          settle(new Error(`Could not reach the ${where} (${detail}). Is the server running, and are host, port and path right?`)),
      });
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    for (const session of [...this.#sessions.values()]) this.#endSession(session, 'the coordinator is shutting down');
    await Promise.all(this.#lingering);
    this.#stopHeartbeat();
    this.#registered = false;
    const socket = this.#socket;
    this.#socket = null;
    if (socket && socket.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.close();
        // A relay that does not finish the closing handshake must not hold us up.
        setTimeout(() => {
          socket.terminate();
          resolve();
        }, 1_000).unref();
      });
    }
  }

  #openSocket(hooks: { onRegistered: () => void; onRefused: (message: string) => void; onGone: (detail: string) => void }): WebSocket {
    // The coordinator's link to its own relay: with TLS, it trusts the server's certificate
    // itself (pinned), whatever name it was issued for, since it dials an address of this host.
    // (Node's TLS takes undefined from checkServerIdentity as "matches"; ws types it as boolean.)
    const tls = this.#options.ca ? { ca: this.#options.ca, checkServerIdentity: (() => undefined) as unknown as () => boolean } : {};
    const socket = new WebSocket(this.#relayUrl, { maxPayload: 1024 * 1024, ...tls });
    this.#socket = socket;
    socket.on('message', (data, isBinary) => {
      if (isBinary) {
        this.#report(new Error('The relay sent a binary message; PeerJS signaling is JSON text. Ignored.'));
        return;
      }
      let message: RelayMessage;
      try {
        message = decodeRelayMessage(data.toString());
      } catch (error) {
        this.#report(error as Error);
        return;
      }
      if (message.type === 'OPEN') {
        this.#registered = true;
        this.#reconnectAttempts = 0;
        this.#startHeartbeat();
        hooks.onRegistered();
      } else if (message.type === 'ERROR' || message.type === 'ID-TAKEN') {
        hooks.onRefused(message.payload.msg);
      } else if (message.type === 'INVALID-KEY') {
        hooks.onRefused(`the API key "${this.#options.key ?? DEFAULT_RELAY_KEY}" is not the relay's`);
      } else {
        this.#handleSignal(message);
      }
    });
    socket.on('error', (error) => hooks.onGone(error.message));
    socket.on('close', (code) => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      this.#stopHeartbeat();
      const wasRegistered = this.#registered;
      this.#registered = false;
      hooks.onGone(`the connection closed with code ${code}`);
      if (wasRegistered && !this.#closed) this.#reconnectToRelay(`the relay connection closed (code ${code})`);
    });
    return socket;
  }

  /** The relay went away (restart, network): get back with backoff. Open channels are peer-to-peer and carry on. */
  #reconnectToRelay(reason: string): void {
    if (this.#closed || this.#reconnectTimer) return;
    this.#reconnectAttempts++;
    const delayMs = backoffDelayMs(this.#reconnectAttempts, Math.random(), this.#options.relayBackoff ?? DEFAULT_BACKOFF);
    this.#report(new Error(`Lost the signaling relay: ${reason}. New contributors cannot connect until it is back; retrying in ${delayMs} ms.`));
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      if (this.#closed) return;
      const socket = this.#openSocket({
        onRegistered: () => {},
        onRefused: (message) => {
          this.#report(new Error(`The relay refused coordinator "${this.coordinatorId}" on reconnection: ${message}`));
          socket.close();
        },
        onGone: (detail) => {
          if (this.#socket === socket || this.#socket === null) this.#reconnectToRelay(detail);
        },
      });
    }, delayMs);
  }

  #handleSignal(message: Exclude<RelayMessage, { type: 'OPEN' | 'ERROR' | 'ID-TAKEN' | 'INVALID-KEY' }>): void {
    switch (message.type) {
      case 'OFFER':
        this.#acceptOffer(message);
        return;
      case 'CANDIDATE':
        this.#addCandidate(message);
        return;
      case 'LEAVE':
      case 'EXPIRE':
        // The contributor left the relay (or our answer could not reach it): a negotiation with it
        // cannot finish. Open channels are peer-to-peer and do not depend on the relay.
        for (const session of [...this.#sessions.values()]) {
          if (session.peerId === message.src && !session.channel) {
            this.#endSession(session, `contributor ${message.src} left the relay before its channel opened`);
          }
        }
        return;
      case 'ANSWER':
        this.#report(new Error(`Contributor ${message.src} sent an ANSWER, but the coordinator never makes offers. Ignored.`));
        return;
    }
  }

  #acceptOffer({ src, payload }: OfferMessage): void {
    if (payload.type !== 'data' || payload.serialization !== 'raw' || payload.reliable !== true || payload.sdp.type !== 'offer') {
      this.#report(
        new Error(
          `Contributor ${src} offered a ${payload.type} connection (serialization ${payload.serialization}, reliable ${payload.reliable}); ` +
            "the coordinator only takes reliable raw data connections: peer.connect(id, { serialization: 'raw', reliable: true }).",
        ),
      );
      return;
    }
    if (!this.onChannel) {
      this.#report(new Error(`Contributor ${src} tried to connect, but nothing handles channels yet (set onChannel). Turned away.`));
      return;
    }
    const previous = this.#sessions.get(payload.connectionId);
    if (previous) this.#endSession(previous, 'the contributor offered the same connection again');

    const { connectionId } = payload;
    let session: ContributorSession | null = null;
    const send = (text: string): void => {
      // Our answer or candidates can only travel through the relay; without it the negotiation times out.
      if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send(text);
    };
    // Candidates found before the answer is out would reach the browser before it can use them.
    let heldCandidates: string[] | null = [];
    let link: AnsweringPeerConnection;
    try {
      link = this.#webrtc.answer(payload.sdp.sdp, { iceServers: this.#options.iceServers?.() ?? [] }, {
        onAnswer: (sdp) => {
          send(encodeAnswer(src, connectionId, sdp));
          for (const candidate of heldCandidates ?? []) send(candidate);
          heldCandidates = null;
        },
        onLocalCandidate: (candidate, sdpMid) => {
          const message = encodeCandidate(src, connectionId, candidate, sdpMid);
          if (heldCandidates) heldCandidates.push(message);
          else send(message);
        },
        onDataChannel: (_label, port) => {
          if (!session || session.ended || session.channel) {
            port.close(); // one channel per connection: PeerJS opens exactly one
            return;
          }
          this.#channelOpened(session, port);
        },
        onStateChange: (state) => {
          if (session) this.#linkStateChanged(session, state);
        },
      });
    } catch (error) {
      this.#report(new Error(`Could not answer contributor ${src}'s offer: ${(error as Error).message}`));
      return;
    }
    session = {
      peerId: src,
      connectionId,
      link,
      channel: null,
      negotiationTimer: null,
      remoteCandidates: [],
      lastIce: null,
      disconnectTimer: null,
      ended: false,
    };
    const negotiationTimeoutMs = this.#options.negotiationTimeoutMs ?? 20_000;
    const started = session;
    started.negotiationTimer = setTimeout(() => {
      this.#endSession(started, `no data channel from contributor ${src} within ${negotiationTimeoutMs} ms`);
    }, negotiationTimeoutMs);
    this.#sessions.set(connectionId, session);
  }

  #channelOpened(session: ContributorSession, port: DataChannelPort): void {
    if (session.negotiationTimer) clearTimeout(session.negotiationTimer);
    session.negotiationTimer = null;
    const channel = new PortFrameChannel(session.peerId, port, {
      watermarks: this.#options.watermarks,
      onClosed: (reason, byThisSide) => this.#endSession(session, reason, byThisSide),
    });
    session.channel = channel;
    this.#noteRoute(session, null);
    try {
      this.onChannel!(channel);
    } catch (error) {
      this.#report(new Error(`The onChannel handler threw for contributor ${session.peerId}: ${(error as Error).message}`));
      channel.close('the coordinator could not take this contributor');
    }
  }

  #addCandidate({ src, payload }: CandidateMessage): void {
    const session = this.#sessions.get(payload.connectionId);
    // Candidates trickle in after a session ended (timeout, contributor gone): nothing to do.
    if (!session || session.peerId !== src || session.ended) return;
    if (payload.candidate.candidate === '') return; // end-of-candidates marker
    session.remoteCandidates.push(/ typ (\w+)/.exec(payload.candidate.candidate)?.[1] ?? 'unknown');
    try {
      session.link.addRemoteCandidate(payload.candidate.candidate, payload.candidate.sdpMid ?? '0');
    } catch (error) {
      this.#report(new Error(`Contributor ${src} sent an ICE candidate we cannot use: ${(error as Error).message}`));
    }
  }

  #linkStateChanged(session: ContributorSession, state: PeerLinkState): void {
    if (session.ended) return;
    // Kept for the log: once the link closes, ICE reads "closed", which says nothing.
    const d = session.link.describe?.();
    if (d && d.iceState !== 'closed') session.lastIce = `ICE ${d.iceState}, gathering ${d.gatheringState}`;
    if (state === 'failed' || state === 'closed') {
      this.#endSession(session, `the connection to contributor ${session.peerId} ${state === 'failed' ? 'failed' : 'closed'}`);
    } else if (state === 'disconnected') {
      if (session.disconnectTimer) return;
      const graceMs = this.#options.disconnectGraceMs ?? 5_000;
      session.disconnectTimer = setTimeout(() => {
        this.#endSession(session, `lost contact with contributor ${session.peerId} for ${graceMs} ms`);
      }, graceMs);
    } else if (state === 'connected' && session.disconnectTimer) {
      clearTimeout(session.disconnectTimer);
      session.disconnectTimer = null;
    }
  }

  /** End a session; `linger` when this side closed its channel with messages perhaps still in flight. */
  #endSession(session: ContributorSession, reason: string, linger = false): void {
    if (session.ended) return;
    session.ended = true;
    // A contributor that never got a data channel: say how far ICE got, for whoever reads the log.
    if (!session.channel && !this.#closed) {
      this.#report(new Error(`${reason}${reason.startsWith('no data channel') ? '' : ', before any data channel opened'}: ${this.#iceStage(session)}`));
    }
    if (session.negotiationTimer) clearTimeout(session.negotiationTimer);
    if (session.disconnectTimer) clearTimeout(session.disconnectTimer);
    if (this.#sessions.get(session.connectionId) === session) this.#sessions.delete(session.connectionId);
    session.channel?.close(reason);
    if (!linger) {
      session.link.close();
      return;
    }
    const lingered = new Promise<void>((resolve) => setTimeout(resolve, this.#options.closeLingerMs ?? CLOSE_LINGER_MS).unref()).then(() => {
      this.#lingering.delete(lingered);
      session.link.close();
    });
    this.#lingering.add(lingered);
  }

  #startHeartbeat(): void {
    this.#stopHeartbeat();
    this.#heartbeat = setInterval(() => {
      if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send(encodeHeartbeat());
    }, HEARTBEAT_MS);
  }

  #stopHeartbeat(): void {
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#heartbeat = null;
  }

  /**
   * Logs which pair the link uses, and again if ICE moves to another: the first pair to work
   * may be relayed while a direct one is still being checked. Looked at again a few times after
   * the channel opens (libdatachannel has no event for it).
   */
  #noteRoute(session: ContributorSession, said: string | null, checksLeft = ROUTE_RECHECKS_MS.length): void {
    if (!this.onNote || session.ended) return;
    const selected = session.link.describe?.().selected;
    let line = said;
    if (selected) {
      const end = (c: { type: string; address: string; port: number }) => `${c.type} ${c.address}:${c.port}`;
      const relayed = selected.local.type === 'relay' || selected.remote.type === 'relay';
      line = `${relayed ? 'through a TURN relay' : 'directly'}: ${end(selected.local)} ↔ ${end(selected.remote)} (${selected.local.transport})`;
      if (line !== said) this.onNote(`contributor ${session.peerId} ${said === null ? 'connected' : 'now goes'} ${line}`);
    }
    if (checksLeft > 0) setTimeout(() => this.#noteRoute(session, line, checksLeft - 1), ROUTE_RECHECKS_MS[ROUTE_RECHECKS_MS.length - checksLeft]).unref();
  }

  /** Where a negotiation got to, in words: the ICE stage and what each side offered. */
  #iceStage(session: ContributorSession): string {
    const d = session.link.describe?.();
    const counts = new Map<string, number>();
    for (const t of session.remoteCandidates) counts.set(t, (counts.get(t) ?? 0) + 1);
    const theirs = counts.size ? [...counts].map(([t, n]) => `${t}×${n}`).join(', ') : 'none';
    const now = d && d.iceState !== 'closed' ? `ICE ${d.iceState}, gathering ${d.gatheringState}` : null;
    const stage = now ?? session.lastIce ?? 'ICE state unknown';
    const hint = session.remoteCandidates.includes('relay') ? '' : ' (no relay candidate from it: the job has no TURN server, or the contributor cannot reach it)';
    return `${stage}; its candidates: ${theirs}${hint}`;
  }

  #report(error: Error): void {
    if (this.onError) this.onError(error);
    else console.warn(`[coordinator peer] ${error.message}`);
  }
}
