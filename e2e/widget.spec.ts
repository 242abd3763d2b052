// The embeddable widget end to end: the demo game (public/demo/game.html) served from one
// origin (http://localhost:PORT) embeds widget.js from the coordinator's (http://127.0.0.1:PORT),
// so the frame is truly cross-origin. Nothing starts before the visitor's keyboard "click"
// inside the frame; the host cannot read the frame's storage; the visitor can do it all from
// the keyboard; results are counted; and the throttle reacts to the host's frames: a burst of
// dropped frames halves the duty cycle at the next control step and it climbs back after.
// The frame times themselves are a benchmark (scripts/bench-widget.ts), not an assertion: they
// depend on the machine's load. Runs inside ../shared/isolated-net via `node scripts/e2e.mjs`.

import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Frame, type Page } from '@playwright/test';
import type { RunStatusSnapshot } from '../src/server/runStatus.ts';
import type { Leaderboard } from '../src/ledger/credit.ts';
import { generateWebKeyPair } from '../src/protocol/signing.ts';
import { freePort, startJobServer, type JobServer } from './support/jobServer.ts';

test.describe.configure({ timeout: 4 * 60_000 });

let out = '';
let server: JobServer | null = null;

test.beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'swarmgrad-e2e-widget-'));
  server = await startJobServer({ job: 'e2e/jobs/widget.json', port: await freePort(), out, fresh: true });
});

test.afterAll(async () => {
  await server?.kill('SIGKILL');
  rmSync(out, { recursive: true, force: true });
});

const status = async () => (await (await fetch(`${server!.origin}/api/status`)).json()) as RunStatusSnapshot;
const counted = async () => (await status()).contributors.reduce((n, c) => n + c.tasks, 0);

/** The demo game on the other origin (localhost), embedding the widget from the coordinator's (127.0.0.1). */
function gameUrl(project: string): string {
  const coordinator = server!.origin; // http://127.0.0.1:PORT
  const game = coordinator.replace('127.0.0.1', 'localhost');
  return `${game}/demo/game.html?coordinator=${encodeURIComponent(coordinator)}&project=${encodeURIComponent(project)}`;
}

async function widgetFrame(page: Page): Promise<Frame> {
  await expect.poll(() => page.frames().some((f) => f.url().includes('/embed.html'))).toBe(true);
  const frame = page.frames().find((f) => f.url().includes('/embed.html'))!;
  await frame.waitForSelector('#donate:not([disabled])');
  return frame;
}

test('the widget starts only on consent, keeps its storage from the host, and yields to dropped frames', async ({ browser }) => {
  const project = (await status()).job.id;
  const context = await browser.newContext();
  // Count workers and adapter requests in every frame, before any page script runs.
  await context.addInitScript(() => {
    // What a curious host could hold: the frame's WindowProxy, from any message it posts.
    window.addEventListener('message', (e) => ((window as unknown as { lastMessageSource: unknown }).lastMessageSource = e.source));
    const counts = { workers: 0, adapters: 0 };
    (window as unknown as { swarmgradCounts: typeof counts }).swarmgradCounts = counts;
    const NativeWorker = window.Worker;
    window.Worker = class extends NativeWorker {
      constructor(url: string | URL, options?: WorkerOptions) {
        super(url, options);
        counts.workers++;
      }
    };
    if (navigator.gpu) {
      const request = navigator.gpu.requestAdapter.bind(navigator.gpu);
      navigator.gpu.requestAdapter = (options?: GPURequestAdapterOptions) => {
        counts.adapters++;
        return request(options);
      };
    }
  });
  const page = await context.newPage();
  const workers: string[] = [];
  page.on('worker', (w) => workers.push(w.url()));
  page.on('pageerror', (error) => console.error(`[game page] ${error.message}`));

  // 1. The game with the widget, before consent: nothing computes.
  await page.goto(gameUrl(project));
  await page.evaluate(() => {
    const seen: unknown[] = [];
    (window as unknown as { widgetStatuses: unknown[] }).widgetStatuses = seen;
    document.querySelector('swarmgrad-widget')?.addEventListener('swarmgrad-status', (e) => seen.push((e as CustomEvent).detail));
  });
  const frame = await widgetFrame(page);
  await page.waitForTimeout(2000);
  expect(await frame.evaluate(() => (window as unknown as { swarmgradCounts: object }).swarmgradCounts)).toEqual({ workers: 0, adapters: 0 });
  expect(workers).toEqual([]);
  expect(await counted()).toBe(0);

  // 2. The host cannot reach the frame's storage, and the status it receives carries no key.
  const reach = await page.evaluate(() => {
    const iframe = document.querySelector('swarmgrad-widget')?.shadowRoot?.querySelector('iframe') ?? null;
    const attempts: Record<string, string> = { shadowRoot: iframe ? 'open' : 'closed' };
    const target = (window as unknown as { lastMessageSource: Window }).lastMessageSource;
    attempts.target = target && target !== window ? 'window' : 'none';
    for (const [name, read] of [
      ['localStorage', () => target.localStorage.length],
      ['indexedDB', () => target.indexedDB.databases()],
      ['document', () => target.document.cookie],
    ] as const) {
      try {
        read();
        attempts[name] = 'readable';
      } catch (error) {
        attempts[name] = (error as Error).name;
      }
    }
    return attempts;
  });
  expect(reach).toEqual({ shadowRoot: 'closed', target: 'window', localStorage: 'SecurityError', indexedDB: 'SecurityError', document: 'SecurityError' });

  // 3. Keyboard: Tab reaches the badge, then the consent button inside the frame; Enter consents.
  await page.keyboard.press('Tab');
  expect(await page.evaluate(() => document.activeElement?.tagName)).toBe('SWARMGRAD-WIDGET');
  await page.keyboard.press('Tab');
  await expect.poll(() => frame.evaluate(() => document.activeElement?.id)).toBe('donate');
  await expect(frame.getByRole('button', { name: 'Lend idle compute' })).toBeVisible();
  expect(await page.evaluate(() => (document.querySelector('swarmgrad-widget') as HTMLElement & { label: string }).label)).toBe('Lend idle compute?');
  await page.keyboard.press('Enter');

  // 4. It computes, and the coordinator counts its results.
  await expect.poll(counted, { timeout: 120_000, intervals: [500] }).toBeGreaterThan(0);
  expect(await frame.evaluate(() => (window as unknown as { swarmgradCounts: { workers: number } }).swarmgradCounts.workers)).toBeGreaterThan(0);
  const statuses = await page.evaluate(() => (window as unknown as { widgetStatuses: Record<string, unknown>[] }).widgetStatuses);
  const keys = new Set(statuses.flatMap((s) => Object.keys(s)));
  expect([...keys].sort()).toEqual(['computeMs', 'computing', 'consent', 'device', 'dutyCycle', 'examples', 'message', 'pausedBy', 'phase', 'tasks', 'type', 'usageLimit', 'v', 'verified']);
  // It says what computes: the widget refuses a software GPU, so here that is the CPU, and the
  // badge never claimed a GPU on the way.
  const devices = statuses.map((s) => s.device as { kind: string; detail: string } | null);
  expect(devices.filter(Boolean).map((d) => d!.kind)).toContain('cpu');
  expect(devices.some((d) => d?.kind === 'gpu')).toBe(false);
  expect(await page.evaluate(() => (document.querySelector('swarmgrad-widget') as HTMLElement & { label: string }).label)).toMatch(/^CPU: (computing|ready, not computing)$/);
  await expect(frame.locator('#device')).toHaveText(/^Computing on your CPU \(WebAssembly, 1 thread of \d+ cores?, (relaxed|plain) SIMD\)\.$/);

  // 5. The throttle, driven by synthetic frame reports: the host takes over reporting its frames
  // (frames="host"), so that the machine's own dropped frames play no part. Smooth frames let the
  // duty cycle climb; one burst of drops halves it at the next control step; it climbs back after.
  await page.evaluate(() => {
    const w = document.querySelector('swarmgrad-widget') as HTMLElement & { reportFrames(r: { frames: number; dropped: number; p95Ms: number }): void };
    const t = window as unknown as { burst: number };
    t.burst = 0;
    w.setAttribute('frames', 'host');
    setInterval(() => {
      const dropped = t.burst;
      t.burst = 0;
      w.reportFrames({ frames: 15, dropped, p95Ms: dropped > 0 ? 50 : 16.7 });
    }, 250);
  });
  const duties = () => page.evaluate(() => (window as unknown as { widgetStatuses: { dutyCycle: number }[] }).widgetStatuses.map((s) => s.dutyCycle));
  const CLIMBED = 0.15;
  await expect.poll(async () => (await duties()).at(-1), { timeout: 30_000, intervals: [250] }).toBeGreaterThanOrEqual(CLIMBED);
  const beforeBurst = (await duties()).length;
  await page.evaluate(() => ((window as unknown as { burst: number }).burst = 12));
  // The statuses from the burst on climb until the one that answers the burst's report.
  const findCut = async () => {
    const d = (await duties()).slice(beforeBurst - 1);
    const at = d.findIndex((x, i) => i > 0 && x < d[i - 1]);
    return at < 0 ? null : { before: d[at - 1], after: d[at] };
  };
  await expect.poll(findCut, { timeout: 10_000, intervals: [100] }).not.toBeNull();
  const cut = (await findCut())!;
  // Halved, plus half of at most one second's climb (0.05 per second) since the last step.
  expect(cut.after).toBeGreaterThanOrEqual(0.5 * cut.before - 1e-9);
  expect(cut.after).toBeLessThanOrEqual(0.5 * cut.before + 0.025);
  await expect.poll(async () => (await duties()).at(-1)!, { timeout: 20_000, intervals: [250] }).toBeGreaterThan(cut.after + 0.02);
  const before = await counted();
  await expect.poll(counted, { timeout: 120_000, intervals: [500] }).toBeGreaterThan(before);
  console.log(
    `widget e2e: duty cycle ${cut.before.toFixed(3)} → ${cut.after.toFixed(3)} on a burst of dropped frames, then climbed back; ` +
      `${await counted()} results counted`,
  );

  // 6. What the visitor gave: paused, the panel's results settle on the coordinator's count for
  // this key, some of them proven by receipts the frame checked, and those download.
  await frame.getByRole('button', { name: 'Pause' }).click();
  type Given = { tasks: number; computeMs: number; verified: { results: number; examples: number } };
  const given = async () => {
    const last = await page.evaluate(() => (document.querySelector('swarmgrad-widget') as HTMLElement & { lastStatus: unknown }).lastStatus as Given);
    return { ...last, counted: await counted() };
  };
  // Receipts may still arrive as rounds close, so the panel's line is compared with the status
  // posted with it, both read until they agree and the sent count is the coordinator's.
  const settled = async () => {
    const g = await given();
    const text = (await frame.locator('#contribution').textContent()) ?? '';
    const m = /^You sent ([\d,]+) results? \(.* of compute\); ([\d,]+) results? \(/.exec(text);
    const n = (x: string) => Number(x.replace(/,/g, ''));
    return m !== null && g.tasks > 0 && g.tasks === g.counted && n(m[1]) === g.tasks && n(m[2]) === g.verified.results && g.verified.results > 0;
  };
  await expect.poll(settled, { timeout: 60_000, intervals: [500] }).toBe(true);
  const gave = await given();
  expect(gave.verified.results).toBeLessThanOrEqual(gave.counted);
  expect(gave.computeMs).toBeGreaterThan(0);
  const download = frame.page().waitForEvent('download');
  await frame.getByRole('button', { name: 'Download receipts' }).click();
  const receipts = JSON.parse(await readFile((await (await download).path())!, 'utf8')) as { jobId: string; receipts: unknown[] };
  expect(receipts.jobId).toBe(project);
  expect(receipts.receipts.length).toBeGreaterThanOrEqual(gave.verified.results);
  expect(receipts.receipts.length).toBeLessThanOrEqual(gave.counted);

  // 6b. Carrying this site's credit to another key (another site's frame, another device): a
  // bad code is refused in words; a good one is signed in the frame and the leaderboard counts
  // this key's credit for the other key.
  await frame.locator('#carry summary').click();
  const frameKey = (await frame.locator('#key-code').textContent())!;
  expect(frameKey).toMatch(/^(ed25519|p256):/);
  await frame.locator('#link-to').fill('ed25519:nope');
  await frame.getByRole('button', { name: 'Sign and send' }).click();
  await expect(frame.locator('#link-result')).toHaveText(/^Not linked: Not a public key: expected "ed25519:"/);
  const elsewhere = (await generateWebKeyPair()).publicKey;
  await frame.locator('#link-to').fill(elsewhere);
  await frame.getByRole('button', { name: 'Sign and send' }).click();
  await expect(frame.locator('#link-result')).toHaveText(/^Done: this site's credit now counts for /);
  const board = (await (await fetch(`${server!.origin}/api/leaderboard`)).json()) as Leaderboard;
  const person = board.contributors.find((p) => p.key === elsewhere)!;
  expect(person.keys).toContain(frameKey);
  expect(person.examples).toBeGreaterThan(0);

  // 7. The visitor's terms: a bad daily budget is refused with a clear message and nothing
  // changes; a good one is kept, and the status says why it is paused in words.
  await expect(frame.locator('#status')).toHaveText('Paused: by you.');
  await frame.locator('#preferences summary').click();
  await frame.locator('#pref-minutes').fill('0');
  await frame.locator('#pref-minutes').dispatchEvent('change');
  await expect(frame.locator('#pref-error')).toHaveText('the daily budget must be a whole number of minutes from 1 to 1440, or none; got 0');
  await expect(frame.locator('#pref-minutes')).toHaveValue('');
  await frame.locator('#pref-minutes').fill('30');
  await frame.locator('#pref-minutes').dispatchEvent('change');
  await expect(frame.locator('#pref-error')).toHaveText('');
  await expect(frame.locator('#pref-minutes')).toHaveValue('30');

  // 8. Stop and forget: the choice is gone, the consent button is back.
  await frame.getByRole('button', { name: 'Stop and forget' }).click();
  await expect(frame.getByRole('button', { name: 'Lend idle compute' })).toBeVisible();
  // (Chromium denies a third-party frame localStorage when third-party cookies are blocked.)
  const remembered = await frame.evaluate(() => {
    try {
      return Object.keys(localStorage).filter((k) => k.startsWith('swarmgrad.widget.consent:'));
    } catch {
      return [];
    }
  });
  expect(remembered).toEqual([]);
  await context.close();
});
