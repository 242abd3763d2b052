// node-datachannel (libdatachannel bindings, prebuilt binaries in its npm packages) behind the
// NodeWebRtc interface. Uses the native API rather than its W3C polyfill: fewer layers, and
// bufferedAmount / low-threshold are direct calls.

import { PeerConnection, getLibraryVersion, type DataChannel } from 'node-datachannel';
import { toLibDataChannel } from './iceServers.ts';
import type { AnswererEvents, AnsweringPeerConnection, NodeWebRtc, PeerLinkState } from './nodeWebRtc.ts';
import type { DataChannelPort, DataChannelPortEvents } from './portFrameChannel.ts';

const LINK_STATES: ReadonlySet<string> = new Set<PeerLinkState>(['connecting', 'connected', 'disconnected', 'failed', 'closed']);

export const nodeDataChannelWebRtc: NodeWebRtc = {
  name: `node-datachannel (libdatachannel ${getLibraryVersion()})`,
  answer(offerSdp, config, events: AnswererEvents): AnsweringPeerConnection {
    const pc = new PeerConnection('coordinator', { iceServers: toLibDataChannel(config.iceServers) });
    pc.onLocalDescription((sdp, type) => {
      if (type === 'answer') events.onAnswer(sdp);
    });
    pc.onLocalCandidate((candidate, mid) => events.onLocalCandidate(candidate, mid));
    pc.onStateChange((state) => {
      if (LINK_STATES.has(state)) events.onStateChange(state as PeerLinkState);
    });
    pc.onDataChannel((dc) => events.onDataChannel(dc.getLabel(), new NodeDataChannelPort(dc)));
    try {
      pc.setRemoteDescription(offerSdp, 'offer');
    } catch (error) {
      pc.close();
      throw error;
    }
    return {
      addRemoteCandidate: (candidate, sdpMid) => pc.addRemoteCandidate(candidate, sdpMid),
      close: () => pc.close(),
      describe: () => {
        const pair = pc.getSelectedCandidatePair();
        const end = (c: NonNullable<typeof pair>['local']) => ({ type: c.type, address: c.address, port: c.port, transport: c.transportType });
        return { iceState: pc.iceState(), gatheringState: pc.gatheringState(), selected: pair ? { local: end(pair.local), remote: end(pair.remote) } : null };
      },
    };
  },
};

/** A node-datachannel DataChannel as a DataChannelPort (also used by the Node test contributors in src/testing). */
export class NodeDataChannelPort implements DataChannelPort {
  readonly #dc: DataChannel;
  #threshold = 0;
  #closed = false;
  #events: DataChannelPortEvents | null = null;

  constructor(dc: DataChannel) {
    this.#dc = dc;
  }

  get bufferedAmount(): number {
    if (this.#closed) return 0;
    try {
      return this.#dc.bufferedAmount();
    } catch {
      // libdatachannel throws once the channel has closed natively, a moment before onClosed
      // reaches us; nothing is buffered then, and onClosed will report the close.
      return 0;
    }
  }

  get bufferedAmountLowThreshold(): number {
    return this.#threshold;
  }

  set bufferedAmountLowThreshold(bytes: number) {
    this.#threshold = bytes;
    if (!this.#closed) this.#dc.setBufferedAmountLowThreshold(bytes);
  }

  send(frame: Uint8Array): void {
    if (this.#closed) throw new Error('the data channel is closed');
    this.#dc.sendMessageBinary(frame);
  }

  listen(events: DataChannelPortEvents): void {
    this.#events = events;
    this.#dc.onMessage((message) => {
      if (typeof message === 'string') {
        this.#fail('the contributor sent a text message; this channel carries binary frames only');
        return;
      }
      const bytes = message instanceof ArrayBuffer ? new Uint8Array(message) : message;
      // A plain Uint8Array view: Buffer's slice() shares memory, and frames must behave the same everywhere.
      events.onMessage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    });
    this.#dc.onBufferedAmountLow(() => events.onBufferedAmountLow());
    this.#dc.onClosed(() => this.#remoteClosed('the contributor closed the data channel'));
    this.#dc.onError((error) => this.#fail(`data channel error: ${error}`));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#dc.close();
  }

  #remoteClosed(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#events?.onClose(reason);
  }

  #fail(reason: string): void {
    if (this.#closed) return;
    this.close();
    this.#events?.onClose(reason);
  }
}
