import { describe, expect, it } from 'vitest';
import { explainConnectFailure } from './contributorErrors.ts';

const where = { relayUrl: 'ws://swarm.example:8080/peerjs', coordinatorId: 'coordinator' };

describe('explainConnectFailure', () => {
  it('names the relay address when the relay cannot be reached', () => {
    for (const kind of ['network', 'server-error', 'socket-error', 'socket-closed']) {
      expect(explainConnectFailure(kind, 'Could not get an ID from the server.', where)).toBe(
        "Cannot reach the coordinator's signaling relay at ws://swarm.example:8080/peerjs (Could not get an ID from the server.). The server may be restarting or offline; this page keeps retrying.",
      );
    }
  });

  it('tells a missing coordinator apart from a missing relay', () => {
    expect(explainConnectFailure('peer-unavailable', 'Could not connect to peer coordinator', where)).toMatch(
      /^The relay is up, but the coordinator "coordinator" is not connected to it\./,
    );
  });

  it('points at firewalls when ICE fails, and gives the timeout in seconds', () => {
    expect(explainConnectFailure('negotiation-failed', '', where)).toMatch(/firewall or VPN may be blocking WebRTC \(UDP\)/);
    expect(explainConnectFailure('timeout', '', where, 20_000)).toMatch(/did not answer within 20 s/);
  });

  it('says what to do when signaling worked but no path did, with and without a TURN relay', () => {
    expect(explainConnectFailure('no-path', 'ICE checking', where)).toBe(
      "Reached the coordinator's relay, but no network path for the data connection (ICE checking): a firewall or NAT here blocks WebRTC (UDP), and this job has no TURN relay. " +
        "Try another network, or ask the job's owner to add one (npm start -- --ice-server turn:…). This page keeps retrying.",
    );
    expect(explainConnectFailure('no-path', 'ICE failed', { ...where, turn: ['turn:turn.example:3478'] })).toMatch(
      /^Reached the coordinator's relay, but no network path for the data connection, not even through the job's TURN relay \(turn:turn\.example:3478\) \(ICE failed\)\. A firewall here may block it, or the TURN server is down/,
    );
  });

  it('keeps the original wording for kinds it does not know', () => {
    expect(explainConnectFailure('something-new', 'detail', where)).toBe('Connecting to the coordinator failed: something-new (detail).');
  });
});
