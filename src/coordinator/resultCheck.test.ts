// The result checks the coordinator runs (inline or in a thread): each way a result can be
// wrong is named, in the order the coordinator judges them.

import { describe, expect, it } from 'vitest';
import { nodeVerifier } from '../server/nodeSigning.ts';
import { checkResult, type ResultCheckInput } from './resultCheck.ts';
import { TEST_KEY, result, testKey } from './testSwarm.ts';

const P = 300;
const gradient = Float32Array.from({ length: P }, (_, i) => Math.sin(i) / 10);
const up = { scheme: 'int8', blockSize: 64 } as const;

function inputOf(message: ReturnType<typeof result>, publicKey = TEST_KEY.publicKey): ResultCheckInput {
  return { jobId: 'job-1', publicKey, body: message.body, update: message.tensors.update, up, parameterCount: P };
}

describe('checkResult', () => {
  it('decodes a result signed by its sender, bound to its key and hash', () => {
    const m = result('job-1', 'lease-1', 3, 16, gradient, 4, TEST_KEY, 1.5, up);
    const check = checkResult(inputOf(m), nodeVerifier);
    expect(check).toMatchObject({ publicKey: TEST_KEY.publicKey, resultHash: m.body.resultHash });
    if (!('values' in check.outcome)) throw new Error(check.outcome.problem.reason);
    expect(check.outcome.values).toHaveLength(P);
    for (let i = 0; i < P; i++) expect(Math.abs(check.outcome.values[i] - gradient[i])).toBeLessThan(2e-3);
  });

  it('refuses data that does not hash to the named hash', () => {
    const m = result('job-1', 'lease-1', 3, 16, gradient, 4, TEST_KEY, 1.5, up);
    const check = checkResult(inputOf({ ...m, body: { ...m.body, loss: 0.5 } }), nodeVerifier);
    expect(check.outcome).toEqual({ problem: { code: 'bad-signature', reason: expect.stringMatching(/^the result's data hashes to [0-9a-f]{64}, not the resultHash/) } });
  });

  it("refuses a signature by another key, or for another job's lease", () => {
    const m = result('job-1', 'lease-1', 3, 16, gradient, 4, TEST_KEY, 1.5, up);
    expect(checkResult(inputOf(m, testKey().publicKey), nodeVerifier).outcome).toEqual({ problem: { code: 'bad-signature', reason: 'the signature of the result for lease lease-1 does not verify with your key' } });
    expect(checkResult({ ...inputOf(m), jobId: 'job-2' }, nodeVerifier).outcome).toMatchObject({ problem: { code: 'bad-signature' } });
  });

  it('names non-finite values and a wrong length after the signature checks out', () => {
    const bad = gradient.slice();
    bad[7] = Number.NaN;
    const nan = result('job-1', 'lease-1', 3, 16, bad, 4, TEST_KEY, 1.5, { scheme: 'f32' });
    expect(checkResult({ ...inputOf(nan), up: { scheme: 'f32' } }, nodeVerifier).outcome).toMatchObject({ problem: { code: 'non-finite', reason: expect.stringMatching(/^the update cannot be used: /) } });
    const m = result('job-1', 'lease-1', 3, 16, gradient, 4, TEST_KEY, 1.5, up);
    expect(checkResult({ ...inputOf(m), parameterCount: P + 1 }, nodeVerifier).outcome).toMatchObject({ problem: { code: 'bad-shape' } });
  });
});
