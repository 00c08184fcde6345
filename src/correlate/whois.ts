/**
 * Who has used an IP address: every account that logged in, connected or failed to log in from
 * it, with its services, times, session counts and the byte counters the logs carry.
 * Joins on the documented keys only: the remote IP, then the session key (a Dovecot logout names
 * no IP; it carries the session's in=/out= and joins its login by `<mpid><session>`), through
 * the identity facts of src/sources/ and investigate's session reconstruction.
 */
import { factOf, serviceOf } from '../sources/index.js';
import type { SessionKeys, StoredEvent } from '../store/index.js';
import { SessionBook, webLoginAt, type WebLogin } from './identities.js';

export interface WhoisAccount {
  account: string;
  /** imap, pop3, submission, smtp, sieve, vpn, ... sorted. */
  services: string[];
  firstSeen: string;
  lastSeen: string;
  /** Successful logins, SASL logins and VPN connections from the IP. */
  sessions: number;
  /** Failed logins naming this account from the IP. */
  failures: number;
  /** Sum of the logs' own counters (see `bytesFrom`); 0 when no session carried one. */
  bytesIn: number;
  bytesOut: number;
  /** How many sessions had byte counters: the rest are not in bytesIn/bytesOut. */
  countedSessions: number;
  /**
   * Webmail downloads: the web server's responses to the IP while this account was logged in to
   * the webmail from it (the same attribution as investigate's), and their body bytes.
   */
  webRequests: number;
  webBytesOut: number;
}

export interface WhoisResult {
  ip: string;
  accounts: WhoisAccount[];
  /** Failed logins from the IP that named no account (OpenVPN TLS failures, empty user names). */
  failuresWithoutAccount: number;
  /** Where the byte figures come from. */
  bytesFrom: 'log-counters';
  /** The sources whose session-end counters are in bytesIn/bytesOut (`dovecot`, `courier`), sorted. */
  countersFrom: string[];
}

interface Acc {
  account: string; services: Set<string>; first: number; last: number;
  sessions: number; failures: number; bytesIn: number; bytesOut: number; counted: number; webRequests: number; webBytesOut: number;
}

/**
 * `events` holds the events whose rip is `ip`, plus any events sharing a session key with a
 * mail login from it (their logouts); extra events are ignored, and so are repeats of the
 * same stored event. Sorted by time or not. Sessions are rebuilt by the same SessionBook as
 * investigate's identities, from the same facts.
 */
export function whoisIp(events: StoredEvent[], ip: string): WhoisResult {
  // The session query returns the logins again: each event counts once.
  const byId = new Map<number, StoredEvent>();
  for (const ev of events) byId.set(ev.id, ev);
  const sorted = [...byId.values()].sort((a, b) => a.ts - b.ts || a.id - b.id);
  const accounts = new Map<string, Acc>();
  const get = (account: string, ts: number): Acc => {
    let a = accounts.get(account);
    if (!a) accounts.set(account, (a = { account, services: new Set(), first: ts, last: ts, sessions: 0, failures: 0, bytesIn: 0, bytesOut: 0, counted: 0, webRequests: 0, webBytesOut: 0 }));
    a.first = Math.min(a.first, ts);
    a.last = Math.max(a.last, ts);
    return a;
  };
  const book = new SessionBook(Infinity);
  const counted = new Set<number>();
  const countersFrom = new Set<string>();
  const webLogins: WebLogin[] = [];
  const webTransfers: StoredEvent[] = [];
  let failuresWithoutAccount = 0;

  const addCounters = (a: Acc, ev: StoredEvent) => {
    if ((ev.bytesIn === null && ev.bytesOut === null) || counted.has(ev.id)) return;
    counted.add(ev.id);
    countersFrom.add(ev.source);
    a.bytesIn += ev.bytesIn ?? 0;
    a.bytesOut += ev.bytesOut ?? 0;
    a.counted++;
  };

  for (const ev of sorted) {
    const f = factOf(ev);
    if (f) book.add(ev, f);
    // A session end without an address counts through its login from this IP (below).
    if (ev.rip !== ip) continue;
    if (f?.fact === 'auth-failure') {
      if (ev.account) { const a = get(ev.account, ev.ts); a.failures++; a.services.add(serviceOf(ev)); } else failuresWithoutAccount++;
      continue;
    }
    // A download is the webmail login's on the address, not a session of its own (below).
    if (f?.fact === 'web-transfer') { webTransfers.push(ev); continue; }
    if (f?.fact === 'session-start' && f.realm === 'web' && ev.account) webLogins.push({ account: ev.account, rip: ip, start: ev.ts, login: ev });
    if (!ev.account) continue;
    const a = get(ev.account, ev.ts);
    a.services.add(serviceOf(ev));
    if (f?.fact === 'submission') a.sessions++;
    // A login proxy's `disconnecting <ip> (... in=, out=)` names the IP itself.
    addCounters(a, ev);
  }
  for (const s of book.mail) {
    if (s.rip !== ip) continue;
    const a = get(s.account, s.start);
    a.sessions++;
    if (s.logout && s.logout.rip !== ip) {
      a.last = Math.max(a.last, s.logout.ts);
      addCounters(a, s.logout);
    }
  }
  for (const s of book.tunnel) if (s.rip === ip) get(s.account, s.start).sessions++;
  // A disconnect whose connect is before the data is still a session.
  for (const ev of book.orphanTunnelEnds) if (ev.rip === ip && ev.account) get(ev.account, ev.ts).sessions++;
  for (const ev of webTransfers) {
    const account = webLoginAt(webLogins, ev.ts)?.account ?? ev.account;
    if (!account) continue;
    const a = get(account, ev.ts);
    a.services.add(serviceOf(ev));
    a.webRequests++;
    a.webBytesOut += ev.bytesOut ?? 0;
  }

  const iso = (t: number) => new Date(t).toISOString();
  return {
    ip,
    accounts: [...accounts.values()]
      .sort((x, y) => y.last - x.last || (x.account < y.account ? -1 : x.account > y.account ? 1 : 0))
      .map((a) => ({
        account: a.account, services: [...a.services].sort(), firstSeen: iso(a.first), lastSeen: iso(a.last),
        sessions: a.sessions, failures: a.failures, bytesIn: a.bytesIn, bytesOut: a.bytesOut, countedSessions: a.counted,
        webRequests: a.webRequests, webBytesOut: a.webBytesOut,
      })),
    failuresWithoutAccount,
    bytesFrom: 'log-counters',
    countersFrom: [...countersFrom].sort(),
  };
}

/**
 * The mail sessions of logins from the IP, and the sources that wrote them: the store's
 * `eventsForSessions` finds their logouts, which name no IP.
 */
export function mailSessionKeys(events: StoredEvent[], ip: string): SessionKeys & { sources: string[] } {
  const sessions = new Set<string>(), accounts = new Set<string>(), sources = new Set<string>();
  let sinceMs = Infinity;
  for (const ev of events) {
    if (ev.rip !== ip || !ev.session || !ev.account) continue;
    const f = factOf(ev);
    if (f?.fact !== 'session-start' || f.realm !== 'mail') continue;
    sessions.add(ev.session);
    sources.add(ev.source);
    // Dovecot may lower-case the user between the login line and the session (%Lu).
    accounts.add(ev.account).add(ev.account.toLowerCase());
    sinceMs = Math.min(sinceMs, ev.ts);
  }
  return { sessions: [...sessions], accounts: [...accounts], sinceMs: Number.isFinite(sinceMs) ? sinceMs : 0, sources: [...sources] };
}
