// The coordinator peer's signaling and session handling against the real relay on loopback,
// with a scripted WebRTC adapter standing in for node-datachannel: no peer connection is opened
// here (those run only inside isolated-net, in e2e/net.spec.ts), but every relay message is real.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { FrameChannel } from './frameChannel.ts';
import { createSimulatedDataChannelPair } from './memoryFrameChannel.ts';
import type { AnswererEvents, NodeWebRtc } from './nodeWebRtc.ts';
import { startCoordinatorPeer, type CoordinatorPeer } from './nodePeer.ts';
import { PortFrameChannel } from './portFrameChannel.ts';
import { attachSignalingRelay, type SignalingRelay } from './relay.ts';
import { eventually } from '../testing/eventually.ts';

/** One answered offer, driven by the test. */
interface ScriptedLink {
  offerSdp: string;
  events: AnswererEvents;
  remoteCandidates: [string, string][];
  closed: boolean;
}

function scriptedWebRtc(): NodeWebRtc & { links: ScriptedLink[] } {
  const links: ScriptedLink[] = [];
  return {
    name: 'scripted',
    links,
    answer(offerSdp, _config, events) {
      if (offerSdp === 'garbage') throw new Error('Invalid SDP');
      const link: ScriptedLink = { offerSdp, events, remoteCandidates: [], closed: false };
      links.push(link);
      return {
        addRemoteCandidate: (candidate, mid) => link.remoteCandidates.push([candidate, mid]),
        close: () => (link.closed = true),
      };
    },
  };
}

let server: Server;
let relay: SignalingRelay;
let port: number;
let webrtc: ReturnType<typeof scriptedWebRtc>;
let coordinator: CoordinatorPeer | null = null;
const sockets: WebSocket[] = [];

beforeEach(async () => {
  server = createServer((req, res) => relay.handleRequest(req, res, () => res.writeHead(404).end()));
  relay = attachSignalingRelay(server, { path: '/peerjs' });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  webrtc = scriptedWebRtc();
});

afterEach(async () => {
  await coordinator?.close();
  coordinator = null;
  for (const socket of sockets.splice(0)) {
    socket.on('error', () => {});
    socket.terminate();
  }
  relay.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function startCoordinator(overrides: Partial<Parameters<typeof startCoordinatorPeer>[0]> = {}): Promise<CoordinatorPeer> {
  coordinator = await startCoordinatorPeer({ host: '127.0.0.1', port, path: '/peerjs', coordinatorId: 'coordinator', webrtc, ...overrides });
  return coordinator;
}

/** A contributor's relay connection, as PeerJS in the browser would hold it. */
async function contributor(id: string) {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/peerjs/peerjs?key=peerjs&id=${id}&token=t&version=1.5.5`);
  sockets.push(socket);
  const inbox: Record<string, any>[] = [];
  socket.on('message', (data) => inbox.push(JSON.parse(data.toString())));
  await eventually(() => expect(inbox[0]).toEqual({ type: 'OPEN' }));
  inbox.shift();
  const send = (message: object) => socket.send(JSON.stringify(message));
  const offer = (connectionId: string, overrides: object = {}) =>
    send({
      type: 'OFFER',
      dst: 'coordinator',
      payload: { sdp: { type: 'offer', sdp: `offer from ${id}` }, type: 'data', connectionId, label: connectionId, reliable: true, serialization: 'raw', ...overrides },
    });
  return { socket, inbox, send, offer };
}

/** Opens the data channel of a scripted link; returns the contributor's end as a FrameChannel. */
function openDataChannel(link: ScriptedLink): FrameChannel {
  const [coordinatorEnd, contributorEnd] = createSimulatedDataChannelPair();
  link.events.onDataChannel('dc_1', coordinatorEnd);
  return new PortFrameChannel('coordinator', contributorEnd);
}

describe('startCoordinatorPeer', () => {
  it('answers an offer through the relay, holding candidates until the answer is out, and hands out the channel', async () => {
    const peer = await startCoordinator();
    expect(peer.relayConnected).toBe(true);
    const channels: FrameChannel[] = [];
    peer.onChannel = (channel) => {
      channels.push(channel);
      channel.onFrame = (frame) => void channel.send(frame.map((b) => b + 1)); // echo, incremented
    };
    const browser = await contributor('contributor-1');
    browser.offer('dc_1');
    await eventually(() => expect(webrtc.links).toHaveLength(1));
    const link = webrtc.links[0];
    expect(link.offerSdp).toBe('offer from contributor-1');
    expect(peer.negotiating).toBe(1);

    link.events.onLocalCandidate('candidate:1 1 UDP 1 198.18.0.1 4000 typ host', '0');
    link.events.onAnswer('answer sdp');
    await eventually(() => expect(browser.inbox).toHaveLength(2));
    expect(browser.inbox[0]).toMatchObject({ type: 'ANSWER', src: 'coordinator', payload: { sdp: { type: 'answer', sdp: 'answer sdp' }, connectionId: 'dc_1' } });
    expect(browser.inbox[1]).toMatchObject({ type: 'CANDIDATE', payload: { candidate: { candidate: 'candidate:1 1 UDP 1 198.18.0.1 4000 typ host', sdpMid: '0' } } });

    browser.send({ type: 'CANDIDATE', dst: 'coordinator', payload: { candidate: { candidate: 'candidate:2 1 udp 5 x.local 5000 typ host', sdpMid: '0' }, type: 'data', connectionId: 'dc_1' } });
    await eventually(() => expect(link.remoteCandidates).toEqual([['candidate:2 1 udp 5 x.local 5000 typ host', '0']]));

    const browserEnd = openDataChannel(link);
    expect(channels.map((c) => c.peerId)).toEqual(['contributor-1']);
    expect(peer.openChannels).toBe(1);
    expect(peer.negotiating).toBe(0);
    const echoed: Uint8Array[] = [];
    browserEnd.onFrame = (frame) => echoed.push(frame);
    await browserEnd.send(new Uint8Array([1, 2, 3]));
    await eventually(() => expect(echoed).toEqual([new Uint8Array([2, 3, 4])]));
  });

  it('drops a contributor whose link fails or stays disconnected, releasing everything', async () => {
    const peer = await startCoordinator({ disconnectGraceMs: 50 });
    const reasons: string[] = [];
    peer.onChannel = (channel) => (channel.onClose = (reason) => reasons.push(reason));
    const browser = await contributor('contributor-1');
    browser.offer('dc_1');
    browser.offer('dc_2');
    await eventually(() => expect(webrtc.links).toHaveLength(2));
    const [first, second] = webrtc.links;
    openDataChannel(first);
    openDataChannel(second);
    expect(peer.openChannels).toBe(2);

    first.events.onStateChange('failed');
    expect(reasons).toEqual(['the connection to contributor contributor-1 failed']);
    expect(first.closed).toBe(true);

    second.events.onStateChange('disconnected');
    second.events.onStateChange('connected'); // a blip: kept
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(peer.openChannels).toBe(1);
    second.events.onStateChange('disconnected');
    await eventually(() => expect(peer.openChannels).toBe(0));
    expect(reasons[1]).toBe('lost contact with contributor contributor-1 for 50 ms');
    expect(second.closed).toBe(true);
  });

  it('gives up on a negotiation that never opens a data channel', async () => {
    const peer = await startCoordinator({ negotiationTimeoutMs: 50 });
    peer.onChannel = () => {};
    const browser = await contributor('contributor-1');
    browser.offer('dc_1');
    await eventually(() => expect(webrtc.links).toHaveLength(1));
    await eventually(() => expect(webrtc.links[0].closed).toBe(true));
    expect(peer.negotiating).toBe(0);
  });

  it('turns away offers it cannot serve, saying why', async () => {
    const peer = await startCoordinator();
    const errors: string[] = [];
    peer.onError = (error) => errors.push(error.message);
    const browser = await contributor('contributor-1');
    browser.offer('dc_1'); // no onChannel yet
    await eventually(() => expect(errors).toHaveLength(1));
    peer.onChannel = () => {};
    browser.offer('dc_2', { serialization: 'binary' });
    browser.offer('dc_3', { sdp: { type: 'offer', sdp: 'garbage' } });
    browser.send({ type: 'OFFER', dst: 'coordinator', payload: { nonsense: true } });
    await eventually(() => expect(errors).toHaveLength(4));
    expect(errors[0]).toMatch(/nothing handles channels yet \(set onChannel\)/);
    expect(errors[1]).toMatch(/only takes reliable raw data connections: peer.connect\(id, \{ serialization: 'raw', reliable: true \}\)/);
    expect(errors[2]).toBe("Could not answer contributor contributor-1's offer: Invalid SDP");
    expect(errors[3]).toMatch(/does not understand at payload/);
    expect(webrtc.links).toHaveLength(0);
  });

  it('refuses to start when the id is taken, the relay is unreachable, or the id is unusable', async () => {
    await startCoordinator();
    await expect(startCoordinatorPeer({ host: '127.0.0.1', port, path: '/peerjs', coordinatorId: 'coordinator', webrtc })).rejects.toThrow(
      `The signaling relay at ws://127.0.0.1:${port}/peerjs/peerjs refused coordinator "coordinator": ID is taken`,
    );
    const closedPort = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const free = (probe.address() as AddressInfo).port;
        probe.close(() => resolve(free));
      });
    });
    await expect(startCoordinatorPeer({ host: '127.0.0.1', port: closedPort, path: '/peerjs', coordinatorId: 'c2', webrtc })).rejects.toThrow(
      /^Could not reach the signaling relay at ws:\/\/127\.0\.0\.1:\d+\/peerjs\/peerjs \(connect ECONNREFUSED.*\)\. Is the server running/,
    );
    await expect(startCoordinatorPeer({ host: '127.0.0.1', port, path: '/peerjs', coordinatorId: 'bad/id', webrtc })).rejects.toThrow(
      /not a usable coordinator id/,
    );
  });

  it('gets back to a restarted relay by itself, keeping open channels', async () => {
    const peer = await startCoordinator({ relayBackoff: { initialDelayMs: 20, multiplier: 2, maxDelayMs: 100, jitter: 0 } });
    const errors: string[] = [];
    peer.onError = (error) => errors.push(error.message);
    peer.onChannel = () => {};
    const browser = await contributor('contributor-1');
    browser.offer('dc_1');
    await eventually(() => expect(webrtc.links).toHaveLength(1));
    openDataChannel(webrtc.links[0]);

    relay.close();
    await eventually(() => expect(peer.relayConnected).toBe(false));
    expect(errors[0]).toMatch(/^Lost the signaling relay: .*retrying in \d+ ms\.$/);
    relay = attachSignalingRelay(server, { path: '/peerjs' });
    await eventually(() => expect(peer.relayConnected).toBe(true));
    expect(peer.openChannels).toBe(1);
    expect(relay.stats().connectedPeers).toBe(1);
  });

  it('keeps the link of a channel it closed up a moment, so the last messages get out; close() waits for it', async () => {
    const peer = await startCoordinator({ closeLingerMs: 200 });
    const channels: FrameChannel[] = [];
    peer.onChannel = (channel) => channels.push(channel);
    const browser = await contributor('contributor-1');
    browser.offer('dc_1');
    browser.offer('dc_2');
    await eventually(() => expect(webrtc.links).toHaveLength(2));
    const [banned, failed] = webrtc.links;
    const browserEnd = openDataChannel(banned);
    openDataChannel(failed);
    const reasons: string[] = [];
    browserEnd.onClose = (reason) => reasons.push(reason);

    channels[0].close('banned: you cheated');
    expect(peer.openChannels).toBe(1);
    expect(banned.closed).toBe(false); // lingering: SCTP may still hold the error that says why
    await eventually(() => expect(reasons).toHaveLength(1)); // the contributor's end hears the close
    await eventually(() => expect(banned.closed).toBe(true));

    failed.events.onStateChange('failed'); // not closed by us: the link goes at once
    expect(failed.closed).toBe(true);

    browser.offer('dc_3');
    await eventually(() => expect(webrtc.links).toHaveLength(3));
    const last = webrtc.links[2];
    openDataChannel(last);
    channels[2].close('the job is done');
    const closing = peer.close();
    expect(last.closed).toBe(false);
    await closing;
    expect(last.closed).toBe(true);
  });

  it('close() ends every contributor and leaves the relay', async () => {
    const peer = await startCoordinator();
    const reasons: string[] = [];
    peer.onChannel = (channel) => (channel.onClose = (reason) => reasons.push(reason));
    const browser = await contributor('contributor-1');
    browser.offer('dc_1');
    browser.offer('dc_2');
    await eventually(() => expect(webrtc.links).toHaveLength(2));
    openDataChannel(webrtc.links[0]);
    await peer.close();
    expect(reasons).toEqual(['the coordinator is shutting down']);
    expect(webrtc.links.every((link) => link.closed)).toBe(true);
    await eventually(() => expect(relay.stats().connectedPeers).toBe(1)); // only the contributor is left
  });
});
