/**
 * Who has used an IP address: every account that logged in, connected or failed to log in from
 * it, with its services, times, session counts and the byte counters the logs carry.
 * Joins on the documented keys only: the remote IP, then the session key (a Dovecot logout names
 * no IP; it carries the session's in=/out= and joins its login by `<mpid><session>`).
 */
import type { SessionKeys, StoredEvent } from '../store/index.js';

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
}

export interface WhoisResult {
  ip: string;
  accounts: WhoisAccount[];
  /** Failed logins from the IP that named no account (OpenVPN TLS failures, empty user names). */
  failuresWithoutAccount: number;
  /** Where the byte figures come from. */
  bytesFrom: 'log-counters';
}

interface Acc {
  account: string; services: Set<string>; first: number; last: number;
  sessions: number; failures: number; bytesIn: number; bytesOut: number; counted: number;
}

const FAILURES = new Set(['auth-fail', 'sasl-fail']);
const DOVECOT_SERVICES: Record<string, string> = { imap: 'imap', pop3: 'pop3', submission: 'submission', managesieve: 'sieve', sieve: 'sieve' };

const str = (v: unknown): string | null => (typeof v === 'string' && v ? v : null);

function serviceOf(ev: StoredEvent): string {
  switch (ev.source) {
    case 'dovecot': return DOVECOT_SERVICES[str(ev.attrs?.service) ?? ''] ?? (ev.program?.startsWith('pop3') ? 'pop3' : ev.program?.startsWith('imap') ? 'imap' : 'dovecot');
    // Postfix names the master.cf service: smtp (port 25), submission, smtps or a custom name.
    case 'postfix': return str(ev.attrs?.service)?.toLowerCase().replace(/[^a-z0-9-]/g, '') || 'smtp';
    case 'openvpn': return 'vpn';
    default: return ev.source;
  }
}

/**
 * `events` holds the events whose rip is `ip`, plus any events sharing a session key with a
 * Dovecot login from it (their logouts); extra events are ignored, and so are repeats of the
 * same stored event. Sorted by time or not.
 */
export function whoisIp(events: StoredEvent[], ip: string): WhoisResult {
  // The session query returns the logins again: each event counts once.
  const byId = new Map<number, StoredEvent>();
  for (const ev of events) byId.set(ev.id, ev);
  const sorted = [...byId.values()].sort((a, b) => a.ts - b.ts || a.id - b.id);
  const accounts = new Map<string, Acc>();
  const get = (account: string, ts: number): Acc => {
    let a = accounts.get(account);
    if (!a) accounts.set(account, (a = { account, services: new Set(), first: ts, last: ts, sessions: 0, failures: 0, bytesIn: 0, bytesOut: 0, counted: 0 }));
    a.first = Math.min(a.first, ts);
    a.last = Math.max(a.last, ts);
    return a;
  };
  // Dovecot sessions opened from the IP, by session key, until their logout.
  const mailOpen = new Map<string, Acc>();
  // OpenVPN: one session per real address and port until it disconnects (connect, auth, lease and learn all name it).
  const vpnOpen = new Map<string, Acc>();
  const counted = new Set<number>();
  let failuresWithoutAccount = 0;

  const addCounters = (a: Acc, ev: StoredEvent) => {
    if ((ev.bytesIn === null && ev.bytesOut === null) || counted.has(ev.id)) return;
    counted.add(ev.id);
    a.bytesIn += ev.bytesIn ?? 0;
    a.bytesOut += ev.bytesOut ?? 0;
    a.counted++;
  };

  for (const ev of sorted) {
    if (ev.rip !== ip) {
      // A session end without an address: only through a login from this IP.
      const a = ev.source === 'dovecot' && ev.session ? mailOpen.get(ev.session) : undefined;
      if (a && (ev.kind === 'logout' || ev.kind === 'disconnect')) {
        a.last = Math.max(a.last, ev.ts);
        addCounters(a, ev);
        mailOpen.delete(ev.session!);
      }
      continue;
    }
    if (FAILURES.has(ev.kind)) {
      if (ev.account) { const a = get(ev.account, ev.ts); a.failures++; a.services.add(serviceOf(ev)); } else failuresWithoutAccount++;
      continue;
    }
    if (!ev.account) continue;
    const a = get(ev.account, ev.ts);
    a.services.add(serviceOf(ev));
    if (ev.source === 'dovecot') {
      if (ev.kind === 'login') {
        a.sessions++;
        if (ev.session) mailOpen.set(ev.session, a);
      } else if (ev.kind === 'logout' || ev.kind === 'disconnect') {
        // A login proxy's `disconnecting <ip> (... in=, out=)` names the IP itself.
        addCounters(a, ev);
        if (ev.session) mailOpen.delete(ev.session);
      }
    } else if (ev.source === 'postfix') {
      if (ev.kind === 'sasl-login') a.sessions++;
    } else if (ev.source === 'openvpn') {
      const key = `${ev.account}|${ev.rport ?? ''}`;
      if (ev.kind === 'disconnect') {
        if (!vpnOpen.has(key)) a.sessions++;
        vpnOpen.delete(key);
      } else if (ev.kind === 'connect' || ev.kind === 'auth-ok' || ev.kind === 'lease' || ev.kind === 'learn') {
        if (!vpnOpen.has(key)) { a.sessions++; vpnOpen.set(key, a); }
      }
      addCounters(a, ev);
    } else {
      addCounters(a, ev);
    }
  }

  const iso = (t: number) => new Date(t).toISOString();
  return {
    ip,
    accounts: [...accounts.values()]
      .sort((x, y) => y.last - x.last || (x.account < y.account ? -1 : x.account > y.account ? 1 : 0))
      .map((a) => ({
        account: a.account, services: [...a.services].sort(), firstSeen: iso(a.first), lastSeen: iso(a.last),
        sessions: a.sessions, failures: a.failures, bytesIn: a.bytesIn, bytesOut: a.bytesOut, countedSessions: a.counted,
      })),
    failuresWithoutAccount,
    bytesFrom: 'log-counters',
  };
}

/** The Dovecot sessions of logins from the IP: the store's `eventsForSessions` finds their logouts. */
export function mailSessionKeys(events: StoredEvent[], ip: string): SessionKeys {
  const sessions = new Set<string>(), accounts = new Set<string>();
  let sinceMs = Infinity;
  for (const ev of events) {
    if (ev.source !== 'dovecot' || ev.kind !== 'login' || ev.rip !== ip || !ev.session || !ev.account) continue;
    sessions.add(ev.session);
    // Dovecot may lower-case the user between the login line and the session (%Lu).
    accounts.add(ev.account).add(ev.account.toLowerCase());
    sinceMs = Math.min(sinceMs, ev.ts);
  }
  return { sessions: [...sessions], accounts: [...accounts], sinceMs: Number.isFinite(sinceMs) ? sinceMs : 0 };
}
