// The WebCrypto side of signing (as browsers run it; Node has the same WebCrypto) against the
// coordinator's node:crypto side: the same key and signature formats for both algorithms.

import { describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { nodeSigner, nodeVerifier } from '../server/nodeSigning.ts';
import { generateWebKeyPair, parsePublicKey, resultHashInput, resultStatement, webSha256Hex, webSign, webVerify, welcomeStatement } from './signing.ts';

const STATEMENT = resultStatement({ jobId: 'job-1', leaseId: 'abc-r3-7', version: 3, resultHash: 'f'.repeat(64) });

/** WebCrypto as a browser without Ed25519 has it, so that generateWebKeyPair takes the P-256 path. */
const subtleWithoutEd25519 = new Proxy(crypto.subtle, {
  get(target, prop) {
    if (prop === 'generateKey') {
      return (algorithm: AlgorithmIdentifier, extractable: boolean, usages: KeyUsage[]) =>
        (algorithm as Algorithm).name === 'Ed25519' ? Promise.reject(new Error('Ed25519 is not supported')) : target.generateKey(algorithm as EcKeyGenParams, extractable, usages);
    }
    const value = Reflect.get(target, prop, target) as unknown;
    return typeof value === 'function' ? value.bind(target) : value;
  },
});

describe('signing: WebCrypto and node:crypto agree', () => {
  for (const [name, subtle] of [['ed25519', crypto.subtle], ['p256', subtleWithoutEd25519]] as const) {
    it(`a ${name} key made with WebCrypto signs what node:crypto verifies, and nothing else`, async () => {
      const pair = await generateWebKeyPair(subtle);
      expect(pair.algorithm).toBe(name);
      expect(parsePublicKey(pair.publicKey).raw.length).toBe(name === 'ed25519' ? 32 : 65);
      await expect(subtle.exportKey('pkcs8', pair.privateKey)).rejects.toThrow();
      const signature = await webSign(pair, STATEMENT, subtle);
      expect(nodeVerifier.verify(pair.publicKey, STATEMENT, signature)).toBe(true);
      const other = resultStatement({ jobId: 'job-1', leaseId: 'abc-r3-8', version: 3, resultHash: 'f'.repeat(64) });
      expect(nodeVerifier.verify(pair.publicKey, other, signature)).toBe(false);
      expect(nodeVerifier.verify((await generateWebKeyPair(subtle)).publicKey, STATEMENT, signature)).toBe(false);
    });
  }

  it('what the coordinator signs with node:crypto verifies with WebCrypto', async () => {
    const coordinator = nodeSigner(generateKeyPairSync('ed25519').privateKey);
    const data = welcomeStatement({ jobId: 'job-1', contributorId: 'c1', contributorKey: (await generateWebKeyPair()).publicKey, nonce: 'n'.repeat(32) });
    expect(await webVerify(coordinator.publicKey, data, coordinator.sign(data))).toBe(true);
    expect(await webVerify(coordinator.publicKey, STATEMENT, coordinator.sign(data))).toBe(false);
    expect(await webVerify(coordinator.publicKey, data, 'not a signature')).toBe(false);
  });

  it('hashes a result the same way on both sides', async () => {
    const data = resultHashInput({ exampleCount: 3, loss: 0.25, correct: 1, encoding: { scheme: 'int8', length: 3, blockSize: 64, k: null }, update: Uint32Array.from([1, 2, 0x7f0081]) });
    expect(await webSha256Hex(data)).toBe(nodeVerifier.sha256Hex(data));
  });
});
