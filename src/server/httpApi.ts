// The pages' HTTP API: what the job is (the contributor page shows it before consent), the
// run's live status (the dashboard), the model as ONNX, the leaderboard of verified credit,
// and the one route that takes a body: a key link (POST /api/key-link).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RunStatusSnapshot } from './runStatus.ts';
import type { ModelSpec } from '../model/layers/spec.ts';
import type { DatasetLocation } from '../protocol/messages.ts';
import type { DataSummary } from './datasetRoute.ts';
import type { IceServerSpec } from '../net/iceServers.ts';
import { KeyLink, type SignedTreeHead } from '../protocol/messages.ts';
import { KeyLinkError, type Leaderboard } from '../ledger/credit.ts';

/** What the contributor page needs before it connects. */
export interface JobAnnouncement {
  id: string;
  name: string;
  model: ModelSpec;
  dataset: DatasetLocation;
  /** What the data is and how much a contributor downloads, for the contributor page. */
  data: DataSummary;
  trainExamples: number;
  globalBatch: number;
  parameterCount: number;
  coordinatorId: string;
  relayPath: string;
  targetAccuracy: number | null;
  /** The coordinator's public key: the page pins it, and the coordinator proves it holds it in every welcome. */
  coordinatorKey: string;
  /** STUN and TURN servers for this page's WebRTC link (TURN credentials of its own, that expire); [] when the owner named none. */
  iceServers?: IceServerSpec[];
}

export interface ApiSources {
  job: () => JobAnnouncement;
  status: () => RunStatusSnapshot;
  /** The current (or final) model as an ONNX file. */
  modelOnnx: () => Uint8Array;
  /** Verified credit from the ledger; null until the ledger is open. */
  leaderboard?: () => Leaderboard | null;
  /** Record a key link, or throw a KeyLinkError saying why not. */
  linkKeys?: (link: KeyLink) => { index: number; head: SignedTreeHead };
}

/** A key link is a few hundred bytes; anything much longer is not one. */
const MAX_BODY_BYTES = 4096;

const SSE_INTERVAL_MS = 1000;

export function httpApi(sources: ApiSources) {
  const streams = new Set<ServerResponse>();
  const timer = setInterval(() => {
    if (!streams.size) return;
    const data = `event: status\ndata: ${JSON.stringify(sources.status())}\n\n`;
    for (const res of streams) res.write(data);
  }, SSE_INTERVAL_MS);
  timer.unref();

  const handler = (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    const path = (req.url ?? '').split('?')[0];
    if (!path.startsWith('/api/')) return next();
    if (path === '/api/key-link') {
      if (req.method !== 'POST') {
        json(res, 405, { error: `${req.method} is not allowed on ${path}: POST a key link` }, { allow: 'POST' });
        return;
      }
      void readBody(req, MAX_BODY_BYTES).then(
        (body) => json(res, ...takeKeyLink(body, sources)),
        (error: Error) => json(res, 413, { error: error.message }),
      );
      return;
    }
    // HEAD is answered as GET: Node's ServerResponse sends the headers and drops the body.
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      json(res, 405, { error: `${req.method} is not allowed on ${path}` }, { allow: 'GET, HEAD' });
      return;
    }
    switch (path) {
      case '/api/job':
        json(res, 200, sources.job());
        return;
      case '/api/status':
        json(res, 200, sources.status());
        return;
      case '/api/events':
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
        if (req.method === 'HEAD') {
          res.end(); // no stream to keep open for a request that takes no body
          return;
        }
        res.write(`event: status\ndata: ${JSON.stringify(sources.status())}\n\n`);
        streams.add(res);
        req.on('close', () => streams.delete(res));
        return;
      case '/api/leaderboard': {
        const board = sources.leaderboard?.() ?? null;
        if (board) json(res, 200, board);
        else json(res, 503, { error: 'the ledger is not open yet: no credit to rank' });
        return;
      }
      case '/api/model.onnx': {
        const bytes = sources.modelOnnx();
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-disposition': 'attachment; filename="model.onnx"',
          'content-length': bytes.length,
        });
        res.end(bytes);
        return;
      }
      default:
        json(res, 404, { error: `No API route ${path}` });
    }
  };
  return Object.assign(handler, {
    close() {
      clearInterval(timer);
      for (const res of streams) res.end();
      streams.clear();
    },
  });
}

/** The answer to a POSTed key link: [status, body]. Nothing is recorded unless it is 200. */
function takeKeyLink(body: string, sources: ApiSources): [number, unknown] {
  if (!sources.linkKeys) return [503, { error: 'this server keeps no ledger: there is no credit to link' }];
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    return [400, { error: `the body is not JSON (${(error as Error).message}); POST {jobId, fromKey, toKey, issuedAt, signature}` }];
  }
  const parsed = KeyLink.safeParse(value);
  if (!parsed.success) return [400, { error: `not a key link: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}` }];
  try {
    const { index, head } = sources.linkKeys(parsed.data);
    return [200, { ok: true, entry: index, treeHead: head }];
  } catch (error) {
    if (error instanceof KeyLinkError) return [error.status, { error: error.message }];
    throw error;
  }
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    // An oversized body is drained, not cut, so that the 413 still reaches the sender.
    req.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length <= limit) chunks.push(chunk);
    });
    req.on('end', () => (length > limit ? reject(new Error(`the body is ${length} bytes, over ${limit}; a key link is a few hundred`)) : resolve(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(text);
}
