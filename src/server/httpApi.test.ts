// The pages' API on a real http.Server on loopback, read with fetch: each route's status,
// headers and body, 405 for other methods, a JSON 404 for an unknown /api route, and next()
// for everything outside /api/. The live status stream (/api/events) is read chunk by chunk:
// it starts with a status event, then sends one a second while a client listens, and close()
// ends it and stops the timer. Only setInterval is faked, and only where a test needs the
// ticks on demand; the server and the sockets run on real time.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { httpApi, type ApiSources, type JobAnnouncement } from './httpApi.ts';
import type { RunStatusSnapshot } from './runStatus.ts';
import { CreditBook } from '../ledger/credit.ts';
import { entryLine, type LedgerEntryBody } from '../ledger/entries.ts';
import { testKey } from '../coordinator/testSwarm.ts';
import { keyLinkStatement } from '../protocol/signing.ts';
import { nodeVerifier } from './nodeSigning.ts';

const JOB: JobAnnouncement = {
  id: 'job-1', name: 'tiny', model: { widths: [784, 4, 10], activation: 'relu' }, dataset: { format: 'fashion-mnist-idx-gz', url: '/data/fashion-mnist/' },
  data: { description: 'Fashion-MNIST (28×28 pictures of clothing, 10 classes)', downloadBytes: 30_878_645 },
  trainExamples: 200, globalBatch: 64, parameterCount: 3190, coordinatorId: 'coordinator', relayPath: '/peerjs', targetAccuracy: 0.88, coordinatorKey: 'ed25519:' + 'A'.repeat(43),
};

function statusAt(round: number): RunStatusSnapshot {
  return {
    job: { id: 'job-1', name: 'tiny', globalBatch: 64, parameters: 3190 }, state: 'running', message: null, startedAt: 1, now: 2,
    round, rounds: [], evaluations: [], samples: [], contributors: [], examplesPerSecond: 0, roundsPerMinute: 0,
    eta: { stopRound: null, targetAccuracy: null, seconds: null }, computeShare: null, relay: null,
  };
}

const MODEL = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff);

let server: Server;
let origin: string;
let api: ReturnType<typeof httpApi>;
let statusCalls: number;
let passedOn: string[];

/** Starts the server with the API in front; `beforeApi` runs just before httpApi() makes its timer. */
async function start(beforeApi: () => void = () => {}, extra: Partial<ApiSources> = {}): Promise<void> {
  statusCalls = 0;
  passedOn = [];
  let handler: ((req: IncomingMessage, res: ServerResponse, next: () => void) => void) | null = null;
  server = createServer((req, res) =>
    handler!(req, res, () => {
      passedOn.push(`${req.method} ${req.url}`);
      res.writeHead(418, { 'content-type': 'text/plain' }).end('next\n');
    }),
  );
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  beforeApi();
  const sources: ApiSources = {
    job: () => JOB,
    status: () => statusAt(++statusCalls),
    modelOnnx: () => MODEL,
    ...extra,
  };
  api = httpApi(sources);
  handler = api;
}

afterEach(async () => {
  vi.useRealTimers();
  api?.close();
  server.closeAllConnections();
  await new Promise<void>((ok) => server.close(() => ok()));
});

describe('httpApi routes', () => {
  beforeEach(() => start());

  it('GET /api/job answers the announcement as JSON, never cached', async () => {
    const res = await fetch(`${origin}/api/job`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual(JOB);
  });

  it('GET /api/status answers a fresh snapshot on each request, with or without a query', async () => {
    const first = await fetch(`${origin}/api/status`);
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('application/json');
    expect(first.headers.get('cache-control')).toBe('no-store');
    expect(await first.json()).toEqual(statusAt(1));
    expect(((await (await fetch(`${origin}/api/status?t=123`)).json()) as RunStatusSnapshot).round).toBe(2);
  });

  it('GET /api/model.onnx answers the model bytes as a download', async () => {
    const res = await fetch(`${origin}/api/model.onnx`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="model.onnx"');
    expect(res.headers.get('content-length')).toBe(String(MODEL.length));
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(MODEL);
  });

  it('answers 405 with a JSON reason and an Allow header to any method but GET and HEAD on an /api/ path', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const res = await fetch(`${origin}/api/status`, { method });
      expect(res.status, method).toBe(405);
      expect(res.headers.get('allow'), method).toBe('GET, HEAD');
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(await res.json()).toEqual({ error: `${method} is not allowed on /api/status` });
    }
    expect(statusCalls).toBe(0);
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const res = await fetch(`${origin}/api/model.onnx`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(MODEL.length));
    expect((await res.arrayBuffer()).byteLength).toBe(0);
    const events = await fetch(`${origin}/api/events`, { method: 'HEAD' });
    expect(events.status).toBe(200);
    expect(events.headers.get('content-type')).toBe('text/event-stream');
    expect((await events.arrayBuffer()).byteLength).toBe(0); // ends: no stream kept open
  });

  it('answers a JSON 404 that names an unknown /api/ route', async () => {
    const res = await fetch(`${origin}/api/nope?x=1`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({ error: 'No API route /api/nope' });
    expect(passedOn).toEqual([]);
  });

  it('passes everything outside /api/ to next()', async () => {
    for (const path of ['/', '/dashboard.html', '/api', '/apix/job', '/data/api/job']) {
      const res = await fetch(`${origin}${path}`);
      expect(res.status, path).toBe(418);
      await res.text();
    }
    await (await fetch(`${origin}/dashboard.html`, { method: 'POST' })).text();
    expect(passedOn).toEqual(['GET /', 'GET /dashboard.html', 'GET /api', 'GET /apix/job', 'GET /data/api/job', 'POST /dashboard.html']);
  });
});

/** Reads server-sent events from a response body, one complete event at a time. */
function eventReader(res: Response) {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  return {
    /** The next event as { event, data }, or null when the stream ended. */
    async next(): Promise<{ event: string; data: unknown } | null> {
      while (!buffered.includes('\n\n')) {
        const { done, value } = await reader.read();
        if (done) return null;
        buffered += decoder.decode(value, { stream: true });
      }
      const end = buffered.indexOf('\n\n');
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const lines = block.split('\n');
      const event = lines.find((l) => l.startsWith('event: '))!.slice('event: '.length);
      const data = JSON.parse(lines.find((l) => l.startsWith('data: '))!.slice('data: '.length));
      return { event, data };
    },
  };
}

describe('httpApi /api/events', () => {
  it('opens an event stream that starts with the current status', async () => {
    await start();
    const abort = new AbortController();
    const res = await fetch(`${origin}/api/events`, { signal: abort.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const events = eventReader(res);
    expect(await events.next()).toEqual({ event: 'status', data: statusAt(1) });
    abort.abort();
  });

  it('sends a status event each second to each listener, and none when nobody listens', async () => {
    await start(() => vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] }));
    vi.advanceTimersByTime(3000);
    expect(statusCalls).toBe(0); // no stream: nothing is computed

    const abort = new AbortController();
    const events = eventReader(await fetch(`${origin}/api/events`, { signal: abort.signal }));
    expect((await events.next())!.data).toEqual(statusAt(1));
    vi.advanceTimersByTime(1000);
    expect(await events.next()).toEqual({ event: 'status', data: statusAt(2) });
    vi.advanceTimersByTime(1000);
    expect(await events.next()).toEqual({ event: 'status', data: statusAt(3) });
    abort.abort();
  });

  it('forgets a listener that went away', async () => {
    await start(() => vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] }));
    const closed = new Promise<void>((ok) => server.once('connection', (socket) => socket.once('close', () => ok())));
    const abort = new AbortController();
    const events = eventReader(await fetch(`${origin}/api/events`, { signal: abort.signal }));
    await events.next();
    abort.abort();
    await closed;
    // Let the request's own close event run after the socket's.
    await new Promise((ok) => setTimeout(ok, 20));
    const before = statusCalls;
    vi.advanceTimersByTime(5000);
    expect(statusCalls).toBe(before);
  });

  it('close() ends open streams and stops the timer', async () => {
    await start(() => vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] }));
    expect(vi.getTimerCount()).toBe(1);
    const events = eventReader(await fetch(`${origin}/api/events`));
    await events.next();
    api.close();
    expect(await events.next()).toBeNull(); // the stream ended cleanly
    expect(vi.getTimerCount()).toBe(0);
    const before = statusCalls;
    vi.advanceTimersByTime(5000);
    expect(statusCalls).toBe(before);
  });
});

describe('httpApi leaderboard and key links', () => {
  const [A, B] = [testKey(), testKey()];
  let book: CreditBook;
  let recorded: string[];

  function add(body: LedgerEntryBody): void {
    const line = entryLine(book.entries, 1000, body);
    recorded.push(line);
    book.add(JSON.parse(line));
  }

  function signedLink(): Record<string, unknown> {
    const body = { jobId: 'job-1', fromKey: A.publicKey, toKey: B.publicKey, issuedAt: 900 };
    return { ...body, signature: A.sign(keyLinkStatement(body)) };
  }

  const post = (body: string) => fetch(`${origin}/api/key-link`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  beforeEach(async () => {
    book = new CreditBook('job-1', nodeVerifier);
    recorded = [];
    add({ kind: 'log', jobId: 'job-1', jobName: 'tiny', coordinatorKey: testKey().publicKey });
    add({ kind: 'joined', contributorId: 'c1', publicKey: A.publicKey, backend: 'cpu', device: 'd', resumed: false, team: 'Lab 1' });
    add({ kind: 'credit', contributorId: 'c1', round: 0, leases: 1, examples: 64 });
    await start(() => {}, {
      leaderboard: () => book.leaderboard(),
      linkKeys: (link) => {
        book.checkLink(link, 1000);
        add({ kind: 'keyLinked', fromKey: link.fromKey, toKey: link.toKey, issuedAt: link.issuedAt, signature: link.signature });
        return { index: book.entries - 1, head: { size: book.entries, rootHash: '0'.repeat(64), timestamp: 1000, signature: 'A'.repeat(86) } };
      },
    });
  });

  it('GET /api/leaderboard answers the ranking from the ledger', async () => {
    const res = await fetch(`${origin}/api/leaderboard`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual(book.leaderboard());
  });

  it('POST /api/key-link records a good link and answers its entry and head', async () => {
    const res = await post(JSON.stringify(signedLink()));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, entry: 3, treeHead: { size: 4 } });
    expect(JSON.parse(recorded[3])).toMatchObject({ kind: 'keyLinked', fromKey: A.publicKey, toKey: B.publicKey });
    const board = (await (await fetch(`${origin}/api/leaderboard`)).json()) as { contributors: { key: string }[] };
    expect(board.contributors.map((p) => p.key)).toEqual([B.publicKey]);
  });

  it('refuses a bad link with a status and a message that says why, recording nothing', async () => {
    const wrongSigner = { ...signedLink(), signature: B.sign(new TextEncoder().encode('anything')) };
    const cases: [string, number, RegExp][] = [
      ['{not json', 400, /^the body is not JSON/],
      [JSON.stringify({ ...signedLink(), extra: 1 }), 400, /^not a key link: body: Unrecognized key/],
      [JSON.stringify({ ...signedLink(), toKey: 'rsa:nope' }), 400, /^not a key link: toKey: a public key/],
      [JSON.stringify(wrongSigner), 403, /^the link's signature does not verify with ed25519:/],
      ['x'.repeat(5000), 413, /^the body is 5000 bytes, over 4096/],
    ];
    for (const [body, status, message] of cases) {
      const res = await post(body);
      expect(res.status, body.slice(0, 40)).toBe(status);
      expect(((await res.json()) as { error: string }).error).toMatch(message);
    }
    expect(recorded).toHaveLength(3);
    const get = await fetch(`${origin}/api/key-link`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });

  it('answers 503 while there is no ledger to rank or link in', async () => {
    api.close();
    server.closeAllConnections();
    await new Promise<void>((ok) => server.close(() => ok()));
    await start(() => {}, { leaderboard: () => null });
    expect((await fetch(`${origin}/api/leaderboard`)).status).toBe(503);
    const res = await post(JSON.stringify(signedLink()));
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: 'this server keeps no ledger: there is no credit to link' });
  });
});
