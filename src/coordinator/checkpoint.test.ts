import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CheckpointError, deserializeCheckpoint, serializeCheckpoint, type CheckpointExpectation } from './checkpoint.ts';
import { checkpointFileName, listCheckpoints, loadNewestCheckpoint, writeCheckpoint } from './checkpointStore.ts';
import type { CheckpointState } from './records.ts';

const N = 10;
const expect10: CheckpointExpectation = { jobId: 'job-1', parameterCount: N, optimizer: 'adamw' };

function state(round = 1, overrides: Partial<CheckpointState> = {}): CheckpointState {
  return {
    jobId: 'job-1',
    round,
    version: round,
    restarts: 0,
    elapsedMs: 1234.5,
    nextContributor: 3,
    optimizer: { kind: 'adamw', step: round },
    history: Array.from({ length: round }, (_, r) => ({
      round: r, epoch: 0, start: r * 4, end: r * 4 + 4, version: r,
      leases: [{ leaseId: `i-r${r}-1`, contributorId: 'c1-i', ranges: [[r * 4, r * 4 + 4]], count: 4 }],
      exact: true, examples: 4, loss: 2.3, trainAccuracy: 0.25, lr: 0.001, gradNorm: 1.5, openedAt: 0, closedAt: 10,
    })),
    evaluations: [{ version: 1, loss: 2, accuracy: 0.5, count: 100, at: 11 }],
    contributors: [{ id: 'c1-i', leases: 1, examples: 4, uncounted: 2, device: 'gpu', backend: 'webgpu', publicKey: 'ed25519:' + 'A'.repeat(43) }],
    banned: [],
    params: Float32Array.from({ length: N }, (_, i) => i / 3),
    moment1: Float32Array.from({ length: N }, (_, i) => -i),
    moment2: Float32Array.from({ length: N }, (_, i) => i * i),
    ...overrides,
  };
}

function errorOf(bytes: Uint8Array, expectation = expect10): CheckpointError {
  try {
    deserializeCheckpoint(bytes, expectation, 'ckpt');
  } catch (error) {
    expect(error).toBeInstanceOf(CheckpointError);
    return error as CheckpointError;
  }
  throw new Error('expected deserializeCheckpoint to throw');
}

describe('checkpoint bytes', () => {
  it('round-trips the whole state exactly', () => {
    const s = state(2);
    expect(deserializeCheckpoint(serializeCheckpoint(s), expect10, 'ckpt')).toEqual(s);
  });

  it('keeps banned keys, and loads an older checkpoint without them as none', () => {
    const banned = [{ publicKey: 'ed25519:' + 'B'.repeat(43), contributorId: 'c2-i', reason: 'replayed', at: 5 }];
    expect(deserializeCheckpoint(serializeCheckpoint(state(1, { banned })), expect10, 'ckpt').banned).toEqual(banned);
    const older = serializeCheckpoint(state(1, { banned: undefined as never })); // JSON drops the field, as before bans existed
    expect(deserializeCheckpoint(older, expect10, 'ckpt').banned).toEqual([]);
  });

  it('round-trips SGD state (no second moment)', () => {
    const s = state(1, { optimizer: { kind: 'sgd', step: 1 }, moment2: null });
    expect(deserializeCheckpoint(serializeCheckpoint(s), { ...expect10, optimizer: 'sgd' }, 'ckpt')).toEqual(s);
  });

  it('refuses truncation and corruption anywhere', () => {
    const bytes = serializeCheckpoint(state());
    expect(errorOf(bytes.subarray(0, 20)).message).toMatch(/ckpt: only 20 bytes: truncated/);
    expect(errorOf(bytes.subarray(0, bytes.length - 1)).message).toMatch(/checksum mismatch/);
    for (const at of [0, 13, 100, bytes.length - 40, bytes.length - 1]) {
      const corrupt = bytes.slice();
      corrupt[at] ^= 0x10;
      const e = errorOf(corrupt);
      expect(e.kind).toBe('corrupt');
      expect(e.message).toMatch(/bad magic|checksum mismatch/);
    }
  });

  it('refuses a checkpoint of another job, optimizer or model size as incompatible', () => {
    const bytes = serializeCheckpoint(state());
    const other = errorOf(bytes, { ...expect10, jobId: 'job-2' });
    expect(other.kind).toBe('incompatible');
    expect(other.message).toMatch(/belongs to job job-1, this run is job job-2/);
    expect(errorOf(bytes, { ...expect10, optimizer: 'sgd' }).message).toMatch(/holds adamw state, the job uses sgd/);
    expect(errorOf(bytes, { ...expect10, parameterCount: 11 }).message).toMatch(/holds 10 parameters, the job's model has 11/);
  });

  it('refuses inconsistent contents even with a valid checksum', () => {
    expect(errorOf(serializeCheckpoint(state(2, { round: 3 }))).message).toMatch(/records 2 closed rounds but says round 3/);
    expect(errorOf(serializeCheckpoint(state(1, { optimizer: { kind: 'adamw', step: 5 } }))).message).toMatch(/optimizer step 5/);
    expect(errorOf(serializeCheckpoint(state(1, { moment1: Float32Array.from({ length: N }, () => NaN) }))).message).toMatch(/is NaN/);
    expect(errorOf(serializeCheckpoint(state(1, { moment2: new Float32Array(9) }))).message).toMatch(/second moment has 9 values/);
    expect(errorOf(serializeCheckpoint({ ...state(1), jobId: '' })).message).toMatch(/header field state\.jobId/);
  });
});

describe('checkpoint directory', () => {
  let dir = '';
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('writes atomically, keeps the newest K and loads the newest', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sg-ckpt-'));
    const nested = join(dir, 'runs', 'a');
    expect(await loadNewestCheckpoint(nested, expect10)).toBeNull();
    for (const r of [1, 2, 3, 4]) await writeCheckpoint(nested, r, serializeCheckpoint(state(r)), 2);
    expect(await listCheckpoints(nested)).toEqual([checkpointFileName(4), checkpointFileName(3)]);
    expect((await readdir(nested)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    const loaded = await loadNewestCheckpoint(nested, expect10);
    expect(loaded?.state.round).toBe(4);
    expect(loaded?.skipped).toEqual([]);
  });

  it('skips a corrupt newest file with a reason and loads the one before', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sg-ckpt-'));
    await writeCheckpoint(dir, 1, serializeCheckpoint(state(1)));
    const path2 = await writeCheckpoint(dir, 2, serializeCheckpoint(state(2)));
    const bytes = await readFile(path2);
    await writeFile(path2, bytes.subarray(0, bytes.length / 2)); // a torn write
    const loaded = await loadNewestCheckpoint(dir, expect10);
    expect(loaded?.state.round).toBe(1);
    expect(loaded?.skipped).toHaveLength(1);
    expect(loaded?.skipped[0]).toMatch(/checkpoint-r000000002\.sgck: checksum mismatch/);
  });

  it('fails when every file is corrupt, and when one belongs to another job', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sg-ckpt-'));
    await writeFile(join(dir, checkpointFileName(5)), new Uint8Array(100));
    await expect(loadNewestCheckpoint(dir, expect10)).rejects.toThrow(/No valid checkpoint in .*every file was skipped/);
    await writeCheckpoint(dir, 6, serializeCheckpoint(state(1, { jobId: 'job-9' })));
    await expect(loadNewestCheckpoint(dir, expect10)).rejects.toThrow(/belongs to job job-9/);
  });

  it('reports a directory it cannot write to', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sg-ckpt-'));
    const file = join(dir, 'not-a-directory');
    await writeFile(file, 'x');
    await expect(writeCheckpoint(file, 1, serializeCheckpoint(state(1)))).rejects.toThrow(/Could not write checkpoint .*check free space and permissions/);
  });

  it('names files by round and checks its arguments', async () => {
    expect(checkpointFileName(12)).toBe('checkpoint-r000000012.sgck');
    expect(() => checkpointFileName(-1)).toThrow(/round must be an integer/);
    await expect(writeCheckpoint('/tmp', 1, new Uint8Array(1), 0)).rejects.toThrow(/keep must be an integer ≥ 1/);
  });
});
