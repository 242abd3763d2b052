// Who this browser is to a coordinator, and which coordinator it trusts, kept in IndexedDB.
//
// - One key pair per origin (IndexedDB is per origin), made once with WebCrypto: Ed25519 where
//   the browser has it, else ECDSA P-256. The private key is non-extractable; IndexedDB stores
//   the CryptoKey object itself (structured clone), so it signs after a reload but is never
//   readable, not even by this page.
// - The last contributor id per job, so a reload resumes the same credit (the coordinator
//   honours a resume only with the same key).
// - The coordinator key pinned per coordinator origin + job on first use. /api/job announces
//   the key, but only the pin counts: a different announced key is refused until the visitor
//   trusts it explicitly, and the session refuses any welcome not signed with the pin.

import { createStore, del, get, promisifyRequest, set, type UseStore } from 'idb-keyval';
import { generateWebKeyPair, webSha256Hex, type PublicKeyText, type WebKeyPair } from '../protocol/signing.ts';

const KEY_ENTRY = 'contributor-key';
const contributorIdEntry = (jobId: string) => `contributor-id:${jobId}`;
const pinEntry = (coordinatorOrigin: string, jobId: string) => `coordinator-pin:${coordinatorOrigin} ${jobId}`;

interface StoredKey extends WebKeyPair {
  createdAt: number;
}

interface StoredPin {
  publicKey: PublicKeyText;
  pinnedAt: number;
}

const IDENTITY_DB = 'swarmgrad-identity';
const IDENTITY_STORE = 'entries';

let defaultStore: UseStore | null = null;

/** The identity database; tests pass their own store (its own database name) to start clean. */
export function identityStore(): UseStore {
  defaultStore ??= createStore(IDENTITY_DB, IDENTITY_STORE);
  return defaultStore;
}

/**
 * The identity database in another IndexedDB: the one a Storage Access API handle gives a
 * cross-site frame (`handle.indexedDB`), which is not the global `indexedDB` idb-keyval's
 * createStore always opens.
 */
export function identityStoreOn(factory: IDBFactory): UseStore {
  return createStoreOn(factory, IDENTITY_DB, IDENTITY_STORE);
}

/** idb-keyval's createStore, on a given IDBFactory: one object store, created on first open; reopened after the browser closes it. */
export function createStoreOn(factory: IDBFactory, dbName: string, storeName: string): UseStore {
  if (!factory || typeof factory.open !== 'function') throw new Error(`createStoreOn needs an IDBFactory (window.indexedDB or a storage access handle's indexedDB); got ${String(factory)}`);
  if (!dbName || !storeName) throw new Error(`createStoreOn needs a database and a store name; got "${dbName}", "${storeName}"`);
  let db: Promise<IDBDatabase> | undefined;
  const open = (): Promise<IDBDatabase> => {
    if (db) return db;
    const request = factory.open(dbName);
    request.onupgradeneeded = () => request.result.createObjectStore(storeName);
    db = promisifyRequest(request);
    db.then(
      (opened) => (opened.onclose = () => (db = undefined)),
      () => (db = undefined),
    );
    return db;
  };
  return (txMode, callback) => open().then((opened) => callback(opened.transaction(storeName, txMode).objectStore(storeName)));
}

/** This origin's key pair: the stored one, or a new one stored now. */
export async function loadOrCreateIdentity(store: UseStore = identityStore()): Promise<WebKeyPair> {
  const stored = await get<StoredKey>(KEY_ENTRY, store);
  if (stored && stored.privateKey instanceof CryptoKey && typeof stored.publicKey === 'string') {
    return { algorithm: stored.algorithm, privateKey: stored.privateKey, publicKey: stored.publicKey };
  }
  const made = await generateWebKeyPair();
  await set(KEY_ENTRY, { ...made, createdAt: Date.now() } satisfies StoredKey, store);
  return made;
}

/**
 * "Stop and forget": drops this origin's key and the contributor ids it earned credit under;
 * the next contribution starts as a stranger. Coordinator pins stay: forgetting who we are
 * must not also forget whom we trust.
 */
export async function forgetIdentity(jobIds: readonly string[] = [], store: UseStore = identityStore()): Promise<void> {
  await del(KEY_ENTRY, store);
  for (const jobId of jobIds) await del(contributorIdEntry(jobId), store);
}

/** The id this key last had in `jobId`, to resume its credit after a reload. */
export async function loadContributorId(jobId: string, store: UseStore = identityStore()): Promise<string | undefined> {
  const id = await get<unknown>(contributorIdEntry(jobId), store);
  return typeof id === 'string' ? id : undefined;
}

export function saveContributorId(jobId: string, contributorId: string, store: UseStore = identityStore()): Promise<void> {
  return set(contributorIdEntry(jobId), contributorId, store);
}

/** A short, readable digest of a public key for people to compare: 16 hex digits of its SHA-256, in groups of four. */
export async function fingerprint(publicKey: PublicKeyText): Promise<string> {
  const hex = await webSha256Hex(new TextEncoder().encode(publicKey));
  return hex.slice(0, 16).match(/.{4}/g)!.join(' ');
}

export type PinCheck =
  | { status: 'pinned-now' | 'matches'; pinned: PublicKeyText }
  | { status: 'mismatch'; pinned: PublicKeyText; presented: PublicKeyText; message: string };

/**
 * Trust on first use: the first key seen for this coordinator origin and job is pinned; the
 * same key later matches; another key is a mismatch, with a message naming both fingerprints.
 */
export async function checkCoordinatorPin(
  coordinatorOrigin: string,
  jobId: string,
  presented: PublicKeyText,
  store: UseStore = identityStore(),
): Promise<PinCheck> {
  const pin = await get<StoredPin>(pinEntry(coordinatorOrigin, jobId), store);
  if (!pin) {
    await set(pinEntry(coordinatorOrigin, jobId), { publicKey: presented, pinnedAt: Date.now() } satisfies StoredPin, store);
    return { status: 'pinned-now', pinned: presented };
  }
  if (pin.publicKey === presented) return { status: 'matches', pinned: pin.publicKey };
  const [was, now] = await Promise.all([fingerprint(pin.publicKey), fingerprint(presented)]);
  return {
    status: 'mismatch',
    pinned: pin.publicKey,
    presented,
    message:
      `The coordinator at ${coordinatorOrigin} now presents key ${now}, but this browser trusted key ${was} for this job ` +
      `(pinned ${new Date(pin.pinnedAt).toISOString().slice(0, 10)}). Nothing was sent. If the job's owner told you the key ` +
      'changed, trust the new key; otherwise someone may be impersonating the coordinator.',
  };
}

/** The visitor trusts a new coordinator key explicitly: it replaces the pin. */
export function trustCoordinatorKey(coordinatorOrigin: string, jobId: string, publicKey: PublicKeyText, store: UseStore = identityStore()): Promise<void> {
  return set(pinEntry(coordinatorOrigin, jobId), { publicKey, pinnedAt: Date.now() } satisfies StoredPin, store);
}
