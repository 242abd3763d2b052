// Where the widget frame keeps the visitor's choice and contributor key, in real Chromium, in a
// truly cross-site frame (the demo game on http://localhost:PORT, the frame on the coordinator's
// http://127.0.0.1:PORT). What this Chromium (156) does, as observed with a probe:
//
// - As Playwright launches it (ThirdPartyStoragePartitioning disabled, third-party storage
//   blocked): the frame's localStorage throws SecurityError and its IndexedDB opens fail.
//   requestStorageAccess rejects (NotAllowedError) without the 'storage-access' permission,
//   with or without a click: headless shows no prompt. With the permission set for
//   (top-level localhost, embedded 127.0.0.1) it resolves without a gesture and hands back a
//   handle, but the handle's localStorage throws SecurityError and its IndexedDB opens fail too.
// - With partitioning on (as Chrome ships): the frame's own localStorage and IndexedDB work,
//   partitioned by the top-level site, and last across visits in the same profile.
//
// So the frame must say "this visit only" in the first, and remember consent and key in the
// second without asking; and nothing asks the Storage Access API before the visitor's click
// unless the permission is already granted. Runs inside ../shared/isolated-net via `node scripts/e2e.mjs`.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Browser, type BrowserContext, type Frame, type Page } from '@playwright/test';
import { chromiumArgs, chromiumPath } from '../scripts/chromium.mjs';
import type { RunStatusSnapshot } from '../src/server/runStatus.ts';
import { freePort, startJobServer, type JobServer } from './support/jobServer.ts';

test.describe.configure({ timeout: 4 * 60_000 });

let out = '';
let server: JobServer | null = null;

test.beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'swarmgrad-e2e-widget-storage-'));
  server = await startJobServer({ job: 'e2e/jobs/widget.json', port: await freePort(), out, fresh: true });
});

test.afterAll(async () => {
  await server?.kill('SIGKILL');
  rmSync(out, { recursive: true, force: true });
});

const hostOrigin = () => server!.origin.replace('127.0.0.1', 'localhost');

async function gameUrl(): Promise<string> {
  const project = ((await (await fetch(`${server!.origin}/api/status`)).json()) as RunStatusSnapshot).job.id;
  return `${hostOrigin()}/demo/game.html?coordinator=${encodeURIComponent(server!.origin)}&project=${encodeURIComponent(project)}`;
}

interface AccessCall {
  types: unknown;
  /** Whether the call had a click's user activation. */
  activated: boolean;
}

/** Records every requestStorageAccess call in every frame, before any page script runs. */
async function recordAccessRequests(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    const calls: { types: unknown; activated: boolean }[] = [];
    (window as unknown as { accessCalls: typeof calls }).accessCalls = calls;
    const proto = Document.prototype as unknown as { requestStorageAccess?: (types?: unknown) => Promise<unknown> };
    const request = proto.requestStorageAccess;
    if (!request) return;
    proto.requestStorageAccess = function (this: Document, ...args: [types?: unknown]) {
      calls.push({ types: args[0] ?? null, activated: navigator.userActivation?.isActive ?? false });
      return request.apply(this, args);
    };
  });
}

const accessCalls = (frame: Frame) => frame.evaluate(() => (window as unknown as { accessCalls: AccessCall[] }).accessCalls);

/** The widget frame, once it has decided on its storage (the note says which). */
async function widgetFrame(page: Page): Promise<Frame> {
  await expect.poll(() => page.frames().some((f) => f.url().includes('/embed.html'))).toBe(true);
  const frame = page.frames().find((f) => f.url().includes('/embed.html'))!;
  await expect(frame.locator('#storage-note')).not.toBeEmpty();
  return frame;
}

/** The contributor key's public half as the frame stored it, or null where it stored none. */
function storedPublicKey(frame: Frame): Promise<string | null> {
  return frame.evaluate(
    () =>
      new Promise<string | null>((resolve) => {
        const open = indexedDB.open('swarmgrad-identity');
        open.onerror = () => resolve(null);
        open.onsuccess = () => {
          const db = open.result;
          if (!db.objectStoreNames.contains('entries')) return resolve(null);
          const get = db.transaction('entries', 'readonly').objectStore('entries').get('contributor-key');
          get.onsuccess = () => resolve((get.result as { publicKey?: string } | undefined)?.publicKey ?? null);
          get.onerror = () => resolve(null);
        };
      }),
  );
}

/**
 * What a visitor accepting the browser's prompt leaves behind: the 'storage-access' permission
 * for this frame's site inside this host's. Playwright's grantPermissions sets it for one origin
 * as both, which Chromium's storage-access check never matches; CDP takes both origins.
 */
async function grantStorageAccess(context: BrowserContext, page: Page): Promise<void> {
  const cdp = await context.newCDPSession(page);
  const { targetInfo } = await cdp.send('Target.getTargetInfo');
  await cdp.send('Browser.setPermission', {
    permission: { name: 'storage-access' },
    setting: 'granted',
    origin: hostOrigin(),
    embeddedOrigin: server!.origin,
    browserContextId: targetInfo.browserContextId,
  } as Parameters<typeof cdp.send<'Browser.setPermission'>>[1]);
  // The session stays attached: Chromium drops a session's permission overrides when it detaches.
}

const THIS_VISIT_ONLY = /lasts this visit only/;

test('where Chromium denies the frame its storage, the choice lasts this visit only, and access is asked only on the click', async ({ browser }) => {
  const context = await browser.newContext();
  await recordAccessRequests(context);
  const url = await gameUrl();

  // 1. Before consent: nothing asks the Storage Access API; the frame says what it can keep.
  let page = await context.newPage();
  await page.goto(url);
  let frame = await widgetFrame(page);
  await expect(frame.locator('#storage-note')).toHaveText(/may ask whether to allow it; without that, your choice lasts this visit only/);
  expect(await frame.evaluate(() => { try { localStorage.length; return 'readable'; } catch (e) { return (e as Error).name; } })).toBe('SecurityError');
  await frame.waitForSelector('#donate:not([disabled])');
  expect(await accessCalls(frame)).toEqual([]);

  // 2. The click asks, once, with the click's activation; headless Chromium shows no prompt and refuses.
  await frame.getByRole('button', { name: 'Lend idle compute' }).click();
  await expect(frame.locator('#controls')).toBeVisible();
  expect(await accessCalls(frame)).toEqual([{ types: { localStorage: true, indexedDB: true }, activated: true }]);
  await expect(frame.locator('#storage-note')).toHaveText(THIS_VISIT_ONLY);
  await page.close();

  // 3. The next visit asks for consent again: nothing was kept, nothing assumed.
  page = await context.newPage();
  await page.goto(url);
  frame = await widgetFrame(page);
  await expect(frame.getByRole('button', { name: 'Lend idle compute' })).toBeVisible();
  expect(await accessCalls(frame)).toEqual([]);
  await context.close();

  // 4. With the permission already granted, the frame may ask at load without a click, and does;
  // this Chromium then hands back a handle whose storage is denied too, and the frame says so.
  const granted = await browser.newContext();
  await recordAccessRequests(granted);
  page = await granted.newPage();
  await grantStorageAccess(granted, page);
  await page.goto(url);
  frame = await widgetFrame(page);
  expect(await frame.evaluate(async () => (await navigator.permissions.query({ name: 'storage-access' as PermissionName })).state)).toBe('granted');
  expect(await accessCalls(frame)).toEqual([{ types: { localStorage: true, indexedDB: true }, activated: false }]);
  await expect(frame.locator('#storage-note')).toHaveText(/so your choice lasts this visit only/);
  await granted.close();
});

/** Chromium with third-party storage partitioning on, as Chrome ships it (Playwright turns it off). */
async function partitioningBrowser(browser: Browser): Promise<Browser> {
  // Chromium reads the last --disable-features: Playwright's own list, without ThirdPartyStoragePartitioning.
  const disabled = ['AvoidUnnecessaryBeforeUnloadCheckSync', 'DestroyProfileOnBrowserClose', 'HttpsUpgrades', 'HttpsFirstBalancedModeAutoEnable', 'LensOverlay', 'MediaRouter', 'PaintHolding', 'AvoidCorsURLLoaderRestartOnRedirect', 'OptimizationHints', 'NetworkTimeServiceQuerying', 'AimEnabled', 'PreconnectToSearch'];
  return browser.browserType().launch({ executablePath: chromiumPath(), args: [...chromiumArgs(), `--disable-features=${disabled.join(',')}`] });
}

test('where Chromium partitions the frame’s storage, a returning visitor keeps consent and key without being asked', async ({ browser }) => {
  const chrome = await partitioningBrowser(browser);
  const context = await chrome.newContext();
  await recordAccessRequests(context);
  const url = await gameUrl();

  let page = await context.newPage();
  await page.goto(url);
  let frame = await widgetFrame(page);
  await expect(frame.locator('#storage-note')).toHaveText(/for this site only \(partitioned storage\)/);
  await frame.waitForSelector('#donate:not([disabled])');
  await frame.getByRole('button', { name: 'Lend idle compute' }).click();
  await expect(frame.locator('#controls')).toBeVisible();
  await expect.poll(() => storedPublicKey(frame)).not.toBeNull();
  const key = await storedPublicKey(frame);
  expect(await accessCalls(frame)).toEqual([]);
  await page.close();

  // The next visit, same profile: the consent is remembered (it computes without a click) and the key is the same.
  page = await context.newPage();
  await page.goto(url);
  frame = await widgetFrame(page);
  await expect(frame.locator('#controls')).toBeVisible();
  await expect(frame.locator('#consent')).toBeHidden();
  expect(await storedPublicKey(frame)).toBe(key);
  expect(await accessCalls(frame)).toEqual([]);
  // The coordinator's origin as a top-level page does not see the frame's partitioned storage.
  const top = await context.newPage();
  await top.goto(`${server!.origin}/embed.html`);
  expect(await top.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('swarmgrad.widget.consent:')))).toEqual([]);
  await chrome.close();
});
