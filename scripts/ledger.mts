// `npm run ledger -- …`: check a run's transparency log, the consistency of two signed tree
// heads, or a contributor's receipts, offline. Exit code 0 when everything verifies, 1 with a
// message that says where when something does not, 2 for a usage error.
//
//   npm run ledger -- verify runs/<job>/ledger.jsonl [--heads FILE] [--key ed25519:…]
//   npm run ledger -- consistency runs/<job>/ledger.jsonl OLD_HEAD.json NEW_HEAD.json [--key …]
//   npm run ledger -- receipts runs/<job>/ledger.jsonl RECEIPTS.json [--key …]
import { readFileSync, existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { verifyConsistency } from '../src/ledger/merkle.ts';
import { receiptProblem } from '../src/ledger/receipt.ts';
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
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { heads: { type: 'string' }, key: { type: 'string' }, help: { type: 'boolean' } } });
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
  throw new UsageError(`unknown command ${command}`);
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
