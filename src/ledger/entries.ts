// What the ledger records: one entry per line of `ledger.jsonl`, the line's exact UTF-8 bytes
// being the Merkle leaf. Entry 0 names the job and the coordinator key; then, in the order
// the coordinator decided them: contributors joining (with their keys), leases granted,
// results accepted or rejected (with the contributor's result hash and signature, and why),
// bans, closed rounds with the leases they counted, and credit; and key links, as they come.

import type { CoordinatorEvent } from '../coordinator/decisions.ts';

export interface GenesisEntry {
  kind: 'log';
  jobId: string;
  jobName: string;
  coordinatorKey: string;
}

export type LedgerEntryBody =
  | GenesisEntry
  /** `team` only when the contributor named one (src/protocol/team.ts). */
  | { kind: 'joined'; contributorId: string; publicKey: string; backend: string; device: string; resumed: boolean; team?: string }
  | { kind: 'leaseGranted'; contributorId: string; leaseId: string; round: number; version: number; count: number }
  | { kind: 'resultAccepted'; contributorId: string; leaseId: string; round: number; version: number; count: number; resultHash: string; signature: string }
  | { kind: 'resultRejected'; contributorId: string; leaseId: string; outcome: string; code: string | null; reason: string; resultHash: string; signature: string }
  /** An accepted result that a later check took out of its round before it closed (its examples were recomputed by others). */
  | { kind: 'resultDiscarded'; contributorId: string; leaseId: string; round: number; reason: string }
  | { kind: 'banned'; contributorId: string; publicKey: string; reason: string }
  | { kind: 'roundClosed'; round: number; version: number; examples: number; leases: string[] }
  /** Credit of one contributor after a round it was counted in: leases and examples in closed rounds, all time. */
  | { kind: 'credit'; contributorId: string; round: number; leases: number; examples: number }
  /** A key handed its credit on to another (src/ledger/credit.ts checks it, here and offline): the signed statement, as received. */
  | { kind: 'keyLinked'; fromKey: string; toKey: string; issuedAt: number; signature: string };

export type LedgerEntry = LedgerEntryBody & { n: number; at: number };

export const ENTRY_KINDS = ['log', 'joined', 'leaseGranted', 'resultAccepted', 'resultRejected', 'resultDiscarded', 'banned', 'roundClosed', 'credit', 'keyLinked'] as const;

/** The exact line of an entry: `n` and `at` first, then its fields in a fixed order. */
export function entryLine(n: number, at: number, body: LedgerEntryBody): string {
  return JSON.stringify({ n, at, ...body });
}

/**
 * The entries a coordinator event makes (most make none). Credit entries come from the
 * host, which knows the running totals (see LedgerWriter).
 */
export function entriesOf(event: CoordinatorEvent): LedgerEntryBody[] {
  switch (event.type) {
    case 'joined':
      return [
        {
          kind: 'joined',
          contributorId: event.contributorId,
          publicKey: event.publicKey,
          backend: event.capabilities.backend,
          device: event.capabilities.device,
          resumed: event.resumed,
          ...(event.team ? { team: event.team } : {}),
        },
      ];
    case 'leaseGranted':
      return [{ kind: 'leaseGranted', contributorId: event.contributorId, leaseId: event.leaseId, round: event.round, version: event.version, count: event.count }];
    case 'resultAccepted':
      return [{ kind: 'resultAccepted', contributorId: event.contributorId, leaseId: event.leaseId, round: event.round, version: event.version, count: event.count, resultHash: event.resultHash, signature: event.signature }];
    case 'resultRejected':
      return [{ kind: 'resultRejected', contributorId: event.contributorId, leaseId: event.leaseId, outcome: event.outcome, code: event.code, reason: event.reason, resultHash: event.resultHash, signature: event.signature }];
    case 'roundClosed':
      return [{ kind: 'roundClosed', round: event.record.round, version: event.newVersion, examples: event.record.examples, leases: event.record.leases.map((l) => l.leaseId) }];
    case 'contributorBanned':
      return [{ kind: 'banned', contributorId: event.contributorId, publicKey: event.publicKey, reason: `${event.check}: ${event.reason}` }];
    case 'resultDiscarded':
      return [{ kind: 'resultDiscarded', contributorId: event.contributorId, leaseId: event.leaseId, round: event.round, reason: `${event.check}: ${event.reason}` }];
    default:
      return [];
  }
}
