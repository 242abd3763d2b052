// Minimal DOM helpers for the pages: no framework, just typed element lookup and creation.

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`The page has no element #${id}`);
  return el as T;
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

/** Saves `value` as a JSON file the browser downloads. */
export function downloadJson(filename: string, value: unknown): void {
  const link = el('a', { href: URL.createObjectURL(new Blob([JSON.stringify(value, null, 1)], { type: 'application/json' })), download: filename });
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

/** Replace a definition list's contents with label/value pairs. */
export function setFacts(dl: HTMLElement, facts: [string, string][]): void {
  dl.replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

export function formatNumber(x: number, digits = 0): string {
  return x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** A byte count as the page says it: "31 MB", "420 kB" (decimal units, as browsers show downloads). */
export function formatBytes(bytes: number): string {
  if (bytes >= 1e6) return `${formatNumber(bytes / 1e6, bytes >= 1e7 ? 0 : 1)} MB`;
  if (bytes >= 1e3) return `${formatNumber(bytes / 1e3)} kB`;
  return `${formatNumber(bytes)} bytes`;
}
