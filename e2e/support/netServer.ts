// The Node side of the network tests and measurements: one http.Server that serves a built test
// page, embeds the signaling relay, and runs a coordinator peer speaking benchFrames.ts (echo,
// sink, source). Run it with tsx, inside ../shared/isolated-net:
//
//   node --import tsx e2e/support/netServer.ts --page-dir DIR [--port 0] [--webrtc node-datachannel|werift]
//
// It prints one line `{"ready":true,"port":N,...}` once the coordinator is registered, serves
// GET /net-status as JSON, and exits cleanly on SIGTERM/SIGINT.

import { createReadStream, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { parseArgs } from 'node:util';
import type { FrameChannel } from '../../src/net/frameChannel.ts';
import type { NodeWebRtc } from '../../src/net/nodeWebRtc.ts';
import { startCoordinatorPeer } from '../../src/net/nodePeer.ts';
import { attachSignalingRelay } from '../../src/net/relay.ts';
import { Tag, decodeControl, encodeControl, sequenceOf, sequencedFrame } from './benchFrames.ts';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'page-dir': { type: 'string' },
    webrtc: { type: 'string', default: 'node-datachannel' },
    'coordinator-id': { type: 'string', default: 'coordinator' },
  },
});
const pageDir = args['page-dir'];
if (!pageDir) throw new Error('--page-dir is required: the directory of the built test page.');

const webrtc = await loadWebRtc(args.webrtc!);
const server = createServer((req, res) => {
  relay.handleRequest(req, res, (error) => {
    if (error) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`relay error: ${String(error)}\n`);
      return;
    }
    if (req.url === '/net-status') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ relay: relay.stats(), openChannels: coordinator.openChannels, negotiating: coordinator.negotiating }));
      return;
    }
    serveStatic(pageDir, req, res);
  });
});
const relay = attachSignalingRelay(server, { path: '/peerjs' });
relay.onError = (error) => console.error(`[relay] ${error.message}`);

await new Promise<void>((resolve) => server.listen(Number(args.port), '127.0.0.1', resolve));
const address = server.address();
if (!address || typeof address === 'string') throw new Error('the server did not get a TCP port');

const coordinator = await startCoordinatorPeer({
  host: '127.0.0.1',
  port: address.port,
  path: '/peerjs',
  coordinatorId: args['coordinator-id']!,
  webrtc,
});
coordinator.onError = (error) => console.error(`[coordinator] ${error.message}`);
coordinator.onChannel = serveBenchFrames;

console.log(JSON.stringify({ ready: true, port: address.port, webrtc: webrtc.name, pid: process.pid }));

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    void coordinator.close().then(() => {
      relay.close();
      server.close();
      // The relay package keeps timers it cannot stop; nothing else is left running.
      process.exit(0);
    });
  });
}

/** Echo, sink and source, each frame handled as it arrives; replies go through backpressure. */
function serveBenchFrames(channel: FrameChannel): void {
  let sinkFrames = 0;
  let sinkBytes = 0;
  let outOfOrder = 0;
  let cpuMark = process.cpuUsage();
  const report = (text: string) => (error: unknown) => console.error(`[bench] ${text}: ${(error as Error).message}`);
  channel.onFrame = (frame) => {
    switch (frame[0]) {
      case Tag.ECHO:
        // The frame arrived in a buffer of its own: sending it back as it is copies nothing.
        channel.send(frame).catch(report('echo failed'));
        return;
      case Tag.SINK:
        if (sequenceOf(frame) !== sinkFrames) outOfOrder++;
        sinkFrames++;
        sinkBytes += frame.byteLength;
        return;
      case Tag.CONTROL: {
        const message = decodeControl(frame);
        if (message.op === 'reset-cpu') {
          cpuMark = process.cpuUsage();
          sinkFrames = sinkBytes = outOfOrder = 0;
        } else if (message.op === 'sink-report') {
          const cpuMs = cpuSince(cpuMark);
          channel.send(encodeControl({ op: 'sink-reported', frames: sinkFrames, bytes: sinkBytes, outOfOrder, cpuMs })).catch(report('report failed'));
        } else if (message.op === 'source') {
          void streamSource(channel, message.bytes, message.frameBytes).catch(report('source failed'));
        }
        return;
      }
      default:
        console.error(`[bench] unknown frame tag ${frame[0]} from ${channel.peerId}`);
    }
  };
  channel.onClose = (reason) => console.error(`[bench] channel to ${channel.peerId} closed: ${reason}`);
}

async function streamSource(channel: FrameChannel, bytes: number, frameBytes: number): Promise<void> {
  const cpuMark = process.cpuUsage();
  let sent = 0;
  let frames = 0;
  while (sent < bytes) {
    const size = Math.min(frameBytes, bytes - sent);
    await channel.send(sequencedFrame(Tag.SOURCE, frames, Math.max(size, 5)));
    sent += size;
    frames++;
  }
  await channel.send(encodeControl({ op: 'source-done', frames, bytes: sent, cpuMs: cpuSince(cpuMark) }));
}

function cpuSince(mark: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(mark);
  return (used.user + used.system) / 1000;
}

async function loadWebRtc(name: string): Promise<NodeWebRtc> {
  if (name === 'node-datachannel') return (await import('../../src/net/nodeDataChannel.ts')).nodeDataChannelWebRtc;
  if (name === 'werift') return (await import('../../scripts/net-measure/weriftWebRtc.ts')).loadWeriftWebRtc();
  throw new Error(`--webrtc must be node-datachannel or werift, got "${name}".`);
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
};

function serveStatic(root: string, req: IncomingMessage, res: ServerResponse): void {
  const pathname = decodeURIComponent((req.url ?? '/').split('?')[0]);
  const file = normalize(join(root, pathname === '/' ? 'index.html' : pathname));
  if (!file.startsWith(normalize(root) + sep)) {
    res.writeHead(403).end();
    return;
  }
  try {
    if (!statSync(file).isFile()) throw new Error('not a file');
  } catch {
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`No such file: ${pathname}\n`);
    return;
  }
  res.writeHead(200, { 'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream' });
  createReadStream(file).pipe(res);
}
