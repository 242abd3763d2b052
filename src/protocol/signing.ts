// What is signed, and how keys and signatures travel. Both ends build the exact same bytes
// from these functions; the contributor signs and verifies with WebCrypto (async), the
// coordinator with node:crypto (sync, src/server/nodeSigning.ts).
//
// Keys travel as "<algorithm>:<base64url of the raw public key>": "ed25519:…" (32 bytes) or
// "p256:…" (65 bytes, uncompressed point). Signatures travel as base64url: 64 bytes for
// both (ECDSA in IEEE P1363 r‖s form, as WebCrypto makes it). Every signed statement starts
// with its own tag, so a signature over one kind can never pass for another.

export type KeyAlgorithm = 'ed25519' | 'p256';

/** A public key as it travels: "ed25519:<base64url>" or "p256:<base64url>". */
export type PublicKeyText = string;

export const PUBLIC_KEY_PATTERN = /^(ed25519:[A-Za-z0-9_-]{43}|p256:[A-Za-z0-9_-]{87})$/;
export const SIGNATURE_PATTERN = /^[A-Za-z0-9_-]{86}$/;
export const HASH_HEX_PATTERN = /^[0-9a-f]{64}$/;

const encoder = new TextEncoder();

export function parsePublicKey(text: PublicKeyText): { algorithm: KeyAlgorithm; raw: Uint8Array } {
  if (!PUBLIC_KEY_PATTERN.test(text)) {
    throw new Error(`Not a public key: expected "ed25519:" + 43 or "p256:" + 87 base64url characters, got ${JSON.stringify(text.slice(0, 120))}`);
  }
  const colon = text.indexOf(':');
  const algorithm = text.slice(0, colon) as KeyAlgorithm;
  const raw = fromBase64Url(text.slice(colon + 1));
  const expected = algorithm === 'ed25519' ? 32 : 65;
  if (raw.length !== expected || (algorithm === 'p256' && raw[0] !== 4)) throw new Error(`Not a ${algorithm} public key: ${raw.length} bytes`);
  return { algorithm, raw };
}

export function formatPublicKey(algorithm: KeyAlgorithm, raw: Uint8Array): PublicKeyText {
  return `${algorithm}:${toBase64Url(raw)}`;
}

/** Synchronous signature checks and hashing, as the coordinator's state machine needs them (node:crypto implements it). */
export interface SyncVerifier {
  /** Whether `signature` is `publicKey`'s over `data`; false for a malformed key or signature. */
  verify(publicKey: PublicKeyText, data: Uint8Array, signature: string): boolean;
  sha256Hex(data: Uint8Array): string;
}

export interface SyncSigner {
  readonly publicKey: PublicKeyText;
  sign(data: Uint8Array): string;
}

// ── statements ───────────────────────────────────────────────────────────────────────

/**
 * The bytes a result's hash covers: its claimed figures and encoding, then the encoded
 * update's bytes as they travel. resultHash = SHA-256 of these.
 */
export function resultHashInput(r: { exampleCount: number; loss: number; correct: number; encoding: { scheme: string; length: number; blockSize: number | null; k: number | null }; update: Uint32Array }): Uint8Array {
  // The encoding's keys in a fixed order, so both ends hash the same text.
  const { scheme, length, blockSize, k } = r.encoding;
  const head = encoder.encode(`swarmgrad-result-data-v2\n${r.exampleCount}\n${r.loss}\n${r.correct}\n${scheme} ${length} ${blockSize} ${k}\n`);
  const data = new Uint8Array(r.update.buffer, r.update.byteOffset, r.update.byteLength);
  const out = new Uint8Array(head.length + data.length);
  out.set(head, 0);
  out.set(data, head.length);
  return out;
}

/** A contributor vouches for one result: signed with its key, checked by the coordinator, kept in the ledger. */
export function resultStatement(s: { jobId: string; leaseId: string; version: number; resultHash: string }): Uint8Array {
  return encoder.encode(`swarmgrad-result-v1\n${s.jobId}\n${s.leaseId}\n${s.version}\n${s.resultHash}`);
}

/**
 * The coordinator proves it holds its key: it signs the contributor's fresh nonce together
 * with the job, the id it gives and the contributor's key, so the proof cannot be replayed
 * to another contributor or for another job.
 */
export function welcomeStatement(s: { jobId: string; contributorId: string; contributorKey: PublicKeyText; nonce: string }): Uint8Array {
  return encoder.encode(`swarmgrad-welcome-v1\n${s.jobId}\n${s.contributorId}\n${s.contributorKey}\n${s.nonce}`);
}

/** A signed tree head of the ledger (RFC 6962 style): the log of `jobId` had `size` entries with this root at `timestamp` (ms). */
export function treeHeadStatement(s: { jobId: string; size: number; rootHash: string; timestamp: number }): Uint8Array {
  return encoder.encode(`swarmgrad-tree-head-v1\n${s.jobId}\n${s.size}\n${s.rootHash}\n${s.timestamp}`);
}

/**
 * A contributor's old key hands its credit in `jobId` on to a new key (another browser or
 * device): signed with the old key, so only its holder can give its credit away.
 */
export function keyLinkStatement(s: { jobId: string; fromKey: PublicKeyText; toKey: PublicKeyText; issuedAt: number }): Uint8Array {
  return encoder.encode(`swarmgrad-key-link-v1\n${s.jobId}\n${s.fromKey}\n${s.toKey}\n${s.issuedAt}`);
}

// ── WebCrypto (browsers, and Node's globalThis.crypto) ───────────────────────────────

export interface WebKeyPair {
  algorithm: KeyAlgorithm;
  /** Non-extractable: it can sign, never be read. */
  privateKey: CryptoKey;
  publicKey: PublicKeyText;
}

const ED25519 = { name: 'Ed25519' } as const;
const P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const P256_SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** A new key pair: Ed25519 where the platform has it, else ECDSA P-256. The private key is non-extractable. */
export async function generateWebKeyPair(subtle: SubtleCrypto = crypto.subtle): Promise<WebKeyPair> {
  let algorithm: KeyAlgorithm = 'ed25519';
  let pair: CryptoKeyPair;
  try {
    pair = (await subtle.generateKey(ED25519, false, ['sign', 'verify'])) as CryptoKeyPair;
  } catch {
    algorithm = 'p256';
    pair = await subtle.generateKey(P256, false, ['sign', 'verify']);
  }
  const raw = new Uint8Array(await subtle.exportKey('raw', pair.publicKey));
  return { algorithm, privateKey: pair.privateKey, publicKey: formatPublicKey(algorithm, raw) };
}

export async function webSign(key: WebKeyPair, data: Uint8Array, subtle: SubtleCrypto = crypto.subtle): Promise<string> {
  const params = key.algorithm === 'ed25519' ? ED25519 : P256_SIGN;
  return toBase64Url(new Uint8Array(await subtle.sign(params, key.privateKey, data as BufferSource)));
}

/** Whether `signature` is `publicKey`'s over `data`; false (never a throw) for a malformed key or signature. */
export async function webVerify(publicKey: PublicKeyText, data: Uint8Array, signature: string, subtle: SubtleCrypto = crypto.subtle): Promise<boolean> {
  try {
    if (!SIGNATURE_PATTERN.test(signature)) return false;
    const { algorithm, raw } = parsePublicKey(publicKey);
    const key = await subtle.importKey('raw', raw as BufferSource, algorithm === 'ed25519' ? ED25519 : P256, false, ['verify']);
    return await subtle.verify(algorithm === 'ed25519' ? ED25519 : P256_SIGN, key, fromBase64Url(signature) as BufferSource, data as BufferSource);
  } catch {
    return false;
  }
}

export async function webSha256Hex(data: Uint8Array, subtle: SubtleCrypto = crypto.subtle): Promise<string> {
  return toHex(new Uint8Array(await subtle.digest('SHA-256', data as BufferSource)));
}

// ── encodings ────────────────────────────────────────────────────────────────────────

export function toBase64Url(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function fromBase64Url(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error('Not base64url');
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += bytes[i].toString(16).padStart(2, '0');
  return s;
}

export function fromHex(hex: string): Uint8Array {
  if (!/^([0-9a-f]{2})*$/.test(hex)) throw new Error(`Not lowercase hex: ${JSON.stringify(hex.slice(0, 80))}`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
