// Team names: what a visitor may type, and the message for each thing that is refused. The
// same check runs in the page and in the hello's schema.

import { describe, expect, it } from 'vitest';
import { Hello } from './messages.ts';
import { parseTeamName, teamNameProblem } from './team.ts';

describe('team names', () => {
  it('takes letters of any script, digits, spaces and a few marks', () => {
    for (const name of ['Lab 1', 'Équipe Montréal', '東京チーム', "O'Neil's GPUs", 'team_42 #3', 'a+b.c-d']) expect(teamNameProblem(name)).toBeNull();
  });

  it('refuses markup with a clear message', () => {
    expect(teamNameProblem('<b>win</b>')).toBe('a team name is plain text: "<" is not allowed (no markup)');
    expect(teamNameProblem('Tom & Jerry')).toBe('a team name is plain text: "&" is not allowed (no markup)');
    expect(teamNameProblem('say "hi"')).toBe('a team name is plain text: """ is not allowed (no markup)');
  });

  it('refuses control and invisible characters, naming the code point', () => {
    expect(teamNameProblem('a\u0000b')).toBe("a team name has letters, digits, spaces and . _ ' + # - only; U+0000 is not allowed");
    expect(teamNameProblem('a\u200Bb')).toBe("a team name has letters, digits, spaces and . _ ' + # - only; U+200B is not allowed");
    expect(teamNameProblem('right\u202Eleft')).toMatch(/U\+202E is not allowed$/);
  });

  it('bounds the length in characters, not bytes', () => {
    expect(teamNameProblem('é'.repeat(40))).toBeNull();
    expect(teamNameProblem('x'.repeat(41))).toBe('a team name is at most 40 characters; this one has 41');
  });

  it('refuses spaces at the ends and doubled, and the empty name', () => {
    expect(teamNameProblem(' Lab')).toBe('a team name cannot start or end with a space');
    expect(teamNameProblem('Lab  1')).toBe('a team name cannot have two spaces in a row');
    expect(teamNameProblem('')).toMatch(/cannot be empty/);
  });

  it('parses what a visitor typed: trimmed, NFC, empty for none, a bad one an error', () => {
    expect(parseTeamName('  Lab 1 ')).toBe('Lab 1');
    expect(parseTeamName('Cafe\u0301')).toBe('Café');
    expect(parseTeamName('   ')).toBeNull();
    expect(() => parseTeamName('<script>')).toThrow('a team name is plain text: "<" is not allowed (no markup)');
  });

  it('is the check of the hello’s schema', () => {
    const body = { client: { name: 't', version: '1' }, capabilities: { backend: 'cpu', device: 'd', fallbackAdapter: false, flopsPerMs: 1, examplesPerSecond: 1, maxBatch: 8 }, identity: { publicKey: 'ed25519:' + 'A'.repeat(43), nonce: 'A'.repeat(32) } };
    expect(Hello.body.safeParse({ ...body, team: 'Lab 1' }).success).toBe(true);
    const bad = Hello.body.safeParse({ ...body, team: '<i>x</i>' });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0]).toMatchObject({ path: ['team'], message: 'a team name is plain text: "<" is not allowed (no markup)' });
  });
});
