// The PeerJS signaling relay (the `peer` package) mounted on our own http.Server, so pages,
// relay and coordinator share one port. Browsers and the coordinator exchange offers, answers
// and ICE candidates through it; frames never pass through it.
//
// How `peer` 1.0 embeds: ExpressPeerServer(server, options) returns an express app that sets
// itself up when mounted (its "mount" event) and then opens a WebSocket server at
// <mount path>/peerjs on `server`. We mount it on a private express app at `path` and hand it
// a WebSocketServer in noServer mode through its createWebSocketServer hook: a plain `ws`
// server on the http.Server would answer 400 to every other WebSocket upgrade on the port.

import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import express from 'express';
import { ExpressPeerServer, type IClient } from 'peer';
import { WebSocketServer, type ServerOptions } from 'ws';

export interface SignalingRelayOptions {
  /** URL path the relay lives under; browsers pass the same `path` to PeerJS. */
  readonly path?: string;
  /** PeerJS API key; it namespaces the relay, it is not a secret. */
  readonly key?: string;
  /** A peer whose socket sent nothing for this long is dropped (PeerJS sends a heartbeat every 5 s). */
  readonly aliveTimeoutMs?: number;
  /** Offers to a peer that is not connected wait this long, then the sender gets 'peer-unavailable'. */
  readonly expireTimeoutMs?: number;
  /** Most peers connected at once; more are refused with a clear message. */
  readonly concurrentLimit?: number;
}

export interface RelayStats {
  /** Peers registered now (contributors negotiating or connected, and the coordinator). */
  readonly connectedPeers: number;
  /** Registrations since the relay started. */
  readonly connects: number;
  readonly disconnects: number;
  /** Socket errors and unreadable messages from peers. */
  readonly errors: number;
}

export interface SignalingRelay {
  readonly path: string;
  /** Where the relay's WebSocket listens. */
  readonly webSocketPath: string;
  /** Connect-style middleware for the relay's HTTP routes (GET <path>/<key>/id); calls next() for every other path. */
  readonly handleRequest: (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;
  stats(): RelayStats;
  /** Errors from peers' sockets and messages; they never stop the relay. */
  onError: ((error: Error) => void) | null;
  /** Ends every relay socket and stops answering relay upgrades. */
  close(): void;
}

export const DEFAULT_RELAY_PATH = '/peerjs';
export const DEFAULT_RELAY_KEY = 'peerjs';

export function attachSignalingRelay(httpServer: HttpServer, options: SignalingRelayOptions = {}): SignalingRelay {
  const path = normalizePath(options.path ?? DEFAULT_RELAY_PATH);
  let webSocketServer: WebSocketServer | null = null;
  let webSocketPath = '';

  const peerApp = ExpressPeerServer(httpServer, {
    key: options.key ?? DEFAULT_RELAY_KEY,
    path: '/',
    alive_timeout: options.aliveTimeoutMs ?? 30_000,
    expire_timeout: options.expireTimeoutMs ?? 5_000,
    concurrent_limit: options.concurrentLimit ?? 5_000,
    // Contributors must not be able to list each other.
    allow_discovery: false,
    createWebSocketServer: (wsOptions: ServerOptions) => {
      webSocketPath = wsOptions.path ?? '';
      // Signaling messages are a few KiB of SDP; a larger one is abuse.
      webSocketServer = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
      return webSocketServer;
    },
  });

  const connected = new Set<string>();
  let connects = 0;
  let disconnects = 0;
  let errors = 0;
  const relay: SignalingRelay = {
    path,
    get webSocketPath() {
      return webSocketPath;
    },
    handleRequest,
    stats: () => ({ connectedPeers: connected.size, connects, disconnects, errors }),
    onError: null,
    close,
  };

  peerApp.on('connection', (client: IClient) => {
    connects++;
    connected.add(client.getId());
  });
  peerApp.on('disconnect', (client: IClient) => {
    disconnects++;
    connected.delete(client.getId());
  });
  // Without a listener, EventEmitter would throw these and bring the whole server down.
  peerApp.on('error', (error: Error) => {
    errors++;
    relay.onError?.(error);
  });

  const mountApp = express();
  mountApp.disable('x-powered-by');
  mountApp.use(path, peerApp); // triggers peer's "mount" setup, which calls createWebSocketServer
  if (!webSocketServer) {
    throw new Error('The peer package did not create its WebSocket server on mount: is peer 1.x installed?');
  }
  const wss: WebSocketServer = webSocketServer;

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (pathnameOf(req.url) !== webSocketPath) {
      // Another upgrade handler may own this path; if there is none, do not leave the socket hanging.
      if (httpServer.listenerCount('upgrade') === 1) socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  };
  httpServer.on('upgrade', onUpgrade);

  function handleRequest(req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void {
    const pathname = pathnameOf(req.url);
    if (pathname !== path && !pathname.startsWith(`${path}/`)) {
      next();
      return;
    }
    // An express app is itself a (req, res, next) handler; its types only take express' own Request.
    (mountApp as unknown as typeof handleRequest)(req, res, next);
  }

  function close(): void {
    httpServer.off('upgrade', onUpgrade);
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    // peer 1.0 keeps two internal timers (dead-socket sweep, offer expiry) that it offers no way
    // to stop; they are cheap, but they keep a process alive: servers exit with process.exit().
  }

  return relay;
}

function normalizePath(path: string): string {
  const trimmed = path.endsWith('/') ? path.slice(0, -1) : path;
  if (!trimmed.startsWith('/') || trimmed.length < 2) {
    throw new Error(`The relay needs a path of its own that starts with "/", such as "/peerjs"; got "${path}".`);
  }
  return trimmed;
}

function pathnameOf(url: string | undefined): string {
  const query = (url ?? '').indexOf('?');
  return query === -1 ? (url ?? '') : (url ?? '').slice(0, query);
}
