// The page server on a real http.Server on loopback, serving a temporary directory: content
// types, the cross-origin isolation headers every page needs, index.html for directories,
// HEAD, caching of hashed assets, and next() for what it does not serve. Path traversal is
// sent with node:http on purpose, as raw request targets: fetch() would normalize `..` and
// `%2e%2e` away before they reach the server. A file beside the root (in a sibling
// directory whose name starts like the root's) must never be served.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staticFiles } from './staticFiles.ts';

const SECRET = 'do not serve me';
let dir: string;
let root: string;
let server: Server;
let origin: string;
let port: number;
/** Requests that staticFiles passed on with next(). */
const passedOn: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'swarmgrad-static-'));
  root = join(dir, 'site');
  await mkdir(join(root, 'assets'), { recursive: true });
  await mkdir(join(root, 'docs'), { recursive: true });
  await mkdir(join(dir, 'site-secret'), { recursive: true });
  await writeFile(join(root, 'index.html'), '<h1>contribute</h1>');
  await writeFile(join(root, 'dashboard.html'), '<h1>dashboard</h1>');
  await writeFile(join(root, 'docs', 'index.html'), '<h1>docs</h1>');
  await writeFile(join(root, 'assets', 'main-abc123.js'), 'console.log(1);');
  await writeFile(join(root, 'assets', 'style-abc123.css'), 'body{}');
  await writeFile(join(root, 'kernel.wasm'), new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
  await writeFile(join(root, 'data.json'), '{"a":1}');
  await writeFile(join(root, 'model.onnx'), new Uint8Array([1, 2, 3]));
  await writeFile(join(root, 'blob.xyz'), 'x');
  await writeFile(join(root, 'widget.js'), 'void 0;');
  await writeFile(join(root, 'embed.html'), '<h1>widget</h1>');
  await writeFile(join(root, 'hello world.txt'), 'spaced');
  await writeFile(join(dir, 'secret.txt'), SECRET);
  await writeFile(join(dir, 'site-secret', 'secret.txt'), SECRET);

  const site = staticFiles(root);
  server = createServer((req, res) =>
    site(req, res, () => {
      passedOn.push(`${req.method} ${req.url}`);
      res.writeHead(404, { 'content-type': 'text/plain' }).end('next\n');
    }),
  );
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await new Promise<void>((ok) => server.close(() => ok()));
  await rm(dir, { recursive: true, force: true });
});

/** A request with the target sent exactly as written. */
function rawGet(target: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port, path: target, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => ok({ status: res.statusCode!, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

describe('staticFiles', () => {
  it('serves a file with its content type, length and the isolation headers', async () => {
    const res = await fetch(`${origin}/dashboard.html`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('<h1>dashboard</h1>');
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-length')).toBe(String('<h1>dashboard</h1>'.length));
    expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(res.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect(res.headers.get('cross-origin-resource-policy')).toBe('same-origin');
  });

  it('lets any site load the widget script and frame the widget page, and nothing else', async () => {
    const script = await fetch(`${origin}/widget.js`);
    expect(script.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    expect(script.headers.get('access-control-allow-origin')).toBe('*');
    const frame = await fetch(`${origin}/embed.html`);
    expect(frame.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    expect(frame.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect(frame.headers.get('access-control-allow-origin')).toBeNull();
    expect((await fetch(`${origin}/index.html`)).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('names the content type of each kind of file the build makes', async () => {
    const expected: Record<string, string> = {
      '/assets/main-abc123.js': 'text/javascript; charset=utf-8',
      '/assets/style-abc123.css': 'text/css; charset=utf-8',
      '/kernel.wasm': 'application/wasm',
      '/data.json': 'application/json',
      '/model.onnx': 'application/octet-stream',
      '/blob.xyz': 'application/octet-stream',
    };
    for (const [path, type] of Object.entries(expected)) {
      const res = await fetch(`${origin}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toBe(type);
      await res.arrayBuffer();
    }
    const wasm = new Uint8Array(await (await fetch(`${origin}/kernel.wasm`)).arrayBuffer());
    expect([...wasm]).toEqual([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
  });

  it('serves index.html for / and for a directory path ending in /, ignoring the query', async () => {
    const top = await fetch(`${origin}/?from=link`);
    expect(top.status).toBe(200);
    expect(await top.text()).toBe('<h1>contribute</h1>');
    expect(top.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await (await fetch(`${origin}/docs/`)).text()).toBe('<h1>docs</h1>');
  });

  it('decodes percent-encoded names', async () => {
    const res = await fetch(`${origin}/hello%20world.txt`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('spaced');
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
  });

  it('answers HEAD with the headers and no body', async () => {
    const res = await fetch(`${origin}/dashboard.html`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String('<h1>dashboard</h1>'.length));
    expect(res.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect(await res.text()).toBe('');
  });

  it('lets hashed assets be cached for good and makes pages revalidate', async () => {
    const asset = await fetch(`${origin}/assets/main-abc123.js`);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    await asset.text();
    for (const path of ['/', '/dashboard.html', '/kernel.wasm']) {
      const page = await fetch(`${origin}${path}`);
      expect(page.headers.get('cache-control'), path).toBe('no-cache');
      await page.text();
    }
  });

  it('passes on to next() a missing file, a directory without its slash, and other methods', async () => {
    passedOn.length = 0;
    expect((await rawGet('/nope.html')).body).toBe('next\n');
    expect((await rawGet('/docs')).body).toBe('next\n');
    expect((await rawGet('/assets/')).body).toBe('next\n'); // no index.html there
    expect((await rawGet('/dashboard.html', 'POST')).body).toBe('next\n');
    expect((await rawGet('/dashboard.html', 'DELETE')).body).toBe('next\n');
    expect(passedOn).toEqual(['GET /nope.html', 'GET /docs', 'GET /assets/', 'POST /dashboard.html', 'DELETE /dashboard.html']);
  });

  it('never serves a file outside the root, however the path is spelled', async () => {
    const attempts = [
      '/../secret.txt',
      '/assets/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/%2e%2e%2fsecret.txt',
      '/%2E%2E%2Fsecret.txt',
      '/assets%2f..%2f..%2fsecret.txt',
      '/..%2fsite-secret%2fsecret.txt',
      '/%2e%2e%2fsite-secret/secret.txt',
      '/..%5csecret.txt',
      '/..%2f',
      '/secret.txt%00.html',
      `/${'%2e%2e%2f'.repeat(12)}etc%2fpasswd`,
    ];
    for (const target of attempts) {
      const { status, body } = await rawGet(target);
      expect(body, target).not.toContain(SECRET);
      expect([400, 403, 404], target).toContain(status);
      expect(body, target).not.toMatch(/root:/);
    }
  });

  it('refuses a decoded path that climbs out of the root with 403, not next()', async () => {
    passedOn.length = 0;
    for (const target of ['/%2e%2e%2fsecret.txt', '/..%2fsite-secret%2fsecret.txt', '/..%2f']) {
      const { status, body } = await rawGet(target);
      expect(status, target).toBe(403);
      expect(body, target).toBe('Outside the site\n');
    }
    expect(passedOn).toEqual([]);
  });

  it('resolves dot segments in the raw target inside the root', async () => {
    // The URL parser removes these before the root is joined: they can only point inside.
    const { status, body } = await rawGet('/assets/../dashboard.html');
    expect(status).toBe(200);
    expect(body).toBe('<h1>dashboard</h1>');
    expect((await rawGet('/../../secret.txt')).status).toBe(404); // read as /secret.txt under the root: not there
  });

  it('answers 400 to malformed percent-encoding', async () => {
    for (const target of ['/%', '/%zz', '/index.html%E0%A4%A', '/%c0%ae%c0%ae/secret.txt']) {
      const { status, body } = await rawGet(target);
      expect(status, target).toBe(400);
      expect(body, target).toBe('Bad path\n');
    }
  });
});
