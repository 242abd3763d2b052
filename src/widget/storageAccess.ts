// Which storage the widget frame keeps the visitor's consent and contributor key in, in a frame
// embedded by another site. Three answers, best first:
//
// - persistent: the frame's own storage as on its own site, granted by the Storage Access API
//   (Chromium ≥ 125 hands back a handle with `.localStorage` and `.indexedDB`; Firefox and
//   Safari unblock the frame's global storage instead). One key across every host site.
// - partitioned: the frame's global storage works, keyed by the top-level site (what Chromium,
//   Firefox and Safari give a third-party frame by default): kept, but for this host site only.
// - page: the browser gives the frame neither (Chromium with third-party storage blocked and
//   not partitioned, as in our tests); consent and key last until the page closes.
//
// Nothing here prompts before consent: at load it asks the Storage Access API only where the
// visitor already granted the permission (the spec then resolves without a gesture); the
// request that may prompt runs on the visitor's click on the consent button. Where partitioned
// storage works it is used as it is: no prompt for what the browser already gives.
//
// Pure but for the `StorageEnvironment` it is handed: `browserStorageEnvironment` is the real
// one, the tests pass their own.

import { memoryStorage, type KeyValueStorage } from './consentStore.ts';

export type StorageKind = 'persistent' | 'partitioned' | 'page';

export interface FrameStorage {
  kind: StorageKind;
  /** Where consent is kept. */
  storage: KeyValueStorage;
  /** Where the contributor key is kept; null: a key for this visit only. */
  indexedDB: IDBFactory | null;
  /** How it was had, in words for the log; for `page`, why nothing better was had. */
  how: string;
  /** requestStorageAccess was called in this document already: asking again would get the same answer. */
  asked: boolean;
}

/** What requestStorageAccess({ localStorage, indexedDB }) resolves with in Chromium ≥ 125. */
export interface StorageAccessHandle {
  readonly localStorage: KeyValueStorage;
  readonly indexedDB: IDBFactory;
}

export interface StorageEnvironment {
  /** The frame is embedded by a page of another origin (else its storage is first-party). */
  crossOrigin: boolean;
  /** The frame's global localStorage; throws where the browser denies it. */
  localStorage(): KeyValueStorage;
  /** The frame's global IndexedDB; null where there is none. */
  indexedDB(): IDBFactory | null;
  /** Whether a factory really opens a database: Chromium hands out factories whose opens are denied. */
  opens(factory: IDBFactory): Promise<boolean>;
  /** The Storage Access API, where the browser has it. */
  hasStorageAccess?: () => Promise<boolean>;
  requestStorageAccess?: (types?: { localStorage: true; indexedDB: true }) => Promise<StorageAccessHandle | undefined>;
  /** navigator.permissions.query({ name: 'storage-access' }); throws where the browser knows no such permission. */
  storageAccessPermission?: () => Promise<PermissionState>;
}

/** Reads and writes a probe key: a storage that throws on either is no storage. */
function usable(open: () => KeyValueStorage): KeyValueStorage | null {
  try {
    const storage = open();
    storage.setItem('swarmgrad.widget.probe', '1');
    storage.removeItem('swarmgrad.widget.probe');
    return storage;
  } catch {
    return null;
  }
}

async function usableDatabase(env: StorageEnvironment, open: () => IDBFactory | null): Promise<IDBFactory | null> {
  let factory: IDBFactory | null;
  try {
    factory = open();
  } catch {
    return null;
  }
  return factory && (await env.opens(factory).catch(() => false)) ? factory : null;
}

/** The frame's global storage, where it works: partitioned in a frame of another origin. */
async function globalStorage(env: StorageEnvironment, kind: StorageKind, how: string, asked: boolean): Promise<FrameStorage | null> {
  const storage = usable(() => env.localStorage());
  return storage ? { kind, storage, indexedDB: await usableDatabase(env, () => env.indexedDB()), how, asked } : null;
}

function pageOnly(how: string, asked: boolean): FrameStorage {
  return { kind: 'page', storage: memoryStorage(), indexedDB: null, how, asked };
}

/** Whether the visitor already granted storage access here (a remembered permission, or access this document already has). */
async function alreadyGranted(env: StorageEnvironment): Promise<boolean> {
  const state = await env.storageAccessPermission?.().catch(() => null);
  if (state === 'granted') return true;
  return (await env.hasStorageAccess?.().catch(() => false)) ?? false;
}

/** Whether a click on the consent button may get this frame more than it has. */
export function mayAsk(env: StorageEnvironment, current: FrameStorage): boolean {
  return current.kind === 'page' && !current.asked && env.crossOrigin && typeof env.requestStorageAccess === 'function';
}

/** The storage this frame has at load, before any consent: it never prompts. */
export async function openFrameStorage(env: StorageEnvironment): Promise<FrameStorage> {
  const own = await globalStorage(env, env.crossOrigin ? 'partitioned' : 'persistent', env.crossOrigin ? 'the frame’s own storage, partitioned by this site' : 'the frame’s own storage', false);
  if (own) return own;
  if (!env.crossOrigin || !env.requestStorageAccess) return pageOnly('the browser gives this frame no storage and has no Storage Access API', false);
  if (!(await alreadyGranted(env))) return pageOnly('the browser gives this frame no storage unless the visitor allows it', false);
  // Granted on an earlier visit: asking again resolves without a prompt or a gesture.
  return requestAccess(env);
}

/**
 * Storage on the visitor's click on the consent button: where the frame has none, the Storage
 * Access API's request (which may prompt). Call it from the click handler itself, before any
 * await: the request needs the click's user activation.
 */
export function storageOnConsent(env: StorageEnvironment, current: FrameStorage): Promise<FrameStorage> {
  if (!mayAsk(env, current)) return Promise.resolve(current);
  // Refused: the consent stays where it was chosen, this visit's memory.
  return requestAccess(env).then((answer) => (answer.kind === 'page' ? { ...current, how: answer.how, asked: true } : answer));
}

/**
 * requestStorageAccess, the handle shape first (Chromium), then the Firefox/Safari shape: a
 * resolved request without a usable handle unblocks the frame's global storage, so look there.
 * A rejection (denied, dismissed, no user activation) is page-only storage, with its reason.
 */
async function requestAccess(env: StorageEnvironment): Promise<FrameStorage> {
  let handle: StorageAccessHandle | undefined;
  try {
    handle = await env.requestStorageAccess!({ localStorage: true, indexedDB: true });
  } catch (error) {
    if (!(error instanceof TypeError)) return pageOnly(`the browser refused storage access (${describe(error)})`, true);
    // A browser that cannot take the types argument: the plain request.
    try {
      await env.requestStorageAccess!();
    } catch (plainError) {
      return pageOnly(`the browser refused storage access (${describe(plainError)})`, true);
    }
  }
  if (handle) {
    const storage = usable(() => handle!.localStorage);
    if (storage) return { kind: 'persistent', storage, indexedDB: await usableDatabase(env, () => handle!.indexedDB), how: 'a storage access handle', asked: true };
  }
  return (
    (await globalStorage(env, 'persistent', 'the frame’s own storage, unblocked by storage access', true)) ??
    pageOnly(handle ? 'the browser granted storage access, but its handle’s storage is denied too' : 'the browser granted storage access, but the frame’s storage stays denied', true)
  );
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** What the frame says about where it keeps the visitor's choice, before and after the click. */
export function storageSentence(stored: FrameStorage, askable: boolean): string {
  switch (stored.kind) {
    case 'persistent':
      return 'This browser lets this frame keep your choice and your contributor key, so a later visit resumes your credit.';
    case 'partitioned':
      return 'This browser keeps your choice and your contributor key for this site only (partitioned storage): on other sites you start afresh.';
    case 'page':
      return askable
        ? 'This browser keeps no storage for this frame here: when you agree, it may ask whether to allow it; without that, your choice lasts this visit only.'
        : 'This browser keeps no storage for this frame here, so your choice lasts this visit only.';
  }
}

/** Probes that a factory opens a database (and removes the probe): Chromium hands a blocked frame a factory whose opens fail. */
function opensDatabase(factory: IDBFactory): Promise<boolean> {
  const name = 'swarmgrad-storage-probe';
  return new Promise((resolve) => {
    const request = factory.open(name);
    request.onsuccess = () => {
      request.result.close();
      factory.deleteDatabase(name);
      resolve(true);
    };
    request.onerror = () => resolve(false);
    request.onblocked = () => resolve(false);
  });
}

type SaaDocument = Document & {
  hasStorageAccess?: () => Promise<boolean>;
  requestStorageAccess?: (types?: { localStorage: true; indexedDB: true }) => Promise<StorageAccessHandle | undefined>;
};

/** The real environment: this frame's window, document and navigator. */
export function browserStorageEnvironment(site: string, win: Window & typeof globalThis = window): StorageEnvironment {
  const doc = win.document as SaaDocument;
  return {
    crossOrigin: site !== win.location.origin,
    localStorage: () => win.localStorage,
    indexedDB: () => win.indexedDB ?? null,
    opens: opensDatabase,
    hasStorageAccess: typeof doc.hasStorageAccess === 'function' ? () => doc.hasStorageAccess!() : undefined,
    requestStorageAccess: typeof doc.requestStorageAccess === 'function' ? (types) => doc.requestStorageAccess!(types) : undefined,
    storageAccessPermission: win.navigator.permissions
      ? async () => (await win.navigator.permissions.query({ name: 'storage-access' as PermissionName })).state
      : undefined,
  };
}
