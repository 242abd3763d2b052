// The coordinator's side of the ledger, without I/O: it turns events into entry lines, keeps
// the Merkle tree, signs tree heads and makes receipts. The host writes the lines and heads
// it returns (src/server/ledgerFile.ts) and sends the receipts.

import type { CoordinatorEvent } from '../coordinator/decisions.ts';
import type { SignedTreeHead } from '../protocol/messages.ts';
import { toHex, treeHeadStatement, type SyncSigner } from '../protocol/signing.ts';
import type { CreditBook } from './credit.ts';
import { entriesOf, entryLine, type GenesisEntry, type LedgerEntry, type LedgerEntryBody } from './entries.ts';
import { MerkleTree, type SyncHash } from './merkle.ts';

const encoder = new TextEncoder();

/** A receipt as the protocol's `receipt` message carries it. */
export interface ReceiptBody {
  leaseId: string;
  round: number;
  examples: number;
  index: number;
  entry: string;
  treeHead: SignedTreeHead;
  proof: string[];
}

export interface RoundLedger {
  /** New lines to append, in order. */
  lines: string[];
  /** Set when a round closed: the head to append, and one receipt per counted lease, by contributor. */
  head?: SignedTreeHead;
  receipts?: { contributorId: string; receipt: ReceiptBody }[];
}

export class LedgerWriter {
  private readonly tree: MerkleTree;
  /** resultAccepted entries of the open round, by lease: what its receipt will prove. */
  private readonly accepted = new Map<string, { index: number; line: string }>();
  private readonly credit = new Map<string, { leases: number; examples: number }>();
  private lastHead: SignedTreeHead | null = null;
  private lastAt = 0;

  /**
   * A writer continuing `existingLines` (already verified, see verifyLog), or a new log when
   * there are none: then its genesis entry is the first line returned by `start()`.
   */
  constructor(
    private readonly genesis: GenesisEntry,
    private readonly signer: SyncSigner,
    private readonly hash: SyncHash,
    existingLines: readonly string[] = [],
    lastHead: SignedTreeHead | null = null,
    /** Fed every entry, the existing ones and each new one, as it is appended (the leaderboard). */
    private readonly book: CreditBook | null = null,
  ) {
    this.tree = new MerkleTree(hash);
    for (const line of existingLines) {
      this.tree.append(encoder.encode(line));
      const entry = JSON.parse(line) as LedgerEntry;
      this.book?.add(entry);
      this.lastAt = entry.at;
      if (entry.kind === 'credit') this.credit.set(entry.contributorId, { leases: entry.leases, examples: entry.examples });
    }
    this.lastHead = lastHead;
  }

  get size(): number {
    return this.tree.size;
  }

  get head(): SignedTreeHead | null {
    return this.lastHead;
  }

  /** The genesis line of a new log (nothing for a continued one). */
  start(now: number): RoundLedger {
    if (this.tree.size > 0) return { lines: [] };
    return { lines: [this.add(now, this.genesis)] };
  }

  /** Record one coordinator event; when it closes a round, sign a head and make the round's receipts. */
  record(event: CoordinatorEvent): RoundLedger {
    const out: RoundLedger = { lines: [] };
    for (const body of entriesOf(event)) {
      const line = this.add(event.at, body);
      out.lines.push(line);
      if (body.kind === 'resultAccepted') this.accepted.set(body.leaseId, { index: this.tree.size - 1, line });
    }
    if (event.type === 'roundClosed') {
      const counted = new Map<string, { leases: number; examples: number }>();
      for (const l of event.record.leases) {
        const c = counted.get(l.contributorId) ?? { leases: 0, examples: 0 };
        c.leases++;
        c.examples += l.count;
        counted.set(l.contributorId, c);
      }
      for (const [contributorId, c] of counted) {
        const total = this.credit.get(contributorId) ?? { leases: 0, examples: 0 };
        total.leases += c.leases;
        total.examples += c.examples;
        this.credit.set(contributorId, total);
        out.lines.push(this.add(event.at, { kind: 'credit', contributorId, round: event.record.round, leases: total.leases, examples: total.examples }));
      }
      out.head = this.signHead(event.at);
      out.receipts = [];
      for (const l of event.record.leases) {
        const entry = this.accepted.get(l.leaseId);
        if (!entry) continue; // accepted by a previous process (restart mid-round): no entry to prove here
        out.receipts.push({ contributorId: l.contributorId, receipt: this.receipt(l.leaseId, event.record.round, l.count, entry.index, entry.line, out.head) });
      }
      this.accepted.clear();
    } else if (event.type === 'jobDone') {
      out.head = this.signHead(event.at); // the final head covers the whole run
      out.receipts = [];
    }
    return out;
  }

  /**
   * Record an entry that no coordinator event makes (a key link, which comes over HTTP) and
   * sign a head over it at once, so that it is covered as soon as it is taken.
   */
  recordEntry(at: number, body: LedgerEntryBody): { line: string; index: number; head: SignedTreeHead } {
    const line = this.add(at, body);
    return { line, index: this.tree.size - 1, head: this.signHead(at) };
  }

  /** Sign a head over everything appended so far. */
  signHead(now: number): SignedTreeHead {
    const size = this.tree.size;
    const rootHash = toHex(this.tree.root(size));
    const timestamp = Math.max(now, this.lastHead?.timestamp ?? 0);
    const signature = this.signer.sign(treeHeadStatement({ jobId: this.genesis.jobId, size, rootHash, timestamp }));
    this.lastHead = { size, rootHash, timestamp, signature };
    return this.lastHead;
  }

  /** Inclusion proof of entry `index` in the tree of `size` entries, hex. */
  inclusionProof(index: number, size = this.tree.size): string[] {
    return this.tree.inclusionProof(index, size).map(toHex);
  }

  consistencyProof(oldSize: number, newSize = this.tree.size): string[] {
    return this.tree.consistencyProof(oldSize, newSize).map(toHex);
  }

  private receipt(leaseId: string, round: number, examples: number, index: number, entry: string, head: SignedTreeHead): ReceiptBody {
    return { leaseId, round, examples, index, entry, treeHead: head, proof: this.inclusionProof(index, head.size) };
  }

  private add(at: number, body: LedgerEntryBody): string {
    // Entry times never go back (a wall clock may): the log's order is the truth, time a label.
    this.lastAt = Math.max(this.lastAt, at);
    const n = this.tree.size;
    const line = entryLine(n, this.lastAt, body);
    this.tree.append(encoder.encode(line));
    this.book?.add({ n, at: this.lastAt, ...body });
    return line;
  }
}
