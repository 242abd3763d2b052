// The pages' HTTP API: what the job is (the contributor page shows it before consent), the
// run's live status (the dashboard), and the model as ONNX.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RunStatusSnapshot } from './runStatus.ts';
import type { ModelSpec } from '../model/layers/spec.ts';
import type { DatasetLocation } from '../protocol/messages.ts';
import type { DataSummary } from './datasetRoute.ts';

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
}

export interface ApiSources {
  job: () => JobAnnouncement;
  status: () => RunStatusSnapshot;
  /** The current (or final) model as an ONNX file. */
  modelOnnx: () => Uint8Array;
}

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

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(text);
}
