/**
 * Time-bounded identities built from events: who was behind which IP, on which service, when.
 * Joins only on documented keys: time, IPs and ports, session ids, queue ids and accounts.
 */
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
  /** Events seen from an IP that prove a successful login (used to tell bruteforce from use). */
  successIps: Set<string>;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && /^\d+$/.test(v) ? +v : null);

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v); else m.set(k, [v]);
}

function mailService(ev: StoredEvent): 'imap' | 'pop3' | null {
  const s = str(ev.attrs?.service) ?? (ev.program?.startsWith('pop3') ? 'pop3' : ev.program?.startsWith('imap') ? 'imap' : null);
  return s === 'imap' || s === 'pop3' ? s : null;
}

/**
 * `events` must be sorted by time and cover the window plus a look-back for logins.
 * `end` is the end of the data: sessions still open run to it.
 */
export function buildIdentities(events: StoredEvent[], dataEnd: number, extraLeases: Lease[] = []): Identities {
  const id: Identities = {
    mail: [], mailByIp: new Map(), vpn: [], vpnByIp: new Map(), leasesByVip: new Map(), submissions: new Map(),
    saslByIp: new Map(), deliveriesByRelay: new Map(), deliveries: [], authFailByIp: new Map(), authFailByAccount: new Map(), successIps: new Set(),
  };
  // Dovecot: a logout finds its login by session key (`<mpid><sid>`), else by pid and account.
  const openBySession = new Map<string, MailSession>();
  const openByPid = new Map<string, MailSession>();
  const vpnOpen = new Map<string, VpnSession>();
  const qidAccount = new Map<string, string>();
  const sizes = new Map<string, { size: number | null; nrcpt: number | null }>();
  const scans = new Map<string, StoredEvent>();

  for (const ev of events) {
    if (ev.source === 'dovecot') {
      if (ev.kind === 'login' && ev.account && ev.rip) {
        const service = mailService(ev);
        if (!service) continue;
        const s: MailSession = { account: ev.account, rip: ev.rip, rport: ev.rport, service, start: ev.ts, end: dataEnd, open: true, bytesIn: null, bytesOut: null, login: ev, logout: null };
        id.mail.push(s);
        push(id.mailByIp, ev.rip, s);
        id.successIps.add(ev.rip);
        if (ev.session) openBySession.set(ev.session, s);
        const pid = num(ev.attrs?.pid);
        if (pid !== null) openByPid.set(`${pid}/${ev.account}`, s);
      } else if (ev.kind === 'logout' || ev.kind === 'disconnect') {
        let s = ev.session ? openBySession.get(ev.session) : undefined;
        const pid = num(ev.attrs?.pid);
        if (!s && pid !== null && ev.account) s = openByPid.get(`${pid}/${ev.account}`);
        if (!s || !s.open) continue;
        s.open = false;
        s.end = ev.ts;
        s.bytesIn = ev.bytesIn;
        s.bytesOut = ev.bytesOut;
        s.logout = ev;
        if (ev.session) openBySession.delete(ev.session);
        if (pid !== null) openByPid.delete(`${pid}/${s.account}`);
      } else if (ev.kind === 'auth-fail' && ev.rip) {
        push(id.authFailByIp, ev.rip, ev);
        if (ev.account) push(id.authFailByAccount, ev.account, ev);
      }
    } else if (ev.source === 'openvpn') {
      // The parser's session key is `cn/ip:port` (or `ip:port` before the CN is known).
      const addrKey = ev.rip ? `${ev.rip}:${ev.rport ?? ''}` : null;
      const key = addrKey;
      if (ev.kind === 'connect' && ev.attrs?.float && typeof ev.attrs.fromIp === 'string') {
        // The client floated to a new address: its old session ends here.
        const old = vpnOpen.get(`${ev.attrs.fromIp}:${ev.attrs.fromPort ?? ''}`);
        if (old && old.open) { old.open = false; old.end = ev.ts; }
      }
      if (ev.kind === 'connect' && ev.account && ev.rip && key) {
        const prev = vpnOpen.get(key);
        if (prev && prev.account === ev.account && prev.open) { prev.events.push(ev); continue; }
        const s: VpnSession = { account: ev.account, rip: ev.rip, rport: ev.rport, start: ev.ts, end: dataEnd, open: true, vips: [], events: [ev] };
        vpnOpen.set(key, s);
        id.vpn.push(s);
        push(id.vpnByIp, ev.rip, s);
        id.successIps.add(ev.rip);
      } else if ((ev.kind === 'lease' || ev.kind === 'learn') && key) {
        const vip = str(ev.attrs?.vip);
        let s = vpnOpen.get(key);
        if (!s && ev.account && ev.rip) {
          // A lease without a logged connect (log started mid-session): the lease itself names the client.
          s = { account: ev.account, rip: ev.rip, rport: ev.rport, start: ev.ts, end: dataEnd, open: true, vips: [], events: [] };
          vpnOpen.set(key, s); id.vpn.push(s); push(id.vpnByIp, ev.rip, s);
        }
        if (!s) continue;
        s.events.push(ev);
        for (const v of [vip, str(ev.attrs?.vip6)]) if (v && !s.vips.includes(v)) s.vips.push(v);
      } else if (ev.kind === 'disconnect' && key) {
        const s = vpnOpen.get(key);
        if (s && s.open) { s.open = false; s.end = ev.ts; s.events.push(ev); vpnOpen.delete(key); }
      } else if (ev.kind === 'auth-fail' && ev.rip) {
        push(id.authFailByIp, ev.rip, ev);
        if (ev.account) push(id.authFailByAccount, ev.account, ev);
      }
    } else if (ev.source === 'postfix') {
      const qid = ev.session;
      if (ev.kind === 'sasl-login' && ev.account) {
        if (ev.rip) { push(id.saslByIp, ev.rip, ev); id.successIps.add(ev.rip); }
        if (qid) {
          qidAccount.set(qid, ev.account);
          id.submissions.set(qid, { account: ev.account, rip: ev.rip, qid, ts: ev.ts, size: null, nrcpt: null, deliveries: [], login: ev, scan: scans.get(qid) ?? null });
        }
      } else if (ev.kind === 'queued' && qid) {
        const v = { size: num(ev.attrs?.size), nrcpt: num(ev.attrs?.nrcpt) };
        sizes.set(qid, v);
        const sub = id.submissions.get(qid);
        if (sub) { sub.size = v.size; sub.nrcpt = v.nrcpt; }
      } else if (ev.kind === 'bounce' && qid) {
        // The non-delivery notice travels under a new queue id; it is still the sender's traffic.
        const bq = str(ev.attrs?.bounceQueueId);
        const acct = qidAccount.get(qid);
        if (bq && acct) qidAccount.set(bq, acct);
      } else if (ev.kind === 'delivery' && qid) {
        const d: Delivery = {
          qid, ts: ev.ts, relayIp: ev.rip, relayPort: ev.rport, status: str(ev.attrs?.status) ?? 'unknown', event: ev,
          account: qidAccount.get(qid) ?? null, size: sizes.get(qid)?.size ?? null,
        };
        id.deliveries.push(d);
        if (d.relayIp) push(id.deliveriesByRelay, d.relayIp, d);
        id.submissions.get(qid)?.deliveries.push(d);
      } else if (ev.kind === 'sasl-fail' && ev.rip) {
        push(id.authFailByIp, ev.rip, ev);
        if (ev.account) push(id.authFailByAccount, ev.account, ev);
      }
    } else if (ev.source === 'rspamd' && ev.kind === 'scan' && ev.session) {
      scans.set(ev.session, ev);
      const sub = id.submissions.get(ev.session);
      if (sub) sub.scan = ev;
    }
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
