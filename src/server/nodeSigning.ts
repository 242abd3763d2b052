// The coordinator's side of signing, with node:crypto: synchronous, so that the pure
// coordinator can check a result's signature inside receive(). The same key formats and
// statements as the browsers' WebCrypto (src/protocol/signing.ts).

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { SIGNATURE_PATTERN, formatPublicKey, fromBase64Url, parsePublicKey, toBase64Url, type PublicKeyText, type SyncSigner, type SyncVerifier } from '../protocol/signing.ts';

const keyCache = new Map<string, KeyObject>();

function publicKeyObject(text: PublicKeyText): KeyObject {
  let key = keyCache.get(text);
  if (key) return key;
  const { algorithm, raw } = parsePublicKey(text);
  const b = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
  key =
    algorithm === 'ed25519'
      ? createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b(raw) }, format: 'jwk' })
      : createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b(raw.subarray(1, 33)), y: b(raw.subarray(33)) }, format: 'jwk' });
  if (keyCache.size > 10_000) keyCache.clear();
  keyCache.set(text, key);
  return key;
}

export const nodeVerifier: SyncVerifier = {
  verify(publicKey, data, signature) {
    try {
      if (!SIGNATURE_PATTERN.test(signature)) return false;
      const key = publicKeyObject(publicKey);
      const sig = fromBase64Url(signature);
      return key.asymmetricKeyType === 'ed25519' ? verify(null, data, key, sig) : verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig);
    } catch {
      return false;
    }
  },
  sha256Hex(data) {
    return createHash('sha256').update(data).digest('hex');
  },
};

/** An Ed25519 signer around a private key object. */
export function nodeSigner(privateKey: KeyObject): SyncSigner {
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || !jwk.x) throw new Error('nodeSigner: only Ed25519 coordinator keys are supported');
  const publicKey = formatPublicKey('ed25519', Buffer.from(jwk.x, 'base64url'));
  return {
    publicKey,
    sign: (data) => toBase64Url(sign(null, data, privateKey)),
  };
}

/**
 * The coordinator's key, kept in `path` (PKCS#8 PEM, readable by the owner only): loaded if
 * it exists, made otherwise. Contributors pin its public key, so it must outlive restarts.
 */
export function loadOrCreateCoordinatorKey(path: string): SyncSigner {
  if (existsSync(path)) {
    let key: KeyObject;
    try {
      key = createPrivateKey(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new Error(`The coordinator key ${path} cannot be read (${(error as Error).message}); move it away to make a new one (contributors that pinned the old key will refuse the new one)`);
    }
    return nodeSigner(key);
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  renameSync(tmp, path);
  return nodeSigner(privateKey);
}
