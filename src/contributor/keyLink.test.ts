// A key link signed the browser's way (WebCrypto, here Node's) is one the coordinator's way of
// checking (node:crypto, through the credit book) takes; pasted key codes are cleaned of what
// copying adds and refused with a message when they are not keys.

import { describe, expect, it } from 'vitest';
import { CreditBook } from '../ledger/credit.ts';
import { entryLine } from '../ledger/entries.ts';
import { generateWebKeyPair } from '../protocol/signing.ts';
import { nodeVerifier } from '../server/nodeSigning.ts';
import { parseKeyCode, signKeyLink } from './keyLink.ts';

describe('key links from the browser', () => {
  it('signs a link that the ledger’s check takes, and one that names itself is refused before signing', async () => {
    const [old, fresh] = [await generateWebKeyPair(), await generateWebKeyPair()];
    const link = await signKeyLink(old, 'job-x', fresh.publicKey, 5000);
    expect(link).toMatchObject({ jobId: 'job-x', fromKey: old.publicKey, toKey: fresh.publicKey, issuedAt: 5000 });
    const book = new CreditBook('job-x', nodeVerifier);
    book.add(JSON.parse(entryLine(0, 1, { kind: 'log', jobId: 'job-x', jobName: 'x', coordinatorKey: fresh.publicKey })));
    book.add(JSON.parse(entryLine(1, 2, { kind: 'joined', contributorId: 'c1', publicKey: old.publicKey, backend: 'cpu', device: 'd', resumed: false })));
    expect(() => book.checkLink(link, 6000)).not.toThrow();
    expect(() => book.checkLink({ ...link, issuedAt: 5001 }, 6000)).toThrow(/signature does not verify/);
    await expect(signKeyLink(old, 'job-x', old.publicKey)).rejects.toThrow('that is this browser’s own key');
  });

  it('reads a pasted key code, and says what is wrong with one that is not', async () => {
    const key = (await generateWebKeyPair()).publicKey;
    expect(parseKeyCode(`  ${key.slice(0, 20)}\n${key.slice(20)} `)).toBe(key);
    expect(() => parseKeyCode('')).toThrow(/paste the key code shown by your other browser/);
    expect(() => parseKeyCode('ed25519:short')).toThrow(/^Not a public key: expected "ed25519:" \+ 43/);
  });
});
