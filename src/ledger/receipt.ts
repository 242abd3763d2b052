// Checking a receipt, anywhere (the contributor's browser, the CLI): the entry it carries is
// the contributor's accepted result, the entry is in the tree at its index (RFC 6962
// inclusion proof), and the tree head is signed by the coordinator key.

import type { SignedTreeHead } from '../protocol/messages.ts';
import { fromHex, treeHeadStatement } from '../protocol/signing.ts';
import type { ReceiptBody } from './writer.ts';
import { leafHash, verifyInclusion, type AnyHash } from './merkle.ts';

export interface ReceiptExpectations {
  jobId: string;
  coordinatorKey: string;
  /** When given, the entry must name this contributor, and this result hash. */
  contributorId?: string;
  resultHash?: string;
}

export interface ReceiptChecks {
  hash: AnyHash;
  /** Signature check (WebCrypto's webVerify, or node:crypto's). */
  verify: (publicKey: string, data: Uint8Array, signature: string) => boolean | Promise<boolean>;
}

/** null when the receipt proves what it claims; otherwise what is wrong. */
export async function receiptProblem(r: ReceiptBody, expected: ReceiptExpectations, checks: ReceiptChecks): Promise<string | null> {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(r.entry) as Record<string, unknown>;
  } catch {
    return 'its entry is not JSON';
  }
  if (entry.kind !== 'resultAccepted') return `its entry is a ${String(entry.kind)} entry, not an accepted result`;
  if (entry.n !== r.index) return `its entry says it is entry ${String(entry.n)}, the receipt says ${r.index}`;
  if (entry.leaseId !== r.leaseId) return `its entry is for lease ${String(entry.leaseId)}, not ${r.leaseId}`;
  if (expected.contributorId !== undefined && entry.contributorId !== expected.contributorId) return `its entry credits ${String(entry.contributorId)}, not ${expected.contributorId}`;
  if (expected.resultHash !== undefined && entry.resultHash !== expected.resultHash) return 'its entry records another result hash than the one sent';
  if (!(await headSigned(r.treeHead, expected, checks))) return 'its tree head is not signed by the coordinator key';
  const leaf = await leafHash(checks.hash, new TextEncoder().encode(r.entry));
  const included = await verifyInclusion(checks.hash, r.index, r.treeHead.size, leaf, r.proof.map(fromHex), fromHex(r.treeHead.rootHash));
  return included ? null : `the inclusion proof does not lead from entry ${r.index} to the signed root`;
}

export async function headSigned(head: SignedTreeHead, expected: Pick<ReceiptExpectations, 'jobId' | 'coordinatorKey'>, checks: Pick<ReceiptChecks, 'verify'>): Promise<boolean> {
  return checks.verify(expected.coordinatorKey, treeHeadStatement({ jobId: expected.jobId, ...head }), head.signature);
}
