// A contributor's side of the WebRTC link, in Node: what src/net/browserPeer.ts does with
// PeerJS in a browser, spoken directly over the relay's WebSocket (as src/net/nodePeer.ts does
// for the coordinator). It registers a random peer id, offers a reliable raw data channel to
// the coordinator, and hands the opened channel out as a FrameChannel. For test clients (the
// adversary): no reconnection, no ICE servers (loopback only).

import { randomBytes } from 'node:crypto';
import { PeerConnection } from 'node-datachannel';
import WebSocket from 'ws';
import type { FrameChannel } from '../net/frameChannel.ts';
import { NodeDataChannelPort } from '../net/nodeDataChannel.ts';
import { PortFrameChannel } from '../net/portFrameChannel.ts';
import { DEFAULT_RELAY_KEY } from '../net/relay.ts';

export interface NodeContributorConnectOptions {
  /** The server's origin, e.g. "http://127.0.0.1:8080". */
  origin: string;
  /** The relay's path and the coordinator's peer id, as /api/job announces them. */
  relayPath: string;
  coordinatorId: string;
  timeoutMs?: number;
}

const PEERJS_PROTOCOL_VERSION = '1.5.5';
const HEARTBEAT_MS = 5_000;

/** Connects to the coordinator through the relay; rejects with what went wrong. */
export function connectNodeContributor(options: NodeContributorConnectOptions): Promise<FrameChannel> {
  const url = new URL(options.origin);
  const path = options.relayPath.endsWith('/') ? options.relayPath : `${options.relayPath}/`;
  const peerId = `node${randomBytes(8).toString('hex')}`;
  const connectionId = `dc_${randomBytes(8).toString('hex')}`;
  const query = new URLSearchParams({ key: DEFAULT_RELAY_KEY, id: peerId, token: randomBytes(8).toString('hex'), version: PEERJS_PROTOCOL_VERSION });
  const socket = new WebSocket(`${url.protocol === 'https:' ? 'wss' : 'ws'}://${url.host}${path}peerjs?${query}`);
  const pc = new PeerConnection(peerId, { iceServers: [] });
  const timeoutMs = options.timeoutMs ?? 20_000;

  return new Promise<FrameChannel>((resolve, reject) => {
    let settled = false;
    let heartbeat: ReturnType<typeof setInterval> | null = null;
    const leaveRelay = () => {
      if (heartbeat) clearInterval(heartbeat);
      socket.removeAllListeners();
      socket.on('error', () => {});
      socket.close();
    };
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      leaveRelay();
      pc.close();
      reject(new Error(`could not connect to coordinator ${options.coordinatorId} at ${options.origin}: ${why}`));
    };
    const timer = setTimeout(() => fail(`no data channel within ${timeoutMs} ms`), timeoutMs);
    const signal = (message: object) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
    };
    // The coordinator drops candidates that come before our offer: hold them until it is out.
    let heldCandidates: object[] | null = [];

    pc.onLocalDescription((sdp, type) => {
      if (type !== 'offer') return;
      signal({
        type: 'OFFER',
        dst: options.coordinatorId,
        payload: { sdp: { type: 'offer', sdp }, type: 'data', connectionId, label: connectionId, reliable: true, serialization: 'raw', browser: 'node' },
      });
      for (const c of heldCandidates ?? []) signal(c);
      heldCandidates = null;
    });
    pc.onLocalCandidate((candidate, mid) => {
      const message = { type: 'CANDIDATE', dst: options.coordinatorId, payload: { candidate: { candidate, sdpMid: mid, sdpMLineIndex: 0 }, type: 'data', connectionId } };
      if (heldCandidates) heldCandidates.push(message);
      else signal(message);
    });

    socket.on('error', (error) => fail(`relay: ${error.message}`));
    socket.on('close', (code) => fail(`the relay closed the connection (code ${code})`));
    socket.on('message', (data) => {
      let message: { type: string; src?: string; payload?: { sdp?: { sdp: string }; candidate?: { candidate: string; sdpMid?: string }; msg?: string } };
      try {
        message = JSON.parse(data.toString());
      } catch {
        return;
      }
      if (message.type === 'OPEN') {
        heartbeat = setInterval(() => signal({ type: 'HEARTBEAT' }), HEARTBEAT_MS);
        const dc = pc.createDataChannel(connectionId);
        dc.onOpen(() => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          // Once open the channel is peer to peer: the relay slot can go.
          leaveRelay();
          resolve(new PortFrameChannel(options.coordinatorId, new NodeDataChannelPort(dc), { onClosed: () => pc.close() }));
        });
      } else if (message.type === 'ANSWER' && message.payload?.sdp) {
        try {
          pc.setRemoteDescription(message.payload.sdp.sdp, 'answer');
        } catch (error) {
          fail(`the coordinator's answer is unusable: ${(error as Error).message}`);
        }
      } else if (message.type === 'CANDIDATE' && message.payload?.candidate?.candidate) {
        // libdatachannel throws for a candidate it cannot use yet (or any more); the link may
        // still open on the others, and the timeout catches it if not.
        try {
          pc.addRemoteCandidate(message.payload.candidate.candidate, message.payload.candidate.sdpMid ?? '0');
        } catch {
          /* see above */
        }
      } else if (message.type === 'ERROR' || message.type === 'ID-TAKEN' || message.type === 'INVALID-KEY' || message.type === 'EXPIRE') {
        fail(`the relay said ${message.type}${message.payload?.msg ? `: ${message.payload.msg}` : ''}`);
      }
    });
  });
}
