// Who has how much verified credit, from the ledger alone: the leaderboard. The coordinator
// keeps one of these beside its log and answers /api/leaderboard from it; `npm run ledger --
// leaderboard` builds another from the log file and must get the same ranking. Nothing a
// contributor claims counts here, only what the coordinator recorded: `credit` entries (the
// examples of its results counted in closed rounds), `joined` entries (its key, its team),
// bans, and key links.
//
// Key links let one person's credit add up across keys (another site's frame, another device):
// the old key signs a statement naming the new one (keyLinkStatement). A key hands its credit
// on once; links never make a cycle; a banned key can neither give nor receive; a key that
// never joined this job has nothing to hand on. Each person is the key at the end of a chain
// of links, and owns the credit of every key whose chain ends there, except banned keys'.

import type { KeyLink } from '../protocol/messages.ts';
import { keyLinkStatement, type PublicKeyText, type SyncVerifier } from '../protocol/signing.ts';
import type { LedgerEntry } from './entries.ts';

/** How far in the future a link may say it was signed (clocks differ). */
const MAX_CLOCK_SKEW_MS = 10 * 60_000;

/** A link the book refuses, with the HTTP status that says whose fault it is. */
export class KeyLinkError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 403 | 404 | 409,
  ) {
    super(message);
  }
}

export interface Credit {
  leases: number;
  examples: number;
}

export interface LeaderboardPerson extends Credit {
  rank: number;
  /** The key the person's chain of links ends at. */
  key: PublicKeyText;
  /** Every key whose credit is counted here (banned keys left out), the person's own first. */
  keys: PublicKeyText[];
  contributorIds: string[];
  /** The team named in the person's latest join, or null. */
  team: string | null;
}

export interface LeaderboardTeam extends Credit {
  rank: number;
  team: string;
  members: number;
}

export interface Leaderboard {
  jobId: string;
  /** How many ledger entries the ranking is built from: a recount over the first `entries` lines must give the same. */
  entries: number;
  contributors: LeaderboardPerson[];
  teams: LeaderboardTeam[];
}

export class CreditBook {
  private readonly keyOfContributor = new Map<string, PublicKeyText>();
  private readonly creditOfContributor = new Map<string, Credit>();
  /** Each known key's contributor ids, in the order they joined. */
  private readonly contributorsOfKey = new Map<PublicKeyText, string[]>();
  /** The team of each key's latest join (null: it named none). */
  private readonly teamOfKey = new Map<PublicKeyText, { team: string | null; n: number }>();
  private readonly banned = new Set<PublicKeyText>();
  private readonly linkedTo = new Map<PublicKeyText, PublicKeyText>();
  private size = 0;

  constructor(
    readonly jobId: string,
    private readonly verifier: Pick<SyncVerifier, 'verify'>,
  ) {}

  get entries(): number {
    return this.size;
  }

  /**
   * Take in the next entry of the log, in order. A `keyLinked` entry is checked as it was when
   * the coordinator accepted it: a log holding a link that does not check is refused (KeyLinkError).
   */
  add(entry: LedgerEntry): void {
    if (entry.n !== this.size) throw new Error(`entry n=${entry.n} given after ${this.size} entries: entries go in order`);
    switch (entry.kind) {
      case 'joined': {
        const ids = this.contributorsOfKey.get(entry.publicKey) ?? [];
        if (!ids.includes(entry.contributorId)) ids.push(entry.contributorId);
        this.contributorsOfKey.set(entry.publicKey, ids);
        this.keyOfContributor.set(entry.contributorId, entry.publicKey);
        this.teamOfKey.set(entry.publicKey, { team: entry.team ?? null, n: entry.n });
        break;
      }
      case 'credit':
        // Each credit entry holds the contributor's all-time totals.
        this.creditOfContributor.set(entry.contributorId, { leases: entry.leases, examples: entry.examples });
        break;
      case 'banned':
        this.banned.add(entry.publicKey);
        break;
      case 'keyLinked':
        this.checkLink({ jobId: this.jobId, fromKey: entry.fromKey, toKey: entry.toKey, issuedAt: entry.issuedAt, signature: entry.signature }, entry.at);
        this.linkedTo.set(entry.fromKey, entry.toKey);
        break;
      default:
        break;
    }
    this.size++;
  }

  /** Throws a KeyLinkError saying why `link` cannot be taken now; nothing changes either way. */
  checkLink(link: KeyLink, now: number): void {
    if (link.jobId !== this.jobId) throw new KeyLinkError(`this link is for job ${link.jobId}, not ${this.jobId}`, 400);
    if (link.fromKey === link.toKey) throw new KeyLinkError('a key cannot be linked to itself', 400);
    if (link.issuedAt > now + MAX_CLOCK_SKEW_MS) throw new KeyLinkError(`the link says it was signed at ${new Date(link.issuedAt).toISOString()}, in the future`, 400);
    if (!this.verifier.verify(link.fromKey, keyLinkStatement(link), link.signature)) {
      throw new KeyLinkError(`the link's signature does not verify with ${link.fromKey}: only the key that gives its credit away can sign its link. Nothing was credited.`, 403);
    }
    if (!this.contributorsOfKey.has(link.fromKey)) throw new KeyLinkError(`${link.fromKey} never joined job ${this.jobId}: it has no credit to hand on`, 404);
    if (this.banned.has(link.fromKey)) throw new KeyLinkError(`${link.fromKey} was banned from this job: its credit cannot be handed on`, 403);
    const target = this.personOf(link.toKey);
    if (this.banned.has(link.toKey) || this.banned.has(target)) throw new KeyLinkError(`${link.toKey} ${this.banned.has(link.toKey) ? 'was' : 'hands its credit to a key that was'} banned from this job: no credit can go to it`, 403);
    const already = this.linkedTo.get(link.fromKey);
    if (already !== undefined) throw new KeyLinkError(`${link.fromKey} already hands its credit to ${already}: a key is linked once`, 409);
    if (target === link.fromKey) throw new KeyLinkError(`${link.toKey} already hands its credit on to ${link.fromKey}: this link would make a cycle`, 409);
  }

  /** The key at the end of `key`'s chain of links. */
  personOf(key: PublicKeyText): PublicKeyText {
    let at = key;
    // Links are checked for cycles as they come, so the chain ends; the bound guards a bug.
    for (let steps = 0; steps <= this.linkedTo.size; steps++) {
      const next = this.linkedTo.get(at);
      if (next === undefined) return at;
      at = next;
    }
    throw new Error(`the key links from ${key} make a cycle`);
  }

  /** The credit of one key (all its contributor ids), zero for a banned one. */
  creditOfKey(key: PublicKeyText): Credit {
    const total = { leases: 0, examples: 0 };
    if (this.banned.has(key)) return total;
    for (const id of this.contributorsOfKey.get(key) ?? []) {
      const c = this.creditOfContributor.get(id);
      if (c && this.keyOfContributor.get(id) === key) {
        total.leases += c.leases;
        total.examples += c.examples;
      }
    }
    return total;
  }

  /** People and teams ranked by verified examples (then leases, then key or name, so the order is total). */
  leaderboard(): Leaderboard {
    const people = new Map<PublicKeyText, Omit<LeaderboardPerson, 'rank'> & { teamN: number }>();
    for (const key of this.contributorsOfKey.keys()) {
      const credit = this.creditOfKey(key);
      if (credit.examples === 0 && credit.leases === 0) continue;
      const root = this.personOf(key);
      const person = people.get(root) ?? { key: root, keys: [], contributorIds: [], team: null, teamN: -1, leases: 0, examples: 0 };
      person.keys.push(key);
      person.contributorIds.push(...(this.contributorsOfKey.get(key) ?? []));
      person.leases += credit.leases;
      person.examples += credit.examples;
      people.set(root, person);
    }
    for (const person of people.values()) {
      // The person's team is the one named in the latest join of any of its keys, the root included.
      for (const key of new Set([person.key, ...person.keys])) {
        const t = this.teamOfKey.get(key);
        if (t && t.n > person.teamN) {
          person.team = t.team;
          person.teamN = t.n;
        }
      }
      person.keys.sort((a, b) => (a === person.key ? -1 : b === person.key ? 1 : a < b ? -1 : a > b ? 1 : 0));
    }
    const contributors = rank([...people.values()].map(({ teamN: _, ...p }) => p), (p) => p.key);
    const teams = new Map<string, Omit<LeaderboardTeam, 'rank'>>();
    for (const p of contributors) {
      if (p.team === null) continue;
      const t = teams.get(p.team) ?? { team: p.team, members: 0, leases: 0, examples: 0 };
      t.members++;
      t.leases += p.leases;
      t.examples += p.examples;
      teams.set(p.team, t);
    }
    return { jobId: this.jobId, entries: this.size, contributors, teams: rank([...teams.values()], (t) => t.team) };
  }
}

function rank<T extends Credit>(items: T[], name: (item: T) => string): (T & { rank: number })[] {
  items.sort((a, b) => b.examples - a.examples || b.leases - a.leases || (name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0));
  return items.map((item, i) => ({ rank: i + 1, ...item }));
}

/**
 * The leaderboard of a log's first `upTo` entry lines (all of them by default), as a recount
 * offline does it. Throws naming the line of an entry that does not parse or a link that does not check.
 */
export function recountLeaderboard(jobId: string, lines: readonly string[], verifier: Pick<SyncVerifier, 'verify'>, upTo = lines.length): Leaderboard {
  if (upTo > lines.length) throw new Error(`the leaderboard counts ${upTo} entries but the log has ${lines.length}`);
  const book = new CreditBook(jobId, verifier);
  for (let i = 0; i < upTo; i++) {
    try {
      book.add(JSON.parse(lines[i]) as LedgerEntry);
    } catch (error) {
      throw new Error(`entries line ${i + 1}: ${(error as Error).message}`);
    }
  }
  return book.leaderboard();
}
