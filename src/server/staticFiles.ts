// Serves the built pages (dist/) with the cross-origin isolation headers every page needs,
// and never a file outside the directory.

import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { CROSS_ORIGIN_ISOLATION_HEADERS } from './isolationHeaders.ts';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.onnx': 'application/octet-stream',
  '.txt': 'text/plain; charset=utf-8',
};

/** What any site may load: the widget script and the frame it embeds (see README, "Embedding the widget"). */
const EMBEDDABLE = new Set(['/widget.js', '/embed.html']);

/** Connect-style handler for GET/HEAD of files under `root`; calls next() when there is none. */
export function staticFiles(root: string) {
  const base = normalize(root + sep);
  return (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('Bad path\n');
      return;
    }
    if (path.endsWith('/')) path += 'index.html';
    const file = normalize(join(base, path));
    if (!file.startsWith(base)) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('Outside the site\n');
      return;
    }
    let size: number;
    try {
      const stat = statSync(file);
      if (!stat.isFile()) return next();
      size = stat.size;
    } catch {
      return next();
    }
    res.writeHead(200, {
      ...CROSS_ORIGIN_ISOLATION_HEADERS,
      // Subresources must opt in under COEP require-corp; ours are same-origin, except what
      // host sites embed, which must load even on a host page that is itself isolated.
      'Cross-Origin-Resource-Policy': EMBEDDABLE.has(path) ? 'cross-origin' : 'same-origin',
      ...(path === '/widget.js' ? { 'Access-Control-Allow-Origin': '*' } : {}),
      'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': size,
      // Hashed assets never change; pages must be revalidated to pick up a new build.
      'cache-control': path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  };
}
