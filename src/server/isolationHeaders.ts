// Cross-origin isolation: with these two headers on every page (and every page inside an
// iframe), the browser grants SharedArrayBuffer, which the CPU backend's worker threads
// share their WebAssembly memory through. Without them it runs on one thread.
// COEP require-corp also means every cross-origin subresource must opt in (CORP or CORS).

export const CROSS_ORIGIN_ISOLATION_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
});
