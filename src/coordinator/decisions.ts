// What the coordinator's state machine returns for every input: messages to send, peers to
// disconnect, and events for the dashboard and the ledger. The host carries them out in order.

import type { VerificationCheck } from './verification.ts';
import type { Capabilities, CoordinatorMessage, ErrorCode } from '../protocol/messages.ts';
import type { CheckpointState, RoundRecord } from './records.ts';
import type { PositionRange } from './ranges.ts';

export interface SendDecision {
  to: string;
  /** Tensors may be shared between messages and events: encode them, never write to them. */
  message: CoordinatorMessage;
}

/**
 * Close this peer's connection once the sends before it are flushed: the error message that
 * says why is already among them. The coordinator has forgotten the peer; call leave() when
 * the connection is closed (it is then a no-op).
 */
export interface DisconnectDecision {
  peer: string;
  /** Why, when the peer broke the protocol; null for an ordinary close (bye, the peer's own fatal error). */
  code: ErrorCode | null;
  reason: string;
}

/** Why a result was not counted. */
export type UncountedOutcome = 'rejected' | 'duplicate' | 'late' | 'stale';

export type StopReason = 'epochs' | 'rounds' | 'target-accuracy' | 'target-loss' | 'diverged';

export type CoordinatorEvent =
  | { type: 'joined'; at: number; peer: string; contributorId: string; publicKey: string; capabilities: Capabilities; resumed: boolean; team?: string; note?: string }
  | { type: 'left'; at: number; peer: string; contributorId: string | null; reason: string; returnedLeases: string[] }
  | { type: 'availability'; at: number; contributorId: string; paused: boolean }
  | {
      type: 'leaseGranted';
      at: number;
      contributorId: string;
      leaseId: string;
      round: number;
      version: number;
      ranges: PositionRange[];
      count: number;
      deadline: number;
    }
  | { type: 'leaseExpired'; at: number; contributorId: string; leaseId: string; round: number; count: number }
  /** An expired lease's late result was counted; these leases held the same examples and no longer count. */
  | { type: 'leaseRevoked'; at: number; contributorId: string; leaseId: string; round: number; byLease: string }
  | { type: 'leaseFailed'; at: number; contributorId: string; leaseId: string; reason: string; returned: number }
  /** The result as its contributor signed it: resultHash and signature let anyone check who vouched for what (the ledger keeps them). */
  | {
      type: 'resultAccepted';
      at: number;
      contributorId: string;
      leaseId: string;
      round: number;
      version: number;
      count: number;
      loss: number;
      afterExpiry: boolean;
      /** What the contributor reports it spent computing (the run status's compute share). */
      computeMs: number;
      resultHash: string;
      signature: string;
    }
  | {
      type: 'resultRejected';
      at: number;
      contributorId: string;
      leaseId: string;
      outcome: UncountedOutcome;
      code: ErrorCode | null;
      reason: string;
      resultHash: string;
      signature: string;
      /** Set when verification refused it: which check (screening flag, or a protocol-level cheat). */
      check?: VerificationCheck;
    }
  /** A key was caught cheating: banned for the rest of the job; its accepted results of the open round were discarded (their examples are recomputed). */
  | { type: 'contributorBanned'; at: number; contributorId: string; publicKey: string; reason: string; check: VerificationCheck; discardedLeases: string[] }
  /** An accepted result of the open round was taken back before the round closed (a suspect direction without a spot checker): its examples are recomputed. */
  | { type: 'resultDiscarded'; at: number; contributorId: string; leaseId: string; round: number; check: VerificationCheck; reason: string }
  /** A suspect result's examples were recomputed by another key with the same result: both stand. */
  | { type: 'replicaAgreed'; at: number; leaseId: string; contributorId: string; withLeaseId: string; withContributorId: string }
  /** A result was recomputed by the host's CPU reference; distance = ‖g − ref‖ / ‖ref‖. A failed check bans (contributorBanned follows) unless its distance is in the checker's inconclusive band (the work goes to replication). */
  | { type: 'spotChecked'; at: number; contributorId: string; leaseId: string; count: number; trigger: 'sample' | 'probation' | 'direction' | 'norm'; distance: number; passed: boolean }
  /** The peer broke the protocol or sent an error of its own. */
  | { type: 'peerError'; at: number; peer: string; contributorId: string | null; code: ErrorCode; message: string; fromPeer: boolean }
  | {
      type: 'roundClosed';
      at: number;
      record: RoundRecord;
      /** Parameter version after the round's step. */
      newVersion: number;
      contributors: number;
      durationMs: number;
      examplesPerSecond: number;
    }
  /** Evaluate these parameters on the test set, then call recordEvaluation(version, …). */
  | { type: 'evaluate'; at: number; version: number; params: Float32Array; final: boolean }
  /** Write this state (serializeCheckpoint + writeCheckpoint). */
  | { type: 'checkpoint'; at: number; round: number; state: CheckpointState }
  | {
      type: 'jobDone';
      at: number;
      reason: StopReason;
      message: string;
      /** The final model: the version whose evaluation ended the job (or the last, for 'diverged'). */
      version: number;
      params: Float32Array;
      testAccuracy: number | null;
      /** The mean loss of that evaluation, or null (for 'diverged'). */
      testLoss: number | null;
    }
  /** A bug inside the coordinator while handling this peer's input: reported, never hidden. */
  | { type: 'internalError'; at: number; peer: string | null; message: string; stack: string | null };

export interface Decisions {
  send: SendDecision[];
  disconnect: DisconnectDecision[];
  events: CoordinatorEvent[];
}

export function noDecisions(): Decisions {
  return { send: [], disconnect: [], events: [] };
}
