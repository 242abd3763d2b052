// The checks of a result that need nothing but the message and its sender's key: its hash
// matches its data, its signature verifies with the key, and its update decodes to finite
// values of the model's length. They are most of a result's cost on the coordinator (a hash
// of the whole payload, an Ed25519 verification, a decode), and pure, so the host can run
// them in worker threads (server/resultCheckPool.ts) and hand the outcome to
// Coordinator.receive; without a pool the coordinator runs the same function inline.

import { CompressionError } from '../compression/index.ts';
import type { ContributorMessage, EncodingSpec, ErrorCode } from '../protocol/messages.ts';
import { resultHashInput, resultStatement, type SyncVerifier } from '../protocol/signing.ts';
import { decodeUpdate } from '../protocol/updates.ts';

type ResultBody = Extract<ContributorMessage, { type: 'result' }>['body'];

/** What the checks read: the result as received, its sender's key, and the job's terms. */
export interface ResultCheckInput {
  jobId: string;
  /** The sender's key, as the coordinator registered it at hello. */
  publicKey: string;
  body: Pick<ResultBody, 'leaseId' | 'version' | 'resultHash' | 'signature' | 'exampleCount' | 'loss' | 'correct' | 'encoding'>;
  update: Uint32Array;
  /** The job's compression.up. */
  up: EncodingSpec;
  /** Floats of the model's parameter vector. */
  parameterCount: number;
}

export type ResultProblem = { code: ErrorCode; reason: string };

/** The outcome, bound to the key and hash it was computed for (the coordinator checks both before it uses it). */
export interface ResultCheck {
  publicKey: string;
  resultHash: string;
  outcome: { values: Float32Array } | { problem: ResultProblem };
}

/** Hash, signature, decode, in that order: the signature covers the encoded bytes, so a forged payload is a cheat whatever it decodes to. */
export function checkResult(input: ResultCheckInput, verifier: SyncVerifier): ResultCheck {
  const { jobId, publicKey, body, update, up, parameterCount } = input;
  const bound = { publicKey, resultHash: body.resultHash };
  const { leaseId, version, resultHash, signature, exampleCount, loss, correct, encoding } = body;
  const actual = verifier.sha256Hex(resultHashInput({ exampleCount, loss, correct, encoding, update }));
  if (actual !== resultHash) {
    return { ...bound, outcome: { problem: { code: 'bad-signature', reason: `the result's data hashes to ${actual}, not the resultHash ${resultHash} it names` } } };
  }
  if (!verifier.verify(publicKey, resultStatement({ jobId, leaseId, version, resultHash }), signature)) {
    return { ...bound, outcome: { problem: { code: 'bad-signature', reason: `the signature of the result for lease ${leaseId} does not verify with your key` } } };
  }
  try {
    return { ...bound, outcome: { values: decodeUpdate({ encoding, update }, up, parameterCount) } };
  } catch (error) {
    if (!(error instanceof CompressionError)) throw error;
    const code: ErrorCode = error.code === 'non-finite' ? 'non-finite' : 'bad-shape';
    return { ...bound, outcome: { problem: { code, reason: `the update cannot be used: ${error.message}` } } };
  }
}
