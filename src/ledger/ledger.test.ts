import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CoordinatorEvent } from '../coordinator/decisions.ts';
import { COORDINATOR_KEY, capabilities, testKey } from '../coordinator/testSwarm.ts';
import { LedgerFile, ledgerPaths, sha256 } from '../server/ledgerFile.ts';
import { nodeVerifier } from '../server/nodeSigning.ts';
import type { GenesisEntry } from './entries.ts';
import { receiptProblem } from './receipt.ts';
import { KeyLinkError, recountLeaderboard } from './credit.ts';
import { keyLinkStatement } from '../protocol/signing.ts';
import { LedgerError, verifyLog } from './verify.ts';
import { LedgerWriter, type ReceiptBody } from './writer.ts';

const JOB = 'job-ledger-test';
const GENESIS: GenesisEntry = { kind: 'log', jobId: JOB, jobName: 'ledger test', coordinatorKey: COORDINATOR_KEY.publicKey };
const OPTIONS = { hash: sha256, verifier: nodeVerifier, expectedKey: COORDINATOR_KEY.publicKey };
const CHECKS = { hash: sha256, verify: nodeVerifier.verify };
const hash = (i: number) => i.toString(16).padStart(64, '0');

/** The events of `rounds` rounds with two contributors, each answering one lease of 8 examples per round. */
function events(rounds: number, firstRound = 0, at = 1000): CoordinatorEvent[] {
  const out: CoordinatorEvent[] = [];
  if (firstRound === 0) {
    for (const id of ['c1', 'c2']) out.push({ type: 'joined', at, peer: `p-${id}`, contributorId: id, publicKey: testKey().publicKey, capabilities: capabilities(), resumed: false });
  }
  for (let r = firstRound; r < firstRound + rounds; r++) {
    const leases = ['c1', 'c2'].map((contributorId, i) => ({ leaseId: `L${r}-${i}`, contributorId, ranges: [[i * 8, i * 8 + 8]] as [number, number][], count: 8 }));
    for (const l of leases) out.push({ type: 'leaseGranted', at: at + r, contributorId: l.contributorId, leaseId: l.leaseId, round: r, version: r, ranges: [{ start: 0, end: 8 }], count: 8, deadline: 0 });
    for (const [i, l] of leases.entries()) {
      out.push({ type: 'resultAccepted', at: at + r, contributorId: l.contributorId, leaseId: l.leaseId, round: r, version: r, count: 8, loss: 1, afterExpiry: false, computeMs: 1, resultHash: hash(r * 2 + i), signature: 'A'.repeat(86) });
    }
    out.push({
      type: 'roundClosed', at: at + r, newVersion: r + 1, contributors: 2, durationMs: 1, examplesPerSecond: 1,
      record: { round: r, epoch: 0, start: 0, end: 16, version: r, leases, exact: true, examples: 16, loss: 1, trainAccuracy: 0.5, lr: 0.001, gradNorm: 1, openedAt: at, closedAt: at + r },
    });
  }
  return out;
}

function written(rounds: number): { entries: string; heads: string; receipts: { contributorId: string; receipt: ReceiptBody }[] } {
  const w = new LedgerWriter(GENESIS, COORDINATOR_KEY, sha256);
  let entries = w.start(0).lines.map((l) => `${l}\n`).join('');
  let heads = '';
  const receipts: { contributorId: string; receipt: ReceiptBody }[] = [];
  for (const e of events(rounds)) {
    const out = w.record(e);
    entries += out.lines.map((l) => `${l}\n`).join('');
    if (out.head) heads += `${JSON.stringify(out.head)}\n`;
    receipts.push(...(out.receipts ?? []));
  }
  return { entries, heads, receipts };
}

async function failure(entries: string, heads: string, options = OPTIONS): Promise<LedgerError> {
  try {
    await verifyLog(entries, heads, options);
  } catch (error) {
    expect(error).toBeInstanceOf(LedgerError);
    return error as LedgerError;
  }
  throw new Error('expected the ledger to fail verification');
}

describe('ledger: writing and verifying', () => {
  it('records joins, leases, results, rounds and credit, with one signed head per round', async () => {
    const { entries, heads } = written(5);
    const v = await verifyLog(entries, heads, OPTIONS);
    expect(v.kinds).toEqual({ log: 1, joined: 2, leaseGranted: 10, resultAccepted: 10, roundClosed: 5, credit: 10 });
    expect(v.heads).toHaveLength(5);
    expect(v.unsigned).toBe(0);
    const credit = v.lines.map((l) => JSON.parse(l)).filter((e) => e.kind === 'credit' && e.contributorId === 'c2').at(-1);
    expect(credit).toMatchObject({ round: 4, leases: 5, examples: 40 });
    const accepted = JSON.parse(v.lines.find((l) => l.includes('"resultAccepted"'))!);
    expect(accepted).toMatchObject({ contributorId: 'c1', leaseId: 'L0-0', resultHash: hash(0), signature: 'A'.repeat(86) });
  });

  it('gives each counted lease a receipt that verifies, and a forged one fails with what is wrong', async () => {
    const { receipts } = written(3);
    expect(receipts).toHaveLength(6);
    for (const { contributorId, receipt } of receipts) {
      expect(await receiptProblem(receipt, { jobId: JOB, coordinatorKey: COORDINATOR_KEY.publicKey, contributorId }, CHECKS)).toBeNull();
    }
    const { receipt } = receipts[3];
    const expected = { jobId: JOB, coordinatorKey: COORDINATOR_KEY.publicKey };
    expect(await receiptProblem(receipt, { ...expected, contributorId: 'c1' }, CHECKS)).toMatch(/credits c2, not c1/);
    expect(await receiptProblem(receipt, { ...expected, resultHash: hash(99) }, CHECKS)).toMatch(/another result hash/);
    expect(await receiptProblem({ ...receipt, entry: receipt.entry.replace('"count":8', '"count":9') }, expected, CHECKS)).toMatch(/inclusion proof does not lead/);
    expect(await receiptProblem({ ...receipt, proof: [...receipt.proof].reverse() }, expected, CHECKS)).toMatch(/inclusion proof/);
    expect(await receiptProblem({ ...receipt, treeHead: { ...receipt.treeHead, size: receipt.treeHead.size + 1 } }, expected, CHECKS)).toMatch(/not signed by the coordinator key/);
    expect(await receiptProblem(receipt, { ...expected, coordinatorKey: testKey().publicKey }, CHECKS)).toMatch(/not signed/);
  });

  it('names the altered range when any single byte of any entry changes', async () => {
    const { entries, heads } = written(4);
    const lines = entries.split('\n');
    for (let i = 0; i < lines.length - 1; i++) {
      const bytes = [...lines[i]];
      const at = Math.floor(bytes.length / 2);
      bytes[at] = bytes[at] === '7' ? '8' : '7';
      const tampered = [...lines.slice(0, i), bytes.join(''), ...lines.slice(i + 1)].join('\n');
      const error = await failure(tampered, heads);
      // Either that very line, or the range between the last head that still matches and the first that does not.
      expect(error.message, `line ${i + 1}`).toMatch(/entries line \d+|entries lines \d+–\d+ do not match|not valid JSON|go(es)? back/);
      const m = /entries lines (\d+)–(\d+)/.exec(error.message);
      if (m) expect(i + 1).toBeGreaterThanOrEqual(Number(m[1]));
      if (m) expect(i + 1).toBeLessThanOrEqual(Number(m[2]));
      if (!m) expect(error.line).toBe(i + 1);
    }
  });

  it('names where entries were reordered, removed or cut', async () => {
    const { entries, heads } = written(4);
    const lines = entries.split('\n');
    const swapped = [...lines];
    [swapped[9], swapped[10]] = [swapped[10], swapped[9]];
    expect((await failure(swapped.join('\n'), heads)).message).toMatch(/entries line 10 holds entry n=10, expected 9: entries were removed, duplicated or reordered/);
    expect((await failure(lines.slice(0, -4).join('\n') + '\n', heads)).message).toMatch(/covers \d+ entries but the log has \d+: entries after line \d+ were removed/);
    const torn = await verifyLog(entries + '{"n":99,"at', heads, OPTIONS);
    expect(torn.tornTail).toBe('{"n":99,"at');
  });

  it('refuses a forged head, a shrinking head, and a log signed by another key', async () => {
    const { entries, heads } = written(3);
    const h = heads.split('\n');
    const forged = { ...JSON.parse(h[1]), rootHash: 'ab'.repeat(32) };
    expect((await failure(entries, [h[0], JSON.stringify(forged), h[2], ''].join('\n'))).message).toMatch(/heads line 2: the signature of the head of size \d+ does not verify/);
    expect((await failure(entries, [h[1], h[0], ''].join('\n'))).message).toMatch(/heads line 2: .* heads must only grow/);
    expect((await failure(entries, heads, { ...OPTIONS, expectedKey: testKey().publicKey })).message).toMatch(/entries line 1: the log names coordinator key/);
  });
});

describe('ledger: the file', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), 'swarmgrad-ledger-'));
    dirs.push(d);
    return d;
  };

  it('continues after a restart: same entries, verified, numbering and credit go on', async () => {
    const d = dir();
    const a = await LedgerFile.open(d, { genesis: GENESIS, signer: COORDINATOR_KEY, fresh: false });
    for (const e of events(3)) a.record(e);
    a.close();
    appendFileSync(ledgerPaths(d).entries, '{"n":57,"at":1'); // a crash in the middle of a line
    const lines: string[] = [];
    const b = await LedgerFile.open(d, { genesis: GENESIS, signer: COORDINATOR_KEY, fresh: false, log: (l) => lines.push(l) });
    expect(lines.join('\n')).toMatch(/dropped a last entry cut short/);
    const receipts = events(1, 3).flatMap((e) => b.record(e));
    b.close();
    expect(receipts).toHaveLength(2);
    const v = await verifyLog(readFileSync(ledgerPaths(d).entries, 'utf8'), readFileSync(ledgerPaths(d).heads, 'utf8'), OPTIONS);
    expect(v.kinds.roundClosed).toBe(4);
    expect(JSON.parse(v.lines.at(-1)!)).toMatchObject({ kind: 'credit', round: 3, leases: 4, examples: 32 });
  });

  it('refuses to start on a tampered log, saying where; --fresh moves it aside', async () => {
    const d = dir();
    const a = await LedgerFile.open(d, { genesis: GENESIS, signer: COORDINATOR_KEY, fresh: false });
    for (const e of events(2)) a.record(e);
    a.close();
    const { entries } = ledgerPaths(d);
    writeFileSync(entries, readFileSync(entries, 'utf8').replace('"L1-0"', '"L1-9"'));
    await expect(LedgerFile.open(d, { genesis: GENESIS, signer: COORDINATOR_KEY, fresh: false })).rejects.toThrow(/does not verify: entries lines \d+–\d+ do not match the head signed on heads line 2/);
    const fresh = await LedgerFile.open(d, { genesis: GENESIS, signer: COORDINATOR_KEY, fresh: true });
    expect(fresh.size).toBe(1);
    fresh.close();
  });

  it('signs what came after the last head when it closes: no unsigned tail', async () => {
    const d = dir();
    const a = await LedgerFile.open(d, { genesis: GENESIS, signer: COORDINATOR_KEY, fresh: false });
    for (const e of events(2)) a.record(e);
    const signedSize = a.head!.size;
    // A result that arrives after the job's final head is refused as late: one more entry.
    a.record({ type: 'resultRejected', at: 2000, contributorId: 'c1', leaseId: 'L9-0', outcome: 'late', code: null, reason: 'the job has finished training', resultHash: hash(99), signature: 'A'.repeat(86) });
    expect(a.head!.size).toBe(signedSize);
    a.close();
    const v = await verifyLog(readFileSync(ledgerPaths(d).entries, 'utf8'), readFileSync(ledgerPaths(d).heads, 'utf8'), OPTIONS);
    expect(v.unsigned).toBe(0);
    expect(v.size).toBe(signedSize + 1);
    // Closing again after a restart with nothing new adds no head.
    const heads = readFileSync(ledgerPaths(d).heads, 'utf8');
    (await LedgerFile.open(d, { genesis: GENESIS, signer: COORDINATOR_KEY, fresh: false })).close();
    expect(readFileSync(ledgerPaths(d).heads, 'utf8')).toBe(heads);
  });

  it('refuses another job\'s log', async () => {
    const d = dir();
    (await LedgerFile.open(d, { genesis: GENESIS, signer: COORDINATOR_KEY, fresh: false })).close();
    await expect(LedgerFile.open(d, { genesis: { ...GENESIS, jobId: 'job-other' }, signer: COORDINATOR_KEY, fresh: false })).rejects.toThrow(/is for job job-ledger-test, not job-other/);
  });

  it('takes a key link under a head of its own, keeps the leaderboard across a restart, and recounts it offline', async () => {
    const d = dir();
    const [A, B] = [testKey(), testKey()];
    const a = await LedgerFile.open(d, { genesis: GENESIS, signer: COORDINATOR_KEY, fresh: false });
    for (const [id, key] of [['c1', A], ['c2', B]] as const) a.record({ type: 'joined', at: 1000, peer: `p-${id}`, contributorId: id, publicKey: key.publicKey, capabilities: capabilities(), resumed: false, team: 'Lab 1' });
    for (const e of events(2, 1)) a.record(e);
    // A tie: ranked by key, so the order is the same on every recount.
    expect(a.leaderboard().contributors.map((p) => [p.key, p.examples])).toEqual(
      [A.publicKey, B.publicKey].sort().map((key) => [key, 16]),
    );
    const body = { jobId: JOB, fromKey: A.publicKey, toKey: B.publicKey, issuedAt: 1500 };
    const sizeBefore = a.size;
    expect(() => a.linkKeys({ ...body, signature: B.sign(keyLinkStatement(body)) }, 2000)).toThrow(KeyLinkError);
    expect(a.size).toBe(sizeBefore);
    const taken = a.linkKeys({ ...body, signature: A.sign(keyLinkStatement(body)) }, 2000);
    expect(taken.index).toBe(sizeBefore);
    expect(taken.head.size).toBe(sizeBefore + 1);
    const board = a.leaderboard();
    expect(board.contributors.map((p) => [p.key, p.examples, p.team])).toEqual([[B.publicKey, 32, 'Lab 1']]);
    expect(board.teams).toEqual([{ rank: 1, team: 'Lab 1', members: 1, leases: 4, examples: 32 }]);
    a.close();
    const v = await verifyLog(readFileSync(ledgerPaths(d).entries, 'utf8'), readFileSync(ledgerPaths(d).heads, 'utf8'), OPTIONS);
    expect(v.kinds.keyLinked).toBe(1);
    expect(recountLeaderboard(JOB, v.lines, nodeVerifier, board.entries)).toEqual(board);
    const b = await LedgerFile.open(d, { genesis: GENESIS, signer: COORDINATOR_KEY, fresh: false });
    expect(b.leaderboard()).toEqual(board);
    expect(() => b.linkKeys({ ...body, issuedAt: 1501, signature: A.sign(keyLinkStatement({ ...body, issuedAt: 1501 })) }, 2100)).toThrow(/already hands its credit to/);
    b.close();

    // `npm run ledger -- leaderboard --expect`: what the API answered, recounted offline.
    const cli = (claimed: unknown) => {
      const path = join(d, 'leaderboard.json');
      writeFileSync(path, JSON.stringify(claimed));
      return spawnSync(process.execPath, ['--import', 'tsx', 'scripts/ledger.mts', 'leaderboard', ledgerPaths(d).entries, '--expect', path, '--key', COORDINATOR_KEY.publicKey], { encoding: 'utf8' });
    };
    const good = cli(board);
    expect(good.stdout).toContain(`ok: ${join(d, 'leaderboard.json')} matches the recount over the log's first ${board.entries} entries (1 contributor, 1 team)`);
    expect(good.status).toBe(0);
    const inflated = cli({ ...board, contributors: [{ ...board.contributors[0], examples: 320 }] });
    expect(inflated.status).toBe(1);
    expect(inflated.stderr).toContain('does not match the recount over the log\'s first');
    expect(inflated.stderr).toContain('contributors rank 1: it says {"rank":1');
  }, 30_000);
});
