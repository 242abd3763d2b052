// What the Node coordinator needs from a WebRTC library: answer a browser's offer and hand over
// the data channel it opens. node-datachannel implements it for production (nodeDataChannel.ts);
// the measurement script adds werift, so both run behind the same signaling code.

import type { IceServerSpec } from './iceServers.ts';

import type { DataChannelPort } from './portFrameChannel.ts';

export type PeerLinkState = 'connecting' | 'connected' | 'disconnected' | 'failed' | 'closed';

export interface AnswererEvents {
  /** Our SDP answer, to send to the contributor. */
  onAnswer(sdp: string): void;
  /** One of our ICE candidates, to send to the contributor. */
  onLocalCandidate(candidate: string, sdpMid: string): void;
  /** The contributor's data channel is open. */
  onDataChannel(label: string, port: DataChannelPort): void;
  onStateChange(state: PeerLinkState): void;
}

export interface AnsweringPeerConnection {
  /** Throws if the candidate cannot be parsed. */
  addRemoteCandidate(candidate: string, sdpMid: string): void;
  close(): void;
  /** Where ICE stands and, once one is selected, the pair it uses: for the coordinator's log. */
  describe?(): LinkDescription;
}

export interface LinkDescription {
  iceState: string;
  gatheringState: string;
  selected: { local: CandidateEnd; remote: CandidateEnd } | null;
}

export interface CandidateEnd {
  type: string;
  address: string;
  port: number;
  transport: string;
}

export interface NodeWebRtc {
  /** Library name and version, for logs and measurements. */
  readonly name: string;
  /** Applies a remote offer; the answer, candidates and data channel arrive through `events`. Throws on an unusable offer. */
  answer(offerSdp: string, config: { readonly iceServers: readonly IceServerSpec[] }, events: AnswererEvents): AnsweringPeerConnection;
}
