/**
 * Time-bounded identities built from events: who was behind which IP, on which service, when.
 * Joins only on documented keys: time, IPs and ports, session ids, queue ids and accounts, and
 * only through the identity facts each source's module maps its events to (src/sources/):
 * nothing here knows which server wrote a line.
 */
import { factOf } from '../sources/index.js';
import type { IdentityFact } from '../sources/types.js';
import type { StoredEvent } from '../store/index.js';

export interface MailSession {
  account: string; rip: string; rport: number | null; service: 'imap' | 'pop3';
  start: number; end: number; open: boolean;
  bytesIn: number | null; bytesOut: number | null;
  login: StoredEvent; logout: StoredEvent | null;
}

export interface VpnSession {
  account: string; rip: string; rport: number | null; start: number; end: number; open: boolean;
  vips: string[]; events: StoredEvent[];
}

/**
 * A webmail login (realm `web`): who logged in from which address, when. Webmails log no
 * logout (the PHP session just expires), so the login stands until another account logs in
 * from the same address or the look-back ends (see webAccountAt).
 */
export interface WebLogin { account: string; rip: string; start: number; login: StoredEvent }

export interface Lease { account: string; vip: string; start: number; end: number; realIp: string | null }

export interface Submission {
  account: string; rip: string | null; qid: string; ts: number;
  size: number | null; nrcpt: number | null; deliveries: Delivery[]; login: StoredEvent; scan: StoredEvent | null;
}

export interface Delivery { qid: string; ts: number; relayIp: string | null; relayPort: number | null; status: string; event: StoredEvent; account: string | null; size: number | null }

export interface Identities {
  mail: MailSession[];
  mailByIp: Map<string, MailSession[]>;
  vpn: VpnSession[];
  vpnByIp: Map<string, VpnSession[]>;
  leasesByVip: Map<string, Lease[]>;
  submissions: Map<string, Submission>;
  saslByIp: Map<string, StoredEvent[]>;
  deliveriesByRelay: Map<string, Delivery[]>;
  deliveries: Delivery[];
  authFailByIp: Map<string, StoredEvent[]>;
  authFailByAccount: Map<string, StoredEvent[]>;
  /** Webmail logins by client address, in time order. */
  webByIp: Map<string, WebLogin[]>;
  /** Webmail requests the web server answered (web-transfer facts), by client address. */
  webTransfersByIp: Map<string, StoredEvent[]>;
  /** Events seen from an IP that prove a successful login (used to tell bruteforce from use). */
  successIps: Set<string>;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v); else m.set(k, [v]);
}

/** A mail session of any protocol while it is being rebuilt; `MailSession` narrows it to IMAP and POP3. */
export type BookedMailSession = Omit<MailSession, 'service'> & { service: string };

/**
 * Sessions rebuilt from identity facts: the one reconstruction behind investigate and whois.
 * A mail session's end finds its start by the session key, else by the login process and the
 * account (`altKey/account`); a tunnel session is its client's address and port (the fact's
 * key) from connect (or from a lease naming the account) to disconnect or a float away.
 */
export class SessionBook {
  readonly mail: BookedMailSession[] = [];
  readonly tunnel: VpnSession[] = [];
  /** Tunnel ends whose start was never seen (the log began mid-session). */
  readonly orphanTunnelEnds: StoredEvent[] = [];
  private readonly openBySession = new Map<string, BookedMailSession>();
  private readonly openByAlt = new Map<string, BookedMailSession>();
  private readonly tunnelOpen = new Map<string, VpnSession>();

  /** `acceptMail`: which mail protocols become sessions (investigate: IMAP and POP3; whois: all). */
  constructor(private readonly dataEnd: number, private readonly acceptMail: (service: string) => boolean = () => true) {}

  /** Feed one event (in time order) with its fact; returns the session it started, if any. */
  add(ev: StoredEvent, f: IdentityFact): BookedMailSession | VpnSession | null {
    // A webmail login is booked like a mail login (investigate accepts only IMAP and POP3 ones).
    if (f.fact === 'session-start') return f.realm === 'tunnel' ? this.tunnelStart(ev, f) : this.mailStart(ev, f);
    if (f.fact === 'session-end') { if (f.realm === 'tunnel') this.tunnelEnd(ev, f); else this.mailEnd(ev, f); return null; }
    if (f.fact === 'lease') return this.lease(ev, f);
    return null;
  }

  private mailStart(ev: StoredEvent, f: Extract<IdentityFact, { fact: 'session-start' }>): BookedMailSession | null {
    if (!ev.account || !ev.rip || !this.acceptMail(f.service)) return null;
    const s: BookedMailSession = { account: ev.account, rip: ev.rip, rport: ev.rport, service: f.service, start: ev.ts, end: this.dataEnd, open: true, bytesIn: null, bytesOut: null, login: ev, logout: null };
    this.mail.push(s);
    if (f.key) this.openBySession.set(f.key, s);
    if (f.altKey !== null) this.openByAlt.set(`${f.altKey}/${ev.account}`, s);
    return s;
  }

  private mailEnd(ev: StoredEvent, f: Extract<IdentityFact, { fact: 'session-end' }>): void {
    let s = f.key ? this.openBySession.get(f.key) : undefined;
    if (!s && f.altKey !== null && ev.account) s = this.openByAlt.get(`${f.altKey}/${ev.account}`);
    if (!s || !s.open) return;
    s.open = false;
    s.end = ev.ts;
    s.bytesIn = ev.bytesIn;
    s.bytesOut = ev.bytesOut;
    s.logout = ev;
    if (f.key) this.openBySession.delete(f.key);
    if (f.altKey !== null) this.openByAlt.delete(`${f.altKey}/${s.account}`);
  }

  private tunnelStart(ev: StoredEvent, f: Extract<IdentityFact, { fact: 'session-start' }>): VpnSession | null {
    if (f.movedFrom) {
      // The client floated to a new address: its old session ends here.
      const old = this.tunnelOpen.get(`${f.movedFrom.ip}:${f.movedFrom.port ?? ''}`);
      if (old && old.open) { old.open = false; old.end = ev.ts; }
    }
    if (!ev.account || !ev.rip || !f.key) return null;
    const prev = this.tunnelOpen.get(f.key);
    if (prev && prev.account === ev.account && prev.open) { prev.events.push(ev); return null; }
    const s: VpnSession = { account: ev.account, rip: ev.rip, rport: ev.rport, start: ev.ts, end: this.dataEnd, open: true, vips: [], events: [ev] };
    this.tunnelOpen.set(f.key, s);
    this.tunnel.push(s);
    return s;
  }

  private lease(ev: StoredEvent, f: Extract<IdentityFact, { fact: 'lease' }>): VpnSession | null {
    if (!f.key) return null;
    let s = this.tunnelOpen.get(f.key);
    let started: VpnSession | null = null;
    if (!s && ev.account && ev.rip) {
      // A lease without a logged connect (log started mid-session): the lease itself names the client.
      s = started = { account: ev.account, rip: ev.rip, rport: ev.rport, start: ev.ts, end: this.dataEnd, open: true, vips: [], events: [] };
      this.tunnelOpen.set(f.key, s);
      this.tunnel.push(s);
    }
    if (!s) return null;
    s.events.push(ev);
    for (const v of f.vips) if (!s.vips.includes(v)) s.vips.push(v);
    return started;
  }

  private tunnelEnd(ev: StoredEvent, f: Extract<IdentityFact, { fact: 'session-end' }>): void {
    if (!f.key) return;
    const s = this.tunnelOpen.get(f.key);
    if (s && s.open) { s.open = false; s.end = ev.ts; s.events.push(ev); this.tunnelOpen.delete(f.key); } else this.orphanTunnelEnds.push(ev);
  }
}

const isImapOrPop3 = (service: string): boolean => service === 'imap' || service === 'pop3';

/** A mail login or logout, whatever server wrote it. */
export function isMailSessionEvent(ev: StoredEvent): boolean {
  const f = factOf(ev);
  return f !== null && (f.fact === 'session-start' || f.fact === 'session-end') && f.realm === 'mail';
}

/**
 * `events` must be sorted by time and cover the window plus a look-back for logins.
 * `end` is the end of the data: sessions still open run to it.
 */
export function buildIdentities(events: StoredEvent[], dataEnd: number, extraLeases: Lease[] = []): Identities {
  const id: Identities = {
    mail: [], mailByIp: new Map(), vpn: [], vpnByIp: new Map(), leasesByVip: new Map(), submissions: new Map(),
    saslByIp: new Map(), deliveriesByRelay: new Map(), deliveries: [], authFailByIp: new Map(), authFailByAccount: new Map(), successIps: new Set(),
    webByIp: new Map(), webTransfersByIp: new Map(),
  };
  const book = new SessionBook(dataEnd, isImapOrPop3);
  const qidAccount = new Map<string, string>();
  const sizes = new Map<string, { size: number | null; nrcpt: number | null }>();
  const scans = new Map<string, StoredEvent>();

  for (const ev of events) {
    const f = factOf(ev);
    if (f === null) continue;
    switch (f.fact) {
      case 'session-start': case 'session-end': case 'lease': {
        // Webmail logins are their own realm: never an IMAP/POP3 session, never proof of a mail login.
        if (f.fact === 'session-start' && f.realm === 'web') {
          if (ev.account && ev.rip) push(id.webByIp, ev.rip, { account: ev.account, rip: ev.rip, start: ev.ts, login: ev });
          break;
        }
        const s = book.add(ev, f);
        if (s === null) break;
        if ('vips' in s) {
          id.vpn.push(s);
          push(id.vpnByIp, s.rip, s);
          // A lease alone does not prove a login (it may be the tail of an older session).
          if (f.fact === 'session-start') id.successIps.add(s.rip);
        } else {
          const m = s as MailSession;
          id.mail.push(m);
          push(id.mailByIp, m.rip, m);
          id.successIps.add(m.rip);
        }
        break;
      }
      case 'submission': {
        const qid = f.qid;
        if (!ev.account) break;
        if (ev.rip) { push(id.saslByIp, ev.rip, ev); id.successIps.add(ev.rip); }
        if (qid) {
          qidAccount.set(qid, ev.account);
          id.submissions.set(qid, { account: ev.account, rip: ev.rip, qid, ts: ev.ts, size: null, nrcpt: null, deliveries: [], login: ev, scan: scans.get(qid) ?? null });
          // A server that logs the size on the submission line itself (Exim's `<=`).
          if (f.size !== null || f.nrcpt !== null) setSize(qid, { size: f.size, nrcpt: f.nrcpt });
        }
        break;
      }
      case 'message': setSize(f.qid, { size: f.size, nrcpt: f.nrcpt }); break;
      case 'requeue': {
        const acct = qidAccount.get(f.qid);
        if (acct) qidAccount.set(f.newQid, acct);
        break;
      }
      case 'delivery': {
        const qid = f.qid;
        const d: Delivery = {
          qid, ts: ev.ts, relayIp: ev.rip, relayPort: ev.rport, status: f.status, event: ev,
          account: qidAccount.get(qid) ?? null, size: f.size ?? sizes.get(qid)?.size ?? null,
        };
        id.deliveries.push(d);
        if (d.relayIp) push(id.deliveriesByRelay, d.relayIp, d);
        id.submissions.get(qid)?.deliveries.push(d);
        break;
      }
      case 'web-transfer':
        if (ev.rip) push(id.webTransfersByIp, ev.rip, ev);
        break;
      case 'auth-failure':
        if (!ev.rip) break;
        push(id.authFailByIp, ev.rip, ev);
        if (ev.account) push(id.authFailByAccount, ev.account, ev);
        break;
      case 'scan': {
        scans.set(f.qid, ev);
        const sub = id.submissions.get(f.qid);
        if (sub) sub.scan = ev;
        break;
      }
      default: break;
    }
  }

  function setSize(qid: string, v: { size: number | null; nrcpt: number | null }): void {
    sizes.set(qid, v);
    const sub = id.submissions.get(qid);
    if (sub) { sub.size = v.size; sub.nrcpt = v.nrcpt; }
  }

  for (const s of id.vpn) {
    for (const vip of s.vips) push(id.leasesByVip, vip, { account: s.account, vip, start: s.start, end: s.end, realIp: s.rip });
  }
  for (const l of extraLeases) push(id.leasesByVip, l.vip, l);
  return id;
}

/** What overlapping() knows of a list: its length then, whether it is sorted by start, its longest span. */
interface SpanIndex { length: number; sorted: boolean; maxSpan: number }
const spanIndexes = new WeakMap<object, SpanIndex>();

function spanIndex(list: ReadonlyArray<{ start: number; end: number }>): SpanIndex {
  let ix = spanIndexes.get(list);
  if (ix && ix.length === list.length) return ix;
  let sorted = true, maxSpan = 0;
  for (let i = 0; i < list.length; i++) {
    if (i > 0 && list[i].start < list[i - 1].start) sorted = false;
    maxSpan = Math.max(maxSpan, list[i].end - list[i].start);
  }
  ix = { length: list.length, sorted, maxSpan };
  spanIndexes.set(list, ix);
  return ix;
}

/** The first index in a start-sorted list whose start is >= t. */
function firstStartAtOrAfter(list: ReadonlyArray<{ start: number }>, t: number): number {
  let lo = 0, hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid].start < t) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/**
 * Sessions on an IP whose time span overlaps [from, to), with a margin for clock skew. A list
 * sorted by start (as built) is searched, not scanned: only sessions that start late enough to
 * reach `from`, given the list's longest span, and early enough to begin before `to`.
 */
export function overlapping<T extends { start: number; end: number }>(list: T[] | undefined, from: number, to: number, margin = 60_000): T[] {
  if (!list) return [];
  const ix = spanIndex(list);
  if (!ix.sorted) return list.filter((s) => s.start - margin < to && s.end + margin > from);
  const out: T[] = [];
  const end = firstStartAtOrAfter(list, to + margin);
  for (let i = firstStartAtOrAfter(list, from - margin - ix.maxSpan); i < end; i++) {
    const s = list[i];
    if (s.end + margin > from) out.push(s);
  }
  return out;
}

/** How long a webmail login is taken to stand without a newer one on its address (a working day). */
export const WEB_SESSION_MS = 12 * 3_600_000;

/**
 * The account logged in to the webmail from `ip` at `t`: the latest webmail login on that address
 * up to a minute after `t` (clock skew) and at most WEB_SESSION_MS before it. A newer login by
 * another account on the address (a shared NAT) takes over from then on.
 */
export function webAccountAt(ids: Identities, ip: string, t: number): WebLogin | null {
  const list = ids.webByIp.get(ip);
  return list ? webLoginAt(list, t) : null;
}

/** webAccountAt over the webmail logins of one address (whois-user has no Identities). */
export function webLoginAt(list: readonly WebLogin[], t: number): WebLogin | null {
  let best: WebLogin | null = null;
  for (const w of list) if (w.start <= t + 60_000 && w.start >= t - WEB_SESSION_MS && (!best || w.start >= best.start)) best = w;
  return best;
}
