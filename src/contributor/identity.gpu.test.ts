// The contributor's identity in real Chromium: real IndexedDB, real WebCrypto. (In the gpu
// project only because that is where a real browser runs; nothing here touches the GPU.)

import { createStore } from 'idb-keyval';
import { describe, expect, it } from 'vitest';
import { generateWebKeyPair, parsePublicKey, resultStatement, webSign, webVerify } from '../protocol/signing.ts';
import { checkCoordinatorPin, fingerprint, forgetIdentity, loadContributorId, loadOrCreateIdentity, saveContributorId, trustCoordinatorKey } from './identity.ts';

let databases = 0;
/** A fresh database per test, and a second handle on it that stands for a reload of the page. */
function freshStore() {
  const name = `swarmgrad-identity-test-${Date.now()}-${databases++}`;
  return { store: createStore(name, 'entries'), reopen: () => createStore(name, 'entries') };
}

const STATEMENT = resultStatement({ jobId: 'job-vector', leaseId: 'abc-r3-7', version: 3, resultHash: 'a'.repeat(64) });
/** Signed over STATEMENT in Node with node:crypto (nodeSigner for Ed25519; sign('sha256', …, ieee-p1363) for P-256). */
const NODE_SIGNED = {
  ed25519: {
    publicKey: 'ed25519:NmaL-5dTGlHZGUy3bUywKzJfLLOVO1fjHe1YPM_InS0',
    signature: 'PF5F-ysRgFPxH-taFR0zYigcIdODIh5yJNpBed4WteF1COT1l0bbGAXgz500Bn8rrcleGToH4RKNogN6CJxeAw',
  },
  p256: {
    publicKey: 'p256:BHpY8KjRIcWVIEN4wkreCaqbVAW94nJoc1NkwC0WL5MxDZvIbyGpt8IONd-yOAaJHkyatbxFDYN5tcgp1AGdWvU',
    signature: 'bG48WPs8ar98KccdGP8a7u81k4x8bAagXUoxQ0fntid_F9lCnVtxJEktmFJ5rjNRHTpbL3f0X-Pi9rCY_smuLw',
  },
};

/** WebCrypto as a browser without Ed25519 has it: generating an Ed25519 key fails. */
const subtleWithoutEd25519 = new Proxy(crypto.subtle, {
  get(target, prop) {
    if (prop === 'generateKey') {
      return (algorithm: AlgorithmIdentifier, extractable: boolean, usages: KeyUsage[]) => {
        if ((algorithm as Algorithm).name === 'Ed25519') return Promise.reject(new DOMException('Unrecognized name.', 'NotSupportedError'));
        return target.generateKey(algorithm as EcKeyGenParams, extractable, usages);
      };
    }
    const value = Reflect.get(target, prop, target) as unknown;
    return typeof value === 'function' ? value.bind(target) : value;
  },
});

describe('contributor identity', () => {
  it('keeps the same key across a reload of the store, and signs with it', async () => {
    const { store, reopen } = freshStore();
    const first = await loadOrCreateIdentity(store);
    const again = await loadOrCreateIdentity(reopen());
    expect(again.publicKey).toBe(first.publicKey);
    expect(again.algorithm).toBe(first.algorithm);
    // The reloaded private key signs for the public key made at first.
    expect(await webVerify(first.publicKey, STATEMENT, await webSign(again, STATEMENT))).toBe(true);
  });

  it('makes an Ed25519 key in Chromium, whose private half cannot be exported, even after a reload', async () => {
    const { store, reopen } = freshStore();
    const made = await loadOrCreateIdentity(store);
    expect(made.algorithm).toBe('ed25519');
    const reloaded = await loadOrCreateIdentity(reopen());
    for (const key of [made.privateKey, reloaded.privateKey]) {
      expect(key.extractable).toBe(false);
      for (const format of ['pkcs8', 'jwk'] as const) await expect(crypto.subtle.exportKey(format, key)).rejects.toThrow();
    }
  });

  it('forgets the key and the contributor ids it names, but keeps the pins', async () => {
    const { store } = freshStore();
    const before = await loadOrCreateIdentity(store);
    await saveContributorId('job-a', 'c-17', store);
    await checkCoordinatorPin('http://coordinator.test', 'job-a', NODE_SIGNED.ed25519.publicKey, store);
    await forgetIdentity(['job-a'], store);
    expect(await loadContributorId('job-a', store)).toBeUndefined();
    expect((await loadOrCreateIdentity(store)).publicKey).not.toBe(before.publicKey);
    expect((await checkCoordinatorPin('http://coordinator.test', 'job-a', NODE_SIGNED.ed25519.publicKey, store)).status).toBe('matches');
  });

  it('remembers the contributor id per job across a reload', async () => {
    const { store, reopen } = freshStore();
    expect(await loadContributorId('job-a', store)).toBeUndefined();
    await saveContributorId('job-a', 'c-17', store);
    await saveContributorId('job-b', 'c-3', store);
    expect(await loadContributorId('job-a', reopen())).toBe('c-17');
    expect(await loadContributorId('job-b', reopen())).toBe('c-3');
  });

  it('verifies what node:crypto signed, for both key kinds', async () => {
    for (const { publicKey, signature } of Object.values(NODE_SIGNED)) {
      expect(await webVerify(publicKey, STATEMENT, signature)).toBe(true);
      const tampered = STATEMENT.slice();
      tampered[tampered.length - 1] ^= 1;
      expect(await webVerify(publicKey, tampered, signature)).toBe(false);
    }
  });

  it('falls back to ECDSA P-256 where Ed25519 is missing: a 65-byte uncompressed point, 64-byte r‖s signatures', async () => {
    const pair = await generateWebKeyPair(subtleWithoutEd25519);
    expect(pair.algorithm).toBe('p256');
    const { raw } = parsePublicKey(pair.publicKey);
    expect(raw.length).toBe(65);
    expect(raw[0]).toBe(4);
    expect(pair.privateKey.extractable).toBe(false);
    const signature = await webSign(pair, STATEMENT);
    expect(signature).toMatch(/^[A-Za-z0-9_-]{86}$/);
    expect(await webVerify(pair.publicKey, STATEMENT, signature)).toBe(true);
  });

  it('pins the first coordinator key, matches it later, and refuses another until the visitor trusts it', async () => {
    const { store, reopen } = freshStore();
    const origin = 'http://coordinator.test:8080';
    const pinned = NODE_SIGNED.ed25519.publicKey;
    const other = NODE_SIGNED.p256.publicKey;
    expect(await checkCoordinatorPin(origin, 'job-a', pinned, store)).toEqual({ status: 'pinned-now', pinned });
    expect(await checkCoordinatorPin(origin, 'job-a', pinned, reopen())).toEqual({ status: 'matches', pinned });

    const refused = await checkCoordinatorPin(origin, 'job-a', other, reopen());
    expect(refused.status).toBe('mismatch');
    if (refused.status !== 'mismatch') return;
    expect(refused.pinned).toBe(pinned);
    expect(refused.presented).toBe(other);
    // The message names both fingerprints, so the visitor can compare them with what the owner publishes.
    expect(refused.message).toContain(await fingerprint(pinned));
    expect(refused.message).toContain(await fingerprint(other));
    // Refusing does not re-pin.
    expect((await checkCoordinatorPin(origin, 'job-a', other, store)).status).toBe('mismatch');

    // Pins are per origin and per job.
    expect((await checkCoordinatorPin('http://elsewhere.test', 'job-a', other, store)).status).toBe('pinned-now');
    expect((await checkCoordinatorPin(origin, 'job-b', other, store)).status).toBe('pinned-now');

    await trustCoordinatorKey(origin, 'job-a', other, store);
    expect(await checkCoordinatorPin(origin, 'job-a', other, reopen())).toEqual({ status: 'matches', pinned: other });
    expect((await checkCoordinatorPin(origin, 'job-a', pinned, store)).status).toBe('mismatch');
  });

  it('gives a short fingerprint: 16 hex digits in groups of four, different for different keys', async () => {
    const a = await fingerprint(NODE_SIGNED.ed25519.publicKey);
    expect(a).toMatch(/^[0-9a-f]{4}( [0-9a-f]{4}){3}$/);
    expect(await fingerprint(NODE_SIGNED.ed25519.publicKey)).toBe(a);
    expect(await fingerprint(NODE_SIGNED.p256.publicKey)).not.toBe(a);
  });
});
