// `npm run ledger -- …`: check a run's transparency log, the consistency of two signed tree
// heads, or a contributor's receipts, offline. Exit code 0 when everything verifies, 1 with a
// message that says where when something does not, 2 for a usage error.
//
//   npm run ledger -- verify runs/<job>/ledger.jsonl [--heads FILE] [--key ed25519:…]
//   npm run ledger -- consistency runs/<job>/ledger.jsonl OLD_HEAD.json NEW_HEAD.json [--key …]
//   npm run ledger -- receipts runs/<job>/ledger.jsonl RECEIPTS.json [--key …]
//   npm run ledger -- leaderboard runs/<job>/ledger.jsonl [--expect LEADERBOARD.json] [--key …]
import { readFileSync, existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { verifyConsistency } from '../src/ledger/merkle.ts';
import { receiptProblem } from '../src/ledger/receipt.ts';
import { recountLeaderboard, type Leaderboard } from '../src/ledger/credit.ts';
import { isDeepStrictEqual } from 'node:util';
import { LedgerError, verifyLog, type VerifiedLog } from '../src/ledger/verify.ts';
import type { ReceiptBody } from '../src/ledger/writer.ts';
import { MerkleTree } from '../src/ledger/merkle.ts';
import { SignedTreeHead } from '../src/protocol/messages.ts';
import { fromHex, toHex, treeHeadStatement } from '../src/protocol/signing.ts';
import { nodeVerifier } from '../src/server/nodeSigning.ts';
import { sha256 } from '../src/server/ledgerFile.ts';

const USAGE = `usage:
  npm run ledger -- verify LOG [--heads HEADS] [--key PUBLIC_KEY]
  npm run ledger -- consistency LOG OLD_HEAD.json NEW_HEAD.json [--heads HEADS] [--key PUBLIC_KEY]
  npm run ledger -- receipts LOG RECEIPTS.json [--heads HEADS] [--key PUBLIC_KEY]
  npm run ledger -- leaderboard LOG [--expect LEADERBOARD.json] [--json] [--heads HEADS] [--key PUBLIC_KEY]
LEADERBOARD.json is what /api/leaderboard answered: the recount over as many entries must equal it.
LOG is runs/<job>/ledger.jsonl; HEADS defaults to the ledger-heads.jsonl beside it.`;

class UsageError extends Error {}

function read(path: string, what: string): string {
  if (!existsSync(path)) throw new UsageError(`${what} ${path} does not exist`);
  return readFileSync(path, 'utf8');
}

async function load(log: string, heads: string | undefined, key: string | undefined): Promise<VerifiedLog> {
  const headsPath = heads ?? log.replace(/ledger\.jsonl$/, 'ledger-heads.jsonl');
  const verified = await verifyLog(read(log, 'the log'), existsSync(headsPath) ? readFileSync(headsPath, 'utf8') : '', { hash: sha256, verifier: nodeVerifier, expectedKey: key });
  if (!key) console.log(`note: no --key given; checked against the key the log names itself (${verified.genesis.coordinatorKey}). Pass the key you trust to pin it.`);
  return verified;
}

function parseHead(path: string): SignedTreeHead {
  const parsed = SignedTreeHead.safeParse(JSON.parse(read(path, 'the head')));
  if (!parsed.success) throw new UsageError(`${path} is not a signed tree head: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { heads: { type: 'string' }, key: { type: 'string' }, expect: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } } });
  const [command, log, ...rest] = positionals;
  if (values.help || !command || !log) throw new UsageError('');
  if (command === 'verify') {
    const v = await load(log, values.heads, values.key);
    console.log(`ok: ${v.size} entries for job ${v.genesis.jobId} ("${v.genesis.jobName}"), root ${v.rootHash}`);
    console.log(`    ${v.heads.length} signed tree heads, each matching the entries and consistent with the one before; the last covers ${v.heads.at(-1)?.size ?? 0} entries`);
    if (v.unsigned) console.log(`    ${v.unsigned} entries after the last signed head (not covered by a signature yet)`);
    if (v.tornTail !== null) console.log(`    the last line is cut short (${v.tornTail.length} bytes, a crash while writing; never signed)`);
    console.log(`    entries by kind: ${Object.entries(v.kinds).map(([k, n]) => `${k} ${n}`).join(', ')}`);
    return 0;
  }
  if (command === 'consistency') {
    if (rest.length !== 2) throw new UsageError('consistency needs two head files');
    const v = await load(log, values.heads, values.key);
    const [a, b] = rest.map(parseHead);
    for (const [h, path] of [[a, rest[0]], [b, rest[1]]] as const) {
      if (!nodeVerifier.verify(v.genesis.coordinatorKey, treeHeadStatement({ jobId: v.genesis.jobId, ...h }), h.signature)) {
        console.error(`FAIL: ${path}: the head's signature does not verify with ${v.genesis.coordinatorKey}`);
        return 1;
      }
    }
    const [old, young] = a.size <= b.size ? [a, b] : [b, a];
    if (young.size > v.size) {
      console.error(`FAIL: a head covers ${young.size} entries, the log has only ${v.size}`);
      return 1;
    }
    const tree = new MerkleTree(sha256);
    for (const line of v.lines) tree.append(new TextEncoder().encode(line));
    const proof = tree.consistencyProof(old.size, young.size);
    const ok = await verifyConsistency(sha256, old.size, young.size, fromHex(old.rootHash), fromHex(young.rootHash), proof);
    if (!ok) {
      const rootOld = toHex(tree.root(old.size));
      console.error(`FAIL: the heads of size ${old.size} and ${young.size} are not consistent (the log's root at ${old.size} is ${rootOld}, the head says ${old.rootHash})`);
      return 1;
    }
    console.log(`ok: the head of size ${old.size} is a prefix of the head of size ${young.size} (consistency proof of ${proof.length} hashes:)`);
    for (const p of proof) console.log(`    ${toHex(p)}`);
    return 0;
  }
  if (command === 'receipts') {
    if (rest.length !== 1) throw new UsageError('receipts needs one receipts file');
    const v = await load(log, values.heads, values.key);
    const file = JSON.parse(read(rest[0], 'the receipts file')) as { contributorId?: string; receipts?: ReceiptBody[] };
    const receipts = file.receipts ?? [];
    let bad = 0;
    for (const [i, r] of receipts.entries()) {
      const problem = await receiptProblem(r, { jobId: v.genesis.jobId, coordinatorKey: v.genesis.coordinatorKey, contributorId: file.contributorId }, { hash: sha256, verify: nodeVerifier.verify });
      const inLog = v.lines[r.index] === r.entry;
      if (problem || !inLog) {
        bad++;
        console.error(`FAIL: receipt ${i + 1} (lease ${r.leaseId}): ${problem ?? `entry ${r.index} of the log is not the receipt's entry`}`);
      }
    }
    console.log(`${receipts.length - bad} of ${receipts.length} receipts verify${file.contributorId ? ` for ${file.contributorId}` : ''}`);
    return bad ? 1 : 0;
  }
  if (command === 'leaderboard') {
    if (rest.length) throw new UsageError('leaderboard takes one log');
    const v = await load(log, values.heads, values.key);
    const expected = values.expect ? parseLeaderboard(values.expect) : null;
    const upTo = expected ? expected.entries : v.size;
    if (upTo > v.size) {
      console.error(`FAIL: ${values.expect} counts ${upTo} entries, the log has only ${v.size}`);
      return 1;
    }
    let board: Leaderboard;
    try {
      board = recountLeaderboard(v.genesis.jobId, v.lines, nodeVerifier, upTo);
    } catch (error) {
      console.error(`FAIL: ${(error as Error).message}`);
      return 1;
    }
    if (values.json) console.log(JSON.stringify(board, null, 2));
    else printLeaderboard(board, v.size);
    if (!expected) return 0;
    const difference = firstDifference(expected, board);
    if (difference) {
      console.error(`FAIL: ${values.expect} does not match the recount over the log's first ${upTo} entries: ${difference}`);
      return 1;
    }
    console.log(`ok: ${values.expect} matches the recount over the log's first ${upTo} entries (${plural(board.contributors.length, 'contributor')}, ${plural(board.teams.length, 'team')})`);
    return 0;
  }
  throw new UsageError(`unknown command ${command}`);
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function parseLeaderboard(path: string): Leaderboard {
  let value: Partial<Leaderboard>;
  try {
    value = JSON.parse(read(path, 'the leaderboard file')) as Partial<Leaderboard>;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`${path} is not JSON: ${(error as Error).message}`);
  }
  if (!Number.isInteger(value.entries) || !Array.isArray(value.contributors) || !Array.isArray(value.teams)) {
    throw new UsageError(`${path} is not a leaderboard: it needs entries, contributors and teams, as /api/leaderboard answers`);
  }
  return value as Leaderboard;
}

/** Where two leaderboards first differ, in words, or null when they are the same. */
function firstDifference(claimed: Leaderboard, recount: Leaderboard): string | null {
  if (claimed.jobId !== recount.jobId) return `it is for job ${claimed.jobId}, the log for ${recount.jobId}`;
  for (const part of ['contributors', 'teams'] as const) {
    const a: unknown[] = claimed[part];
    const b: unknown[] = recount[part];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (!isDeepStrictEqual(a[i], b[i])) return `${part} rank ${i + 1}: it says ${JSON.stringify(a[i] ?? null)}, the recount ${JSON.stringify(b[i] ?? null)}`;
    }
  }
  return isDeepStrictEqual(claimed, recount) ? null : 'a field outside the rankings differs';
}

function printLeaderboard(board: Leaderboard, logSize: number): void {
  console.log(`leaderboard of job ${board.jobId}, recounted from the first ${board.entries} of ${logSize} entries:`);
  for (const p of board.contributors) {
    const keys = p.keys.length > 1 ? ` (${p.keys.length} keys linked)` : '';
    console.log(`  ${String(p.rank).padStart(3)}. ${p.key.slice(0, 24)}…${keys}  ${p.examples} examples in ${p.leases} results${p.team ? `  team "${p.team}"` : ''}  [${p.contributorIds.join(', ')}]`);
  }
  if (!board.contributors.length) console.log('  (nobody has credit yet)');
  if (board.teams.length) console.log('teams:');
  for (const t of board.teams) console.log(`  ${String(t.rank).padStart(3)}. "${t.team}"  ${t.examples} examples in ${t.leases} results, ${t.members} member${t.members === 1 ? '' : 's'}`);
}

main().then(
  (code) => process.exit(code),
  (error) => {
    if (error instanceof UsageError) {
      if (error.message) console.error(error.message);
      console.error(USAGE);
      process.exit(2);
    }
    if (error instanceof LedgerError) {
      console.error(`FAIL: ${error.message}`);
      process.exit(1);
    }
    console.error(error);
    process.exit(1);
  },
);
