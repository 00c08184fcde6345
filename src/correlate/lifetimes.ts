/**
 * One connection, one session: on an address several accounts share (an office NAT), each TCP
 * connection carried one IMAP or POP3 session, and its lifetime says which. Its first packet
 * (the SYN) comes just before the login, its last (the FIN) with the logout, or it is still
 * running when the session is still open. Matching connections to sessions one to one by those
 * times gives each connection's bytes to one account; only connections that no lifetime can tell
 * apart are left to be split.
 *
 * Flow records are per minute, so a connection's lifetime is known to the minute: its first
 * packet lies in [first, first + 1 min), its last in [last, last + 1 min).
 */

const MINUTE = 60_000;
/** How long before its login a connection may open (TLS handshake, authentication), and a logout may precede the FIN. */
const SLACK = 5_000;
/** A pairing that misses by more than this is no match. */
const MAX_COST = 3 * MINUTE;
/** Beyond this many connections or sessions on one address, pairs are taken greedily instead of searched. */
const SEARCH_LIMIT = 7;

export interface ConnLifetime {
  key: string;
  /** Minute (UTC ms) of the first and of the last flow record. */
  first: number;
  last: number;
  /** The client's port, to match sessions whose log has it. */
  rport: number | null;
}

export interface SessionLifetime {
  account: string;
  start: number;
  end: number;
  open: boolean;
  rport: number | null;
}

/** Distance from t to the interval [a, b]. */
const dist = (t: number, a: number, b: number) => (t < a ? a - t : t > b ? t - b : 0);

/**
 * How far a connection's lifetime is from a session's: the login against the connection's first
 * minute, the logout (or, for a session still open, the end of what was observed) against its
 * last. A connection whose records begin at the window's start, or run to its end, may have begun
 * before or go on after: that end does not count against it.
 */
export function lifetimeCost(c: ConnLifetime, s: SessionLifetime, observed: { from: number; to: number }): number {
  if (c.rport !== null && s.rport !== null && c.rport !== s.rport) return Infinity;
  const startsBefore = c.first <= observed.from;
  const runsOn = c.last + MINUTE >= observed.to;
  const startCost = startsBefore ? (s.start <= c.first + MINUTE + SLACK ? 0 : s.start - c.first) : dist(s.start, c.first, c.first + MINUTE + SLACK);
  let endCost: number;
  if (s.open) endCost = runsOn ? 0 : observed.to - (c.last + MINUTE);
  else endCost = runsOn ? (s.end >= c.last - SLACK ? 0 : c.last - s.end) : dist(s.end, c.last - SLACK, c.last + MINUTE + SLACK);
  return startCost + endCost;
}

export interface LifetimeMatch {
  /** Connection key → the session it carried. */
  matched: Map<string, SessionLifetime>;
  /** Connections that fit sessions of different accounts equally well. */
  ambiguous: Set<string>;
}

/** The cheapest one-to-one pairing (a connection may stay unpaired at MAX_COST), by search or, when large, greedily. */
function bestPairing(conns: ConnLifetime[], sessions: SessionLifetime[], cost: number[][], forbid?: { conn: number; account: string }): { total: number; pick: number[] } {
  const allowed = (i: number, j: number) => cost[i][j] <= MAX_COST && !(forbid && forbid.conn === i && sessions[j].account === forbid.account);
  if (conns.length > SEARCH_LIMIT || sessions.length > SEARCH_LIMIT) {
    const pairs: Array<[number, number]> = [];
    conns.forEach((_, i) => sessions.forEach((_, j) => { if (allowed(i, j)) pairs.push([i, j]); }));
    pairs.sort((a, b) => cost[a[0]][a[1]] - cost[b[0]][b[1]]);
    const pick = conns.map(() => -1), used = new Set<number>();
    let total = 0;
    for (const [i, j] of pairs) if (pick[i] < 0 && !used.has(j)) { pick[i] = j; used.add(j); total += cost[i][j]; }
    return { total: total + pick.filter((j) => j < 0).length * MAX_COST, pick };
  }
  let best = { total: Infinity, pick: [] as number[] };
  const pick = conns.map(() => -1), used = new Set<number>();
  const go = (i: number, total: number) => {
    if (total >= best.total) return;
    if (i === conns.length) { best = { total, pick: pick.slice() }; return; }
    for (let j = 0; j < sessions.length; j++) {
      if (used.has(j) || !allowed(i, j)) continue;
      used.add(j); pick[i] = j;
      go(i + 1, total + cost[i][j]);
      used.delete(j); pick[i] = -1;
    }
    go(i + 1, total + MAX_COST);
  };
  go(0, 0);
  return best;
}

/**
 * Pair the connections seen on one address with the sessions logged from it. `observed` is the
 * span the connection records could show ([window start, end of data)).
 */
export function matchLifetimes(conns: ConnLifetime[], sessions: SessionLifetime[], observed: { from: number; to: number }): LifetimeMatch {
  const matched = new Map<string, SessionLifetime>(), ambiguous = new Set<string>();
  if (!conns.length || !sessions.length) return { matched, ambiguous };
  const cost = conns.map((c) => sessions.map((s) => lifetimeCost(c, s, observed)));
  const best = bestPairing(conns, sessions, cost);
  best.pick.forEach((j, i) => {
    if (j < 0) return;
    // Another account fitting as well (the whole pairing no dearer) means the times cannot tell.
    const alt = bestPairing(conns, sessions, cost, { conn: i, account: sessions[j].account });
    const other = alt.pick[i] >= 0 && sessions[alt.pick[i]].account !== sessions[j].account;
    if (other && alt.total <= best.total + SLACK) ambiguous.add(conns[i].key);
    else matched.set(conns[i].key, sessions[j]);
  });
  return { matched, ambiguous };
}
