import { describe, expect, it } from 'vitest';
import { ConsentStore, memoryStorage, type KeyValueStorage } from './consentStore.ts';
import { mayAsk, openFrameStorage, storageOnConsent, storageSentence, type StorageAccessHandle, type StorageEnvironment } from './storageAccess.ts';

const denied = () => {
  throw new DOMException("Failed to read the 'localStorage' property from 'Window': Access is denied for this document.", 'SecurityError');
};

/** Stands for an IDBFactory: the tests only pass it around, `opens` decides whether it works. */
const factory = (name: string) => ({ name }) as unknown as IDBFactory;

interface Fake {
  env: StorageEnvironment;
  /** Every requestStorageAccess call, with its argument. */
  requests: unknown[];
}

/**
 * A frame's environment: which storage works, and what the Storage Access API answers.
 * `request` is what requestStorageAccess does with its argument (throw to reject).
 */
function fake(options: {
  crossOrigin?: boolean;
  local?: KeyValueStorage | 'denied';
  idb?: IDBFactory | null;
  working?: IDBFactory[];
  permission?: PermissionState | 'unknown';
  has?: boolean;
  request?: ((types: unknown) => StorageAccessHandle | undefined) | null;
}): Fake {
  const requests: unknown[] = [];
  const working = new Set(options.working ?? []);
  const request = options.request;
  return {
    requests,
    env: {
      crossOrigin: options.crossOrigin ?? true,
      localStorage: () => (options.local === 'denied' || options.local === undefined ? denied() : options.local),
      indexedDB: () => options.idb ?? null,
      opens: async (f) => working.has(f),
      hasStorageAccess: request === null ? undefined : async () => options.has ?? false,
      storageAccessPermission:
        request === null
          ? undefined
          : async () => {
              if (options.permission === 'unknown') throw new TypeError("The provided value 'storage-access' is not a valid enum value of type PermissionName.");
              return options.permission ?? 'prompt';
            },
      requestStorageAccess:
        request === null || request === undefined
          ? undefined
          : async (types) => {
              requests.push(types);
              return request(types);
            },
    },
  };
}

const notAllowed = () => {
  throw new DOMException('requestStorageAccess not allowed', 'NotAllowedError');
};

describe('openFrameStorage (before consent)', () => {
  it('uses the frame’s own storage where it works, partitioned in a frame of another origin, and never asks', async () => {
    const local = memoryStorage();
    const idb = factory('global');
    const f = fake({ local, idb, working: [idb], permission: 'granted', request: notAllowed });
    expect(await openFrameStorage(f.env)).toMatchObject({ kind: 'partitioned', storage: local, indexedDB: idb });
    const same = fake({ crossOrigin: false, local, idb, working: [idb], request: notAllowed });
    expect((await openFrameStorage(same.env)).kind).toBe('persistent');
    expect([...f.requests, ...same.requests]).toEqual([]);
  });

  it('keeps the consent but not the key where localStorage works and IndexedDB is denied', async () => {
    const idb = factory('denied');
    const stored = await openFrameStorage(fake({ local: memoryStorage(), idb, working: [] }).env);
    expect(stored).toMatchObject({ kind: 'partitioned', indexedDB: null });
  });

  it('never calls requestStorageAccess before consent unless the permission was already granted', async () => {
    for (const permission of ['prompt', 'denied', 'unknown'] as const) {
      const f = fake({ permission, request: () => ({ localStorage: memoryStorage(), indexedDB: factory('h') }) });
      const stored = await openFrameStorage(f.env);
      expect(stored.kind).toBe('page');
      expect(f.requests).toEqual([]);
      expect(mayAsk(f.env, stored)).toBe(true);
    }
  });

  it('reads the remembered consent back through a granted handle, without a click', async () => {
    const remembered = memoryStorage();
    new ConsentStore(remembered).grant('https://game.example', 5, 0.7);
    const idb = factory('handle');
    const f = fake({ permission: 'granted', working: [idb], request: () => ({ localStorage: remembered, indexedDB: idb }) });
    const stored = await openFrameStorage(f.env);
    expect(stored).toMatchObject({ kind: 'persistent', indexedDB: idb, how: 'a storage access handle', asked: true });
    expect(new ConsentStore(stored.storage).get('https://game.example')?.usageLimit).toBe(0.7);
    expect(f.requests).toEqual([{ localStorage: true, indexedDB: true }]);
    // hasStorageAccess() true (Firefox, Safari after a grant) counts as granted too.
    const has = fake({ permission: 'unknown', has: true, working: [idb], request: () => ({ localStorage: remembered, indexedDB: idb }) });
    expect((await openFrameStorage(has.env)).kind).toBe('persistent');
  });

  it('is page-only, and says so, without the Storage Access API or in a same-origin frame that is denied', async () => {
    const none = fake({ request: null });
    const stored = await openFrameStorage(none.env);
    expect(stored.kind).toBe('page');
    expect(mayAsk(none.env, stored)).toBe(false);
    expect(storageSentence(stored, false)).toMatch(/lasts this visit only/);
    const sameOrigin = fake({ crossOrigin: false, permission: 'granted', request: () => undefined });
    expect((await openFrameStorage(sameOrigin.env)).kind).toBe('page');
    expect(sameOrigin.requests).toEqual([]);
  });
});

describe('storageOnConsent (on the click)', () => {
  it('asks once, with the handle shape, and keeps the handle’s storage and IndexedDB', async () => {
    const handleStorage = memoryStorage();
    const idb = factory('handle');
    const f = fake({ working: [idb], request: () => ({ localStorage: handleStorage, indexedDB: idb }) });
    const before = await openFrameStorage(f.env);
    const after = await storageOnConsent(f.env, before);
    expect(after).toMatchObject({ kind: 'persistent', storage: handleStorage, indexedDB: idb });
    expect(f.requests).toEqual([{ localStorage: true, indexedDB: true }]);
  });

  it('calls requestStorageAccess in the click itself, before any await', () => {
    const f = fake({ request: () => undefined });
    void storageOnConsent(f.env, { kind: 'page', storage: memoryStorage(), indexedDB: null, how: '', asked: false });
    expect(f.requests).toHaveLength(1);
  });

  it('takes the Firefox/Safari shape: no handle, then the unblocked global storage', async () => {
    let granted = false;
    const global = memoryStorage();
    const idb = factory('global');
    const f = fake({ idb, working: [idb], request: () => ((granted = true), undefined) });
    f.env.localStorage = () => (granted ? global : denied());
    const after = await storageOnConsent(f.env, await openFrameStorage(f.env));
    expect(after).toMatchObject({ kind: 'persistent', storage: global, indexedDB: idb });
  });

  it('falls back to the plain request where the types argument is refused', async () => {
    const global = memoryStorage();
    let granted = false;
    const f = fake({
      request: (types) => {
        if (types !== undefined) throw new TypeError('requestStorageAccess takes no arguments');
        granted = true;
        return undefined;
      },
    });
    f.env.localStorage = () => (granted ? global : denied());
    const after = await storageOnConsent(f.env, await openFrameStorage(f.env));
    expect(after).toMatchObject({ kind: 'persistent', storage: global, indexedDB: null });
    expect(f.requests).toEqual([{ localStorage: true, indexedDB: true }, undefined]);
  });

  it('stays page-only, with the reason, where the visitor or the browser refuses', async () => {
    const f = fake({ request: notAllowed });
    const before = await openFrameStorage(f.env);
    const after = await storageOnConsent(f.env, before);
    expect(after.kind).toBe('page');
    expect(after.storage).toBe(before.storage);
    expect(after.how).toBe('the browser refused storage access (NotAllowedError: requestStorageAccess not allowed)');
    // Refused once, not asked again in this document.
    expect(mayAsk(f.env, after)).toBe(false);
    expect(await storageOnConsent(f.env, after)).toBe(after);
    expect(f.requests).toHaveLength(1);
  });

  it('stays page-only where a handle comes back whose storage is denied too (Chromium without partitioning)', async () => {
    const handle = {
      get localStorage(): KeyValueStorage {
        throw new DOMException("Failed to read the 'localStorage' property from 'StorageAccessHandle': Access is denied for this document.", 'SecurityError');
      },
      indexedDB: factory('denied'),
    };
    const f = fake({ request: () => handle });
    const after = await storageOnConsent(f.env, await openFrameStorage(f.env));
    expect(after).toMatchObject({ kind: 'page', indexedDB: null, how: 'the browser granted storage access, but its handle’s storage is denied too', asked: true });
    expect(mayAsk(f.env, after)).toBe(false);
  });

  it('does not ask where the frame already has storage', async () => {
    const f = fake({ local: memoryStorage(), request: () => undefined });
    const before = await openFrameStorage(f.env);
    expect(await storageOnConsent(f.env, before)).toBe(before);
    expect(f.requests).toEqual([]);
  });

  it('moves the consent chosen in memory into the storage granted on the click', async () => {
    const handleStorage = memoryStorage();
    const f = fake({ request: () => ({ localStorage: handleStorage, indexedDB: factory('h') }) });
    const before = await openFrameStorage(f.env);
    const memory = new ConsentStore(before.storage);
    memory.grant('https://game.example', 9, 0.4);
    const after = await storageOnConsent(f.env, before);
    memory.moveTo('https://game.example', new ConsentStore(after.storage));
    // The next visit reads it back from the granted storage.
    expect(new ConsentStore(handleStorage).get('https://game.example')).toMatchObject({ grantedAt: 9, usageLimit: 0.4 });
  });
});

describe('storageSentence', () => {
  it('names the storage the frame got', () => {
    const s = (kind: 'persistent' | 'partitioned' | 'page', askable = false) => storageSentence({ kind, storage: memoryStorage(), indexedDB: null, how: '', asked: false }, askable);
    expect(s('persistent')).toMatch(/later visit resumes your credit/);
    expect(s('partitioned')).toMatch(/for this site only \(partitioned storage\)/);
    expect(s('page', true)).toMatch(/may ask whether to allow it; without that, your choice lasts this visit only/);
    expect(s('page')).toMatch(/so your choice lasts this visit only/);
  });
});
