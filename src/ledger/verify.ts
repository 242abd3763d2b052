// Checking a ledger end to end, as the CLI and a restarting coordinator do: every line is a
// well-formed entry with the next index, entry 0 names the job and the key, every signed tree
// head verifies with that key and matches the root recomputed from the entries, heads only
// grow, and each head is consistent with the one before (an RFC 6962 consistency proof is
// built from the entries and checked). Every failure names the line it found wrong.

import type { SignedTreeHead } from '../protocol/messages.ts';
import { fromHex, toHex, treeHeadStatement, type SyncVerifier } from '../protocol/signing.ts';
import { ENTRY_KINDS, type GenesisEntry } from './entries.ts';
import { MerkleTree, verifyConsistency, type SyncHash } from './merkle.ts';

export class LedgerError extends Error {
  constructor(
    message: string,
    /** Which file, and its 1-based line, where known. */
    readonly file: 'entries' | 'heads',
    readonly line: number | null,
  ) {
    super(message);
  }
}

export interface VerifiedLog {
  genesis: GenesisEntry;
  /** Entry lines, without newlines. */
  lines: string[];
  heads: SignedTreeHead[];
  size: number;
  rootHash: string;
  kinds: Record<string, number>;
  /** A last line cut short (no newline) after the last signed head: a crash while writing. Not part of `lines`. */
  tornTail: string | null;
  /** Entries after the last signed head (not yet covered by a signature). */
  unsigned: number;
}

export interface VerifyOptions {
  hash: SyncHash;
  verifier: Pick<SyncVerifier, 'verify'>;
  /** The coordinator key the log must be signed with; without it, the key named by entry 0 is used (and reported). */
  expectedKey?: string;
}

function splitLines(text: string): { lines: string[]; torn: string | null } {
  const parts = text.split('\n');
  const last = parts.pop()!;
  return { lines: parts, torn: last === '' ? null : last };
}

function parseLine(line: string, file: 'entries' | 'heads', lineNo: number): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new LedgerError(`${file} line ${lineNo}: not valid JSON (${(error as Error).message}): the line was altered or cut`, file, lineNo);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new LedgerError(`${file} line ${lineNo}: not a JSON object`, file, lineNo);
  return value as Record<string, unknown>;
}

/** Verify a ledger from the texts of its entries file and its heads file. Throws a LedgerError that says where. */
export async function verifyLog(entriesText: string, headsText: string, options: VerifyOptions): Promise<VerifiedLog> {
  const { hash, verifier } = options;
  const encoder = new TextEncoder();
  const { lines, torn } = splitLines(entriesText);
  const tree = new MerkleTree(hash);
  const kinds: Record<string, number> = {};
  let genesis: GenesisEntry | null = null;
  let previousAt = -Infinity;
  lines.forEach((line, i) => {
    const lineNo = i + 1;
    const entry = parseLine(line, 'entries', lineNo);
    if (entry.n !== i) {
      throw new LedgerError(
        `entries line ${lineNo} holds entry n=${JSON.stringify(entry.n)}, expected ${i}: entries were removed, duplicated or reordered here`,
        'entries',
        lineNo,
      );
    }
    const kind = entry.kind as string;
    if (!(ENTRY_KINDS as readonly string[]).includes(kind)) throw new LedgerError(`entries line ${lineNo}: unknown entry kind ${JSON.stringify(kind)}`, 'entries', lineNo);
    if ((i === 0) !== (kind === 'log')) throw new LedgerError(`entries line ${lineNo}: ${i === 0 ? 'the first entry must be the log entry naming the job and key' : 'a second log entry'}`, 'entries', lineNo);
    if (typeof entry.at !== 'number' || entry.at < previousAt) throw new LedgerError(`entries line ${lineNo}: time ${JSON.stringify(entry.at)} goes back from ${previousAt}`, 'entries', lineNo);
    previousAt = entry.at;
    if (i === 0) {
      if (typeof entry.jobId !== 'string' || typeof entry.coordinatorKey !== 'string') throw new LedgerError('entries line 1: the log entry lacks jobId or coordinatorKey', 'entries', 1);
      genesis = { kind: 'log', jobId: entry.jobId, jobName: String(entry.jobName ?? ''), coordinatorKey: entry.coordinatorKey };
    }
    kinds[kind] = (kinds[kind] ?? 0) + 1;
    tree.append(encoder.encode(line));
  });
  if (!genesis) throw new LedgerError('entries: the log is empty', 'entries', null);
  const g = genesis as GenesisEntry;
  if (options.expectedKey && options.expectedKey !== g.coordinatorKey) {
    throw new LedgerError(`entries line 1: the log names coordinator key ${g.coordinatorKey}, not the expected ${options.expectedKey}`, 'entries', 1);
  }

  const heads: SignedTreeHead[] = [];
  const headLines = splitLines(headsText);
  if (headLines.torn !== null) throw new LedgerError(`heads line ${headLines.lines.length + 1}: cut short (no newline at the end)`, 'heads', headLines.lines.length + 1);
  let previous: SignedTreeHead | null = null;
  for (const [i, line] of headLines.lines.entries()) {
    const lineNo = i + 1;
    const h = parseLine(line, 'heads', lineNo);
    const { size, rootHash, timestamp, signature } = h as unknown as SignedTreeHead;
    if (!Number.isInteger(size) || typeof rootHash !== 'string' || typeof timestamp !== 'number' || typeof signature !== 'string') {
      throw new LedgerError(`heads line ${lineNo}: a head needs size, rootHash, timestamp and signature`, 'heads', lineNo);
    }
    if (!verifier.verify(g.coordinatorKey, treeHeadStatement({ jobId: g.jobId, size, rootHash, timestamp }), signature)) {
      throw new LedgerError(`heads line ${lineNo}: the signature of the head of size ${size} does not verify with coordinator key ${g.coordinatorKey}`, 'heads', lineNo);
    }
    if (previous && (size < previous.size || timestamp < previous.timestamp)) {
      throw new LedgerError(`heads line ${lineNo}: head of size ${size} at ${timestamp} comes after one of size ${previous.size} at ${previous.timestamp}: heads must only grow`, 'heads', lineNo);
    }
    if (size > tree.size) {
      throw new LedgerError(`heads line ${lineNo}: the signed head covers ${size} entries but the log has ${tree.size}: entries after line ${tree.size} were removed`, 'entries', tree.size + 1);
    }
    const actual = toHex(tree.root(size));
    if (actual !== rootHash) {
      const from = (previous?.size ?? 0) + 1;
      throw new LedgerError(
        `entries lines ${from}–${size} do not match the head signed on heads line ${lineNo} (size ${size}: signed root ${rootHash}, recomputed ${actual})` +
          (previous ? `; lines 1–${previous.size} match the head before it` : '') +
          ': an entry in that range was altered, inserted, removed or reordered',
        'entries',
        from,
      );
    }
    if (previous) {
      const proof = tree.consistencyProof(previous.size, size);
      // Checked with the RFC's verifier: what a holder of only the two heads would be shown.
      const ok = await verifyConsistency(hash, previous.size, size, fromHex(previous.rootHash), fromHex(rootHash), proof);
      if (!ok) throw new LedgerError(`heads line ${lineNo}: not consistent with the head on line ${lineNo - 1}`, 'heads', lineNo);
    }
    heads.push({ size, rootHash, timestamp, signature });
    previous = heads[heads.length - 1];
  }
  const lastSize = heads.length ? heads[heads.length - 1].size : 0;
  return {
    genesis: g,
    lines,
    heads,
    size: tree.size,
    rootHash: toHex(tree.root()),
    kinds,
    tornTail: torn,
    unsigned: tree.size - lastSize,
  };
}
