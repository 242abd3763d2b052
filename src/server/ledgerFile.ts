// The ledger on disk: `ledger.jsonl` (one entry per line; the line's bytes are the Merkle
// leaf) and `ledger-heads.jsonl` (one signed tree head per line: one per closed round, one at
// the end of the job, one at close over anything after the last). Both only ever grow. At start an existing log is verified end to end and continued; a log that
// fails verification stops the server with the message that says where.

import { createHash } from 'node:crypto';
import { closeSync, existsSync, fdatasyncSync, openSync, readFileSync, renameSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { CoordinatorEvent } from '../coordinator/decisions.ts';
import { CreditBook, type Leaderboard } from '../ledger/credit.ts';
import type { GenesisEntry } from '../ledger/entries.ts';
import { verifyLog } from '../ledger/verify.ts';
import { LedgerWriter, type ReceiptBody } from '../ledger/writer.ts';
import type { KeyLink, SignedTreeHead } from '../protocol/messages.ts';
import type { SyncSigner } from '../protocol/signing.ts';
import { nodeVerifier } from './nodeSigning.ts';

export const sha256 = (data: Uint8Array) => new Uint8Array(createHash('sha256').update(data).digest());

export function ledgerPaths(dir: string): { entries: string; heads: string } {
  return { entries: join(dir, 'ledger.jsonl'), heads: join(dir, 'ledger-heads.jsonl') };
}

export class LedgerFile {
  private constructor(
    private readonly writer: LedgerWriter,
    /** The credit of everything written (the writer feeds it), for the leaderboard and for checking key links. */
    private readonly book: CreditBook,
    private readonly entriesFd: number,
    private readonly headsFd: number,
  ) {}

  /** Open (verify and continue) or create the ledger in `dir`; with `fresh`, an existing one is renamed aside first. */
  static async open(dir: string, options: { genesis: GenesisEntry; signer: SyncSigner; fresh: boolean; log?: (line: string) => void }): Promise<LedgerFile> {
    const paths = ledgerPaths(dir);
    const exists = existsSync(paths.entries);
    if (exists && options.fresh) {
      const stamp = Date.now();
      renameSync(paths.entries, `${paths.entries}.${stamp}`);
      if (existsSync(paths.heads)) renameSync(paths.heads, `${paths.heads}.${stamp}`);
    }
    const book = new CreditBook(options.genesis.jobId, nodeVerifier);
    let writer: LedgerWriter;
    if (exists && !options.fresh) {
      const entriesText = readFileSync(paths.entries, 'utf8');
      const headsText = existsSync(paths.heads) ? readFileSync(paths.heads, 'utf8') : '';
      let verified;
      try {
        verified = await verifyLog(entriesText, headsText, { hash: sha256, verifier: nodeVerifier, expectedKey: options.signer.publicKey });
      } catch (error) {
        throw new Error(`The ledger ${paths.entries} does not verify: ${(error as Error).message}. Move it away (or start with --fresh) to begin a new one.`);
      }
      if (verified.genesis.jobId !== options.genesis.jobId) {
        throw new Error(`The ledger ${paths.entries} is for job ${verified.genesis.jobId}, not ${options.genesis.jobId}; use another --out or --fresh`);
      }
      if (verified.tornTail !== null) {
        // A crash cut the last line while it was written; it was never covered by a signed head.
        truncateSync(paths.entries, Buffer.byteLength(entriesText) - Buffer.byteLength(verified.tornTail));
        options.log?.(`ledger: dropped a last entry cut short by a crash (${verified.tornTail.length} bytes, never signed)`);
      }
      writer = new LedgerWriter(options.genesis, options.signer, sha256, verified.lines, verified.heads.at(-1) ?? null, book);
      options.log?.(`ledger: continuing ${paths.entries} (${verified.size} entries, ${verified.heads.length} signed heads, verified)`);
    } else {
      writer = new LedgerWriter(options.genesis, options.signer, sha256, [], null, book);
    }
    const file = new LedgerFile(writer, book, openSync(paths.entries, 'a'), openSync(paths.heads, 'a'));
    file.write(writer.start(Date.now()).lines);
    return file;
  }

  get head(): SignedTreeHead | null {
    return this.writer.head;
  }

  get size(): number {
    return this.writer.size;
  }

  /** Append what an event makes; when it closes a round, write the signed head (synced to disk) and return the receipts to send. */
  record(event: CoordinatorEvent): { contributorId: string; receipt: ReceiptBody }[] {
    const out = this.writer.record(event);
    this.write(out.lines);
    if (!out.head) return [];
    this.writeHead(out.head);
    return out.receipts ?? [];
  }

  /** Verified credit by person and team, from what this log holds (see src/ledger/credit.ts). */
  leaderboard(): Leaderboard {
    return this.book.leaderboard();
  }

  /**
   * Take a key link: checked against the log (a KeyLinkError says why not and nothing is
   * written), then recorded and covered by a signed head at once.
   */
  linkKeys(link: KeyLink, now = Date.now()): { index: number; head: SignedTreeHead } {
    this.book.checkLink(link, now);
    const { line, index, head } = this.writer.recordEntry(now, { kind: 'keyLinked', fromKey: link.fromKey, toKey: link.toKey, issuedAt: link.issuedAt, signature: link.signature });
    this.write([line]);
    this.writeHead(head);
    return { index, head };
  }

  consistencyProof(oldSize: number, newSize?: number): string[] {
    return this.writer.consistencyProof(oldSize, newSize);
  }

  /**
   * Close the files. What was appended since the last signed head (a late result refused after
   * the job's final head, a contributor that joined mid-round before a shutdown) gets a head of
   * its own first, so a log closed in order has no unsigned tail.
   */
  close(now = Date.now()): void {
    if (this.writer.size > (this.writer.head?.size ?? 0)) this.writeHead(this.writer.signHead(now));
    closeSync(this.entriesFd);
    closeSync(this.headsFd);
  }

  private writeHead(head: SignedTreeHead): void {
    fdatasyncSync(this.entriesFd);
    writeSync(this.headsFd, `${JSON.stringify(head)}\n`);
    fdatasyncSync(this.headsFd);
  }

  private write(lines: string[]): void {
    if (lines.length) writeSync(this.entriesFd, lines.map((l) => `${l}\n`).join(''));
  }
}
