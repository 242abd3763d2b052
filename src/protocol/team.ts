// Team names, as a contributor names one and as the leaderboard shows it. One check for both
// ends: the page says what is wrong before it connects, and the coordinator refuses a hello
// that names a bad one. A team name is shown on pages and in the dashboard, so it is plain
// text by construction: no markup characters, no control or invisible characters.

export const TEAM_NAME_MAX = 40;

/** Letters and marks of any script, digits, spaces and a few punctuation marks. */
const ALLOWED = /^[\p{L}\p{M}\p{N} ._'+#-]+$/u;
const MARKUP = /[<>&"`]/;

/** What is wrong with `name` as a team name, or null when it is a good one. */
export function teamNameProblem(name: string): string | null {
  if (name.length === 0) return 'a team name cannot be empty (leave the field empty for no team)';
  if (name !== name.trim()) return 'a team name cannot start or end with a space';
  if ([...name].length > TEAM_NAME_MAX) return `a team name is at most ${TEAM_NAME_MAX} characters; this one has ${[...name].length}`;
  const markup = MARKUP.exec(name);
  if (markup) return `a team name is plain text: "${markup[0]}" is not allowed (no markup)`;
  if (/\s\s/u.test(name)) return 'a team name cannot have two spaces in a row';
  if (!ALLOWED.test(name)) {
    const bad = [...name].find((c) => !ALLOWED.test(c))!;
    return `a team name has letters, digits, spaces and . _ ' + # - only; U+${bad.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} is not allowed`;
  }
  return null;
}

/**
 * The team a visitor typed, ready to send: trimmed, NFC, null for none. Throws an Error that
 * says what is wrong with a bad one.
 */
export function parseTeamName(input: string): string | null {
  const name = input.normalize('NFC').trim();
  if (name === '') return null;
  const problem = teamNameProblem(name);
  if (problem) throw new Error(problem);
  return name;
}
