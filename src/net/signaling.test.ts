import { describe, expect, it } from 'vitest';
import { decodeRelayMessage, encodeAnswer, encodeCandidate } from './signaling.ts';

// Messages as peerjs 1.5.5 sends them (see Negotiator._makeOffer and onicecandidate), with the
// `src` the relay adds.
const offer = {
  type: 'OFFER',
  src: 'contributor-1',
  dst: 'coordinator',
  payload: {
    sdp: { type: 'offer', sdp: 'v=0\r\n…' },
    type: 'data',
    connectionId: 'dc_abc123',
    label: 'dc_abc123',
    reliable: true,
    serialization: 'raw',
  },
};

describe('relay signaling messages', () => {
  it('reads the messages a PeerJS browser and the relay send', () => {
    expect(decodeRelayMessage('{"type":"OPEN"}')).toEqual({ type: 'OPEN' });
    expect(decodeRelayMessage(JSON.stringify(offer))).toMatchObject({ type: 'OFFER', src: 'contributor-1', payload: { connectionId: 'dc_abc123' } });
    const candidate = {
      type: 'CANDIDATE',
      src: 'contributor-1',
      payload: {
        candidate: { candidate: 'candidate:1 1 udp 2122260223 abc.local 5000 typ host', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'x' },
        type: 'data',
        connectionId: 'dc_abc123',
      },
    };
    expect(decodeRelayMessage(JSON.stringify(candidate))).toMatchObject({ type: 'CANDIDATE', payload: { candidate: { sdpMid: '0' } } });
    expect(decodeRelayMessage('{"type":"ID-TAKEN","payload":{"msg":"ID is taken"}}')).toEqual({ type: 'ID-TAKEN', payload: { msg: 'ID is taken' } });
    expect(decodeRelayMessage('{"type":"EXPIRE","src":"contributor-1","dst":"coordinator"}')).toMatchObject({ type: 'EXPIRE' });
  });

  it('says what is wrong with a message it cannot use', () => {
    expect(() => decodeRelayMessage('not json')).toThrow('The relay sent a message that is not JSON: not json');
    expect(() => decodeRelayMessage('{"type":"TELEPORT"}')).toThrow(/does not understand at type/);
    const noConnection = { ...offer, payload: { ...offer.payload, connectionId: undefined } };
    expect(() => decodeRelayMessage(JSON.stringify(noConnection))).toThrow(/at payload\.connectionId/);
    expect(() => decodeRelayMessage(`{"type":"${'x'.repeat(500)}"}`)).toThrow(/…$/);
  });

  it('writes answers and candidates the way peerjs reads them', () => {
    expect(JSON.parse(encodeAnswer('contributor-1', 'dc_abc123', 'v=0'))).toEqual({
      type: 'ANSWER',
      dst: 'contributor-1',
      payload: { sdp: { type: 'answer', sdp: 'v=0' }, type: 'data', connectionId: 'dc_abc123', browser: 'node' },
    });
    expect(JSON.parse(encodeCandidate('contributor-1', 'dc_abc123', 'candidate:1 1 UDP 1 198.18.0.1 4000 typ host', '0'))).toEqual({
      type: 'CANDIDATE',
      dst: 'contributor-1',
      payload: { candidate: { candidate: 'candidate:1 1 UDP 1 198.18.0.1 4000 typ host', sdpMid: '0' }, type: 'data', connectionId: 'dc_abc123' },
    });
  });
});
