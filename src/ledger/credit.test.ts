// The leaderboard from ledger entries alone: credit by key and by person (keys joined by
// links), teams from the latest join, banned keys counting for nothing; and every way a key
// link can be wrong (wrong signer, a cycle, a banned key on either end, a second link from
// one key, another job, a key that never joined), each a clear error with nothing credited.

import { describe, expect, it } from 'vitest';
import { testKey } from '../coordinator/testSwarm.ts';
import type { KeyLink } from '../protocol/messages.ts';
import { keyLinkStatement, type SyncSigner } from '../protocol/signing.ts';
import { nodeVerifier } from '../server/nodeSigning.ts';
import { CreditBook, KeyLinkError, recountLeaderboard } from './credit.ts';
import { entryLine, type LedgerEntryBody } from './entries.ts';

const JOB = 'job-credit';
const [A, B, C, D] = [testKey(), testKey(), testKey(), testKey()];

function link(from: SyncSigner, to: SyncSigner, options: { signer?: SyncSigner; jobId?: string; issuedAt?: number } = {}): KeyLink {
  const body = { jobId: options.jobId ?? JOB, fromKey: from.publicKey, toKey: to.publicKey, issuedAt: options.issuedAt ?? 5000 };
  return { ...body, signature: (options.signer ?? from).sign(keyLinkStatement(body)) };
}

/** A log (as lines) and a book over it. */
class Log {
  readonly lines: string[] = [];
  readonly book = new CreditBook(JOB, nodeVerifier);
  constructor() {
    this.add({ kind: 'log', jobId: JOB, jobName: 'credit test', coordinatorKey: testKey().publicKey });
  }
  add(body: LedgerEntryBody, at = 1000 + this.lines.length): void {
    const line = entryLine(this.lines.length, at, body);
    this.lines.push(line);
    this.book.add(JSON.parse(line));
  }
  join(contributorId: string, key: SyncSigner, team?: string): void {
    this.add({ kind: 'joined', contributorId, publicKey: key.publicKey, backend: 'cpu', device: 'test', resumed: false, ...(team ? { team } : {}) });
  }
  credit(contributorId: string, examples: number, leases = 1): void {
    this.add({ kind: 'credit', contributorId, round: 0, leases, examples });
  }
  link(l: KeyLink): void {
    this.book.checkLink(l, 6000);
    this.add({ kind: 'keyLinked', fromKey: l.fromKey, toKey: l.toKey, issuedAt: l.issuedAt, signature: l.signature }, 6000);
  }
}

function refused(log: Log, l: KeyLink): KeyLinkError {
  const before = JSON.stringify(log.book.leaderboard());
  let error: unknown = null;
  try {
    log.book.checkLink(l, 6000);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(KeyLinkError);
  expect(JSON.stringify(log.book.leaderboard())).toBe(before);
  return error as KeyLinkError;
}

describe('leaderboard', () => {
  it('ranks people by verified examples, each credit entry being its contributor’s running total', () => {
    const log = new Log();
    log.join('c1', A, 'Lab 1');
    log.join('c2', B, 'Lab 1');
    log.join('c3', C);
    log.credit('c1', 64, 2);
    log.credit('c2', 32);
    log.credit('c1', 96, 3); // totals, not increments
    log.credit('c3', 128, 4);
    const board = log.book.leaderboard();
    expect(board.entries).toBe(log.lines.length);
    expect(board.contributors.map((p) => [p.rank, p.key, p.examples, p.leases, p.team])).toEqual([
      [1, C.publicKey, 128, 4, null],
      [2, A.publicKey, 96, 3, 'Lab 1'],
      [3, B.publicKey, 32, 1, 'Lab 1'],
    ]);
    expect(board.teams).toEqual([{ rank: 1, team: 'Lab 1', members: 2, leases: 4, examples: 128 }]);
  });

  it('adds up one key’s contributor ids, and takes the team of its latest join', () => {
    const log = new Log();
    log.join('c1', A, 'Old team');
    log.credit('c1', 10);
    log.join('c7', A, 'New team'); // a new id for the same key (its stored id was lost)
    log.credit('c7', 5);
    const [person] = log.book.leaderboard().contributors;
    expect(person).toMatchObject({ key: A.publicKey, contributorIds: ['c1', 'c7'], examples: 15, team: 'New team' });
  });

  it('leaves out a banned key’s credit, and anyone without credit', () => {
    const log = new Log();
    log.join('c1', A);
    log.join('c2', B);
    log.join('c3', C);
    log.credit('c1', 50);
    log.credit('c2', 40);
    log.add({ kind: 'banned', contributorId: 'c2', publicKey: B.publicKey, reason: 'replication: mismatch' });
    expect(log.book.leaderboard().contributors.map((p) => p.key)).toEqual([A.publicKey]);
  });

  it('puts a linked key’s credit with the key at the end of its chain', () => {
    const log = new Log();
    log.join('c1', A, 'Site A');
    log.join('c2', B);
    log.join('c3', C, 'Latest');
    log.credit('c1', 30);
    log.credit('c2', 20);
    log.credit('c3', 10);
    log.link(link(A, B));
    log.link(link(B, C));
    const board = log.book.leaderboard();
    expect(board.contributors).toHaveLength(1);
    expect(board.contributors[0]).toMatchObject({ rank: 1, key: C.publicKey, examples: 60, leases: 3, team: 'Latest' });
    expect(board.contributors[0].keys[0]).toBe(C.publicKey);
    expect([...board.contributors[0].keys].sort()).toEqual([A, B, C].map((k) => k.publicKey).sort());
    expect(log.book.personOf(A.publicKey)).toBe(C.publicKey);
  });

  it('recounts the same board from the log’s lines, and names a line whose link does not check', () => {
    const log = new Log();
    log.join('c1', A);
    log.join('c2', B);
    log.credit('c1', 8);
    log.link(link(A, B));
    expect(recountLeaderboard(JOB, log.lines, nodeVerifier)).toEqual(log.book.leaderboard());
    expect(recountLeaderboard(JOB, log.lines, nodeVerifier, 4).contributors[0].key).toBe(A.publicKey);
    // A link someone wrote into the log without the old key's signature.
    const forged = JSON.parse(log.lines[4]);
    forged.signature = C.sign(keyLinkStatement(forged));
    const lines = [...log.lines.slice(0, 4), JSON.stringify(forged)];
    expect(() => recountLeaderboard(JOB, lines, nodeVerifier)).toThrow(/^entries line 5: the link's signature does not verify with ed25519:/);
    expect(() => recountLeaderboard(JOB, log.lines, nodeVerifier, 9)).toThrow('the leaderboard counts 9 entries but the log has 5');
  });
});

describe('key links', () => {
  function twoKeys(): Log {
    const log = new Log();
    log.join('c1', A);
    log.join('c2', B);
    log.credit('c1', 16);
    log.credit('c2', 8);
    return log;
  }

  it('refuses a link signed by another key than the one giving its credit away', () => {
    const log = twoKeys();
    const error = refused(log, link(A, B, { signer: B }));
    expect(error.status).toBe(403);
    expect(error.message).toBe(`the link's signature does not verify with ${A.publicKey}: only the key that gives its credit away can sign its link. Nothing was credited.`);
  });

  it('refuses a link whose fields were changed after signing', () => {
    const log = twoKeys();
    const l = { ...link(A, B), toKey: C.publicKey };
    expect(refused(log, l).status).toBe(403);
  });

  it('refuses a cycle, however long', () => {
    const log = twoKeys();
    log.join('c3', C);
    log.link(link(A, B));
    log.link(link(B, C));
    const error = refused(log, link(C, A));
    expect(error.status).toBe(409);
    expect(error.message).toBe(`${A.publicKey} already hands its credit on to ${C.publicKey}: this link would make a cycle`);
    expect(refused(log, link(A, A)).message).toBe('a key cannot be linked to itself');
  });

  it('refuses a link to or from a banned key, or to a key whose chain ends at one', () => {
    const log = twoKeys();
    log.join('c3', C);
    log.join('c4', D);
    log.link(link(C, D));
    log.add({ kind: 'banned', contributorId: 'c4', publicKey: D.publicKey, reason: 'spot check: mismatch' });
    expect(refused(log, link(A, D)).message).toBe(`${D.publicKey} was banned from this job: no credit can go to it`);
    expect(refused(log, link(A, C)).message).toBe(`${C.publicKey} hands its credit to a key that was banned from this job: no credit can go to it`);
    log.add({ kind: 'banned', contributorId: 'c2', publicKey: B.publicKey, reason: 'screening' });
    const from = refused(log, link(B, A));
    expect([from.status, from.message]).toEqual([403, `${B.publicKey} was banned from this job: its credit cannot be handed on`]);
  });

  it('lets a key hand its credit on once', () => {
    const log = twoKeys();
    log.join('c3', C);
    log.link(link(A, B));
    const error = refused(log, link(A, C, { issuedAt: 5001 }));
    expect([error.status, error.message]).toEqual([409, `${A.publicKey} already hands its credit to ${B.publicKey}: a key is linked once`]);
  });

  it('refuses a link for another job, one from a key that never joined, and one signed in the future', () => {
    const log = twoKeys();
    expect(refused(log, link(A, B, { jobId: 'other-job' })).message).toBe(`this link is for job other-job, not ${JOB}`);
    expect(refused(log, link(C, A)).status).toBe(404);
    expect(refused(log, link(A, B, { issuedAt: 6000 + 11 * 60_000 })).message).toMatch(/in the future$/);
  });

  it('takes a link to a key that has not joined yet: its credit counts once it has some', () => {
    const log = twoKeys();
    log.link(link(A, C));
    expect(log.book.leaderboard().contributors.map((p) => [p.key, p.examples])).toEqual([
      [C.publicKey, 16],
      [B.publicKey, 8],
    ]);
  });
});
