// The relay on a real http.Server on loopback, with real WebSocket clients speaking the PeerJS
// protocol. No WebRTC here: the relay only forwards JSON.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { attachSignalingRelay, type SignalingRelay } from './relay.ts';
import { eventually } from '../testing/eventually.ts';

let server: Server;
let relay: SignalingRelay;
let port: number;
const sockets: WebSocket[] = [];

beforeEach(async () => {
  server = createServer((req, res) => {
    relay.handleRequest(req, res, () => res.writeHead(200, { 'content-type': 'text/plain' }).end('the app'));
  });
  relay = attachSignalingRelay(server, { path: '/peerjs' });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterEach(async () => {
  for (const socket of sockets.splice(0)) {
    socket.on('error', () => {}); // a test may leave a socket mid-handshake; terminating it then reports an error
    socket.terminate();
  }
  relay.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** A PeerJS-speaking client; resolves with it and its queue of received messages once the relay answered. */
async function peer(id: string, token = `token-${id}`): Promise<{ socket: WebSocket; next: () => Promise<Record<string, unknown>> }> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/peerjs/peerjs?key=peerjs&id=${id}&token=${token}&version=1.5.5`);
  sockets.push(socket);
  const inbox: Record<string, unknown>[] = [];
  const waiting: ((m: Record<string, unknown>) => void)[] = [];
  socket.on('message', (data) => {
    const message = JSON.parse(data.toString()) as Record<string, unknown>;
    const waiter = waiting.shift();
    if (waiter) waiter(message);
    else inbox.push(message);
  });
  const next = () => (inbox.length > 0 ? Promise.resolve(inbox.shift()!) : new Promise<Record<string, unknown>>((r) => waiting.push(r)));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return { socket, next };
}

describe('attachSignalingRelay', () => {
  it('registers peers, forwards signaling between them, and counts connections', async () => {
    const coordinator = await peer('coordinator');
    expect(await coordinator.next()).toEqual({ type: 'OPEN' });
    const contributor = await peer('contributor-1');
    expect(await contributor.next()).toEqual({ type: 'OPEN' });
    expect(relay.stats()).toEqual({ connectedPeers: 2, connects: 2, disconnects: 0, errors: 0 });

    contributor.socket.send(JSON.stringify({ type: 'OFFER', dst: 'coordinator', payload: { connectionId: 'dc_1' } }));
    expect(await coordinator.next()).toEqual({ type: 'OFFER', src: 'contributor-1', dst: 'coordinator', payload: { connectionId: 'dc_1' } });

    contributor.socket.close();
    await eventually(() => expect(relay.stats()).toEqual({ connectedPeers: 1, connects: 2, disconnects: 1, errors: 0 }));
  });

  it('refuses a second peer with a taken id', async () => {
    const first = await peer('coordinator', 'one');
    expect(await first.next()).toEqual({ type: 'OPEN' });
    const second = await peer('coordinator', 'two');
    expect(await second.next()).toEqual({ type: 'ID-TAKEN', payload: { msg: 'ID is taken' } });
  });

  it('survives a peer sending garbage, counts it and reports it', async () => {
    const errors: Error[] = [];
    relay.onError = (error) => errors.push(error);
    const rude = await peer('rude');
    await rude.next();
    rude.socket.send('{not json');
    await eventually(() => expect(relay.stats().errors).toBe(1));
    expect(errors[0]).toBeInstanceOf(SyntaxError);
    const polite = await peer('polite');
    expect(await polite.next()).toEqual({ type: 'OPEN' });
  });

  it('serves the PeerJS id route and passes every other request on', async () => {
    const id = await (await fetch(`http://127.0.0.1:${port}/peerjs/peerjs/id`)).text();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await (await fetch(`http://127.0.0.1:${port}/peerjs/peerjs/peers`)).status).toBe(401); // no discovery
    expect(await (await fetch(`http://127.0.0.1:${port}/train.html`)).text()).toBe('the app');
    expect(await (await fetch(`http://127.0.0.1:${port}/peerjsx`)).text()).toBe('the app');
  });

  it('leaves WebSocket upgrades on other paths to their own handlers', async () => {
    const other = new WebSocketServer({ noServer: true });
    server.on('upgrade', (req, socket, head) => {
      if (req.url === '/live') other.handleUpgrade(req, socket, head, (ws) => ws.send('hello from /live'));
    });
    const socket = new WebSocket(`ws://127.0.0.1:${port}/live`);
    sockets.push(socket);
    const greeting = await new Promise<string>((resolve, reject) => {
      socket.once('message', (data) => resolve(data.toString()));
      socket.once('error', reject);
    });
    expect(greeting).toBe('hello from /live');
    other.close();
  });

  it('answers 404 to an upgrade nobody handles instead of leaving it hanging', async () => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/nowhere`);
    sockets.push(socket);
    const status = await new Promise<number>((resolve) => socket.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(404);
  });

  it('close() ends every relay socket', async () => {
    const coordinator = await peer('coordinator');
    await coordinator.next();
    const closed = new Promise<void>((resolve) => coordinator.socket.once('close', () => resolve()));
    relay.close();
    await closed;
    await eventually(() => expect(relay.stats().connectedPeers).toBe(0));
  });

  it('rejects a path that would swallow the whole site', () => {
    expect(() => attachSignalingRelay(server, { path: '/' })).toThrow(/a path of its own that starts with "\/"/);
    expect(() => attachSignalingRelay(server, { path: 'peerjs' })).toThrow(/starts with "\/"/);
  });

  it('prints nothing', async () => {
    const spies = (['log', 'info', 'warn', 'error'] as const).map((level) => vi.spyOn(console, level));
    const a = await peer('quiet-a');
    await a.next();
    a.socket.send('garbage');
    a.socket.close();
    await eventually(() => expect(relay.stats().disconnects).toBe(1));
    for (const spy of spies) expect(spy).not.toHaveBeenCalled();
    for (const spy of spies) spy.mockRestore();
  });
});
