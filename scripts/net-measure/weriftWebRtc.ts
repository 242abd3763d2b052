// werift (pure TypeScript WebRTC) behind the NodeWebRtc interface, for the side-by-side
// measurement only: werift is not a dependency of swarmgrad. Install it outside the tree and
// point WERIFT_DIR at that node_modules:
//
//   npm i --prefix /tmp/werift werift@0.24.4      # 0.25 needs Node 22
//   WERIFT_DIR=/tmp/werift/node_modules node --import tsx scripts/net-measure.ts

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { AnsweringPeerConnection, NodeWebRtc, PeerLinkState } from '../../src/net/nodeWebRtc.ts';
import type { DataChannelPort, DataChannelPortEvents } from '../../src/net/portFrameChannel.ts';

/** The few werift types used here (werift ships its own, but it is not installed in the tree). */
interface WeriftEvent<T extends unknown[]> {
  subscribe(listener: (...args: T) => void): unknown;
}
interface WeriftDataChannel {
  readonly label: string;
  readonly bufferedAmount: number;
  bufferedAmountLowThreshold: number;
  readonly bufferedAmountLow: WeriftEvent<[]>;
  readonly onMessage: WeriftEvent<[string | Buffer]>;
  readonly stateChanged: WeriftEvent<[string]>;
  send(data: Buffer): void;
  close(): void;
}
interface WeriftPeerConnection {
  readonly onIceCandidate: WeriftEvent<[{ candidate: string; sdpMid?: string } | undefined]>;
  readonly onDataChannel: WeriftEvent<[WeriftDataChannel]>;
  readonly connectionStateChange: WeriftEvent<[string]>;
  setRemoteDescription(description: { type: 'offer'; sdp: string }): Promise<void>;
  createAnswer(): Promise<{ type: string; sdp: string }>;
  setLocalDescription(description: { type: string; sdp: string }): Promise<unknown>;
  addIceCandidate(candidate: { candidate: string; sdpMid: string }): Promise<void>;
  close(): Promise<void>;
}
interface WeriftModule {
  RTCPeerConnection: new (config: { iceServers: { urls: string }[] }) => WeriftPeerConnection;
}

export function loadWeriftWebRtc(): NodeWebRtc {
  const dir = process.env.WERIFT_DIR;
  if (!dir) throw new Error('Set WERIFT_DIR to a node_modules folder that holds werift (see scripts/net-measure/weriftWebRtc.ts).');
  const require = createRequire(join(dir, 'noop.js'));
  const werift = require('werift') as WeriftModule;
  const version = (JSON.parse(readFileSync(join(dir, 'werift', 'package.json'), 'utf8')) as { version: string }).version;
  return {
    name: `werift ${version}`,
    answer(offerSdp, _config, events): AnsweringPeerConnection {
      // werift's ICE agent falls back to a public STUN server when no STUN server is configured;
      // a dead loopback address keeps gathering on this machine.
      const pc = new werift.RTCPeerConnection({ iceServers: [{ urls: 'stun:127.0.0.1:9' }] });
      pc.onIceCandidate.subscribe((candidate) => {
        if (candidate?.candidate) events.onLocalCandidate(candidate.candidate, candidate.sdpMid ?? '0');
      });
      pc.connectionStateChange.subscribe((state) => {
        if (state !== 'new') events.onStateChange(state as PeerLinkState);
      });
      pc.onDataChannel.subscribe((dc) => events.onDataChannel(dc.label, new WeriftDataChannelPort(dc)));
      void (async () => {
        await pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
        const answer = await pc.createAnswer();
        await pc.setLocalDescription(answer);
        events.onAnswer(answer.sdp);
      })().catch((error: Error) => {
        console.error(`[werift] could not answer: ${error.message}`);
        events.onStateChange('failed');
      });
      return {
        addRemoteCandidate: (candidate, sdpMid) => {
          pc.addIceCandidate({ candidate, sdpMid }).catch((error: Error) => console.error(`[werift] candidate: ${error.message}`));
        },
        close: () => void pc.close(),
      };
    },
  };
}

class WeriftDataChannelPort implements DataChannelPort {
  readonly #dc: WeriftDataChannel;
  #closed = false;

  constructor(dc: WeriftDataChannel) {
    this.#dc = dc;
  }

  get bufferedAmount(): number {
    return this.#dc.bufferedAmount;
  }
  get bufferedAmountLowThreshold(): number {
    return this.#dc.bufferedAmountLowThreshold;
  }
  set bufferedAmountLowThreshold(bytes: number) {
    this.#dc.bufferedAmountLowThreshold = bytes;
  }

  send(frame: Uint8Array): void {
    if (this.#closed) throw new Error('the data channel is closed');
    this.#dc.send(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
  }

  listen(events: DataChannelPortEvents): void {
    this.#dc.onMessage.subscribe((message) => {
      if (typeof message === 'string') return events.onClose('text message on a binary channel');
      events.onMessage(new Uint8Array(message.buffer, message.byteOffset, message.byteLength));
    });
    this.#dc.bufferedAmountLow.subscribe(() => events.onBufferedAmountLow());
    this.#dc.stateChanged.subscribe((state) => {
      if (state === 'closed' && !this.#closed) {
        this.#closed = true;
        events.onClose('the contributor closed the data channel');
      }
    });
  }

  close(): void {
    this.#closed = true;
    this.#dc.close();
  }
}
