// Reading the selected candidate pair out of a stats report, as Chromium writes it.

import { describe, expect, it } from 'vitest';
import { describeRoute, isRelayed, selectedRoute } from './route.ts';

const candidates = [
  { id: 'L1', type: 'local-candidate', candidateType: 'host', protocol: 'udp', address: '192.168.1.2' },
  { id: 'L2', type: 'local-candidate', candidateType: 'relay', protocol: 'udp', address: '198.18.0.2', relayProtocol: 'udp' },
  { id: 'R1', type: 'remote-candidate', candidateType: 'host', address: '198.18.101.1' },
  { id: 'R2', type: 'remote-candidate', candidateType: 'prflx', address: '198.18.101.2' },
];

describe('selectedRoute', () => {
  it('follows the transport to its selected pair', () => {
    const report = new Map(
      [
        ...candidates,
        { id: 'P1', type: 'candidate-pair', localCandidateId: 'L1', remoteCandidateId: 'R1', state: 'failed', nominated: false },
        { id: 'P2', type: 'candidate-pair', localCandidateId: 'L2', remoteCandidateId: 'R1', state: 'succeeded', nominated: true },
        { id: 'T', type: 'transport', selectedCandidatePairId: 'P2' },
      ].map((s) => [s.id, s]),
    );
    const route = selectedRoute(report)!;
    expect(route).toEqual({ local: { type: 'relay', protocol: 'udp', address: '198.18.0.2', relayProtocol: 'udp' }, remote: { type: 'host', address: '198.18.101.1' } });
    expect(isRelayed(route)).toBe(true);
    expect(describeRoute(route)).toBe("through the job's TURN relay (UDP to the relay, UDP)");
  });

  it('takes the nominated, succeeded pair where no transport names one, and says direct for host and prflx', () => {
    const route = selectedRoute([...candidates, { id: 'P', type: 'candidate-pair', localCandidateId: 'L1', remoteCandidateId: 'R2', state: 'succeeded', nominated: true }])!;
    expect(isRelayed(route)).toBe(false);
    expect(describeRoute(route)).toBe('direct (host ↔ prflx, UDP)');
  });

  it('is null before a pair is selected, and refuses a candidate type it does not know', () => {
    expect(selectedRoute(candidates)).toBeNull();
    expect(() => selectedRoute([{ id: 'a', type: 'local-candidate', candidateType: 'weird' }, { id: 'b', type: 'remote-candidate', candidateType: 'host' }, { id: 'p', type: 'candidate-pair', localCandidateId: 'a', remoteCandidateId: 'b', state: 'succeeded', nominated: true }])).toThrow('unknown ICE candidate type "weird"');
  });
});
