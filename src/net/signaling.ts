// The PeerJS relay's signaling messages, as the Node coordinator sees them: JSON over the
// relay's WebSocket. Read from peerjs 1.5 (Socket, Negotiator, Peer._handleMessage) and
// peer 1.0 (the relay forwards OFFER/ANSWER/CANDIDATE/LEAVE/EXPIRE with `src` filled in).
// Everything from the relay is validated here; anything unexpected is a clear error.

import { z } from 'zod';

const sessionDescription = z.object({ type: z.string(), sdp: z.string().min(1) });

const iceCandidate = z.object({
  candidate: z.string(),
  sdpMid: z.string().nullish(),
  sdpMLineIndex: z.number().int().nullish(),
});

const offerPayload = z.object({
  sdp: sessionDescription,
  type: z.enum(['data', 'media']),
  connectionId: z.string().min(1),
  label: z.string().optional(),
  reliable: z.boolean().optional(),
  serialization: z.string().optional(),
  metadata: z.unknown().optional(),
});

const candidatePayload = z.object({
  candidate: iceCandidate,
  type: z.enum(['data', 'media']),
  connectionId: z.string().min(1),
});

const errorPayload = z.object({ msg: z.string() });

const relayMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('OPEN') }),
  z.object({ type: z.literal('ERROR'), payload: errorPayload }),
  z.object({ type: z.literal('ID-TAKEN'), payload: errorPayload }),
  z.object({ type: z.literal('INVALID-KEY'), payload: errorPayload.optional() }),
  z.object({ type: z.literal('OFFER'), src: z.string().min(1), payload: offerPayload }),
  z.object({ type: z.literal('ANSWER'), src: z.string().min(1), payload: z.unknown() }),
  z.object({ type: z.literal('CANDIDATE'), src: z.string().min(1), payload: candidatePayload }),
  z.object({ type: z.literal('LEAVE'), src: z.string().min(1) }),
  z.object({ type: z.literal('EXPIRE'), src: z.string().min(1) }),
]);

export type RelayMessage = z.infer<typeof relayMessage>;
export type OfferMessage = Extract<RelayMessage, { type: 'OFFER' }>;
export type CandidateMessage = Extract<RelayMessage, { type: 'CANDIDATE' }>;

/** Parses one text message from the relay; throws an Error saying what was wrong with it. */
export function decodeRelayMessage(text: string): RelayMessage {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`The relay sent a message that is not JSON: ${preview(text)}`);
  }
  const parsed = relayMessage.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    throw new Error(`The relay sent a message this coordinator does not understand${where} (${issue?.message ?? 'invalid'}): ${preview(text)}`);
  }
  return parsed.data;
}

/** Our answer to a contributor's offer, in the shape peerjs' Negotiator expects. */
export function encodeAnswer(dst: string, connectionId: string, sdp: string): string {
  return JSON.stringify({
    type: 'ANSWER',
    dst,
    payload: { sdp: { type: 'answer', sdp }, type: 'data', connectionId, browser: 'node' },
  });
}

export function encodeCandidate(dst: string, connectionId: string, candidate: string, sdpMid: string): string {
  return JSON.stringify({
    type: 'CANDIDATE',
    dst,
    payload: { candidate: { candidate, sdpMid }, type: 'data', connectionId },
  });
}

export function encodeHeartbeat(): string {
  return JSON.stringify({ type: 'HEARTBEAT' });
}

/** Tells the relay (and through it the contributor) that we dropped them. */
export function encodeLeave(dst: string): string {
  return JSON.stringify({ type: 'LEAVE', dst });
}

function preview(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
