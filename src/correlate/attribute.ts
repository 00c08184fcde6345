/**
 * Attribution: every flow record in the window goes to exactly one bucket, either an account
 * (with a confidence) or an unattributed reason. Several accounts on one IP at once split the
 * bytes, by their own session counters where those exist.
 */
import { groupOfService } from '../flows/services.js';
import type { FlowRow } from '../store/index.js';
import { GROUP_OF_REALM } from '../sources/index.js';
import type { Identities, Lease, MailSession } from './identities.js';
import { overlapping, webAccountAt } from './identities.js';
import type { Confidence, ServiceGroup } from './types.js';

export interface Share { account: string; weight: number }

export interface Attribution {
  kind: 'account';
  group: ServiceGroup;
  confidence: Confidence;
  shares: Share[];
  /** The bytes are a second copy of VPN traffic already counted through the tunnel. */
  duplicate: boolean;
}

export interface Unattributed { kind: 'unattributed'; reason: string; group: ServiceGroup }

export type Verdict = Attribution | Unattributed;

export interface AttributionContext {
  ids: Identities;
  /** VPN service ports on the server (default 1194). */
  vpnPorts: Set<number>;
  /** Per remote IP: firewall drops and the distinct local ports they aimed at. */
  drops: Map<string, { count: number; ports: Set<number> }>;
  /** Accounts that have tunnel traffic in the window (their tun0/forwarded copies are duplicates). */
  tunnelAccounts: Set<string>;
  /** Inner VPN flows by `proto|remote ip|remote port|minute`, to recognise their forwarded copy on eth0. */
  innerKeys: Map<string, string>;
  /** The last login from an IP, older than the identities, that never logged out (ip-only). */
  openLoginOn?: (ip: string) => { account: string; service: string } | null;
  /** Shares by the set of sessions they come from: neighbouring minutes share the same sessions. */
  memo?: WeakMap<MailSession, Map<string, Share[]>>;
}

/** The groups correlation treats by their realm (a VPN's, a webmail's), whatever the sources name them. */
const TUNNEL = GROUP_OF_REALM.tunnel, WEB = GROUP_OF_REALM.web;

/** The group a flow's service is declared under (src/sources/), else the VPN's on a VPN port, else `other`. */
export function groupOf(f: FlowRow, vpnPorts: Set<number>): ServiceGroup {
  return groupOfService(f.service) ?? (vpnPorts.has(f.lport) ? TUNNEL : 'other');
}

const MINUTE = 60_000;

function sharesFromMail(sessions: MailSession[]): Share[] {
  const by = new Map<string, { out: number; n: number; known: boolean }>();
  for (const s of sessions) {
    const v = by.get(s.account) ?? { out: 0, n: 0, known: true };
    v.n++;
    if (s.bytesOut !== null) v.out += s.bytesOut + (s.bytesIn ?? 0); else v.known = false;
    by.set(s.account, v);
  }
  const all = [...by.entries()];
  // Split by the sessions' own byte counters when every account has them; else by session count.
  const useCounters = all.every(([, v]) => v.known) && all.some(([, v]) => v.out > 0);
  return all.map(([account, v]) => ({ account, weight: useCounters ? v.out : v.n }));
}

/** sharesFromMail, remembered per set of sessions (keyed on the first session and the count). */
function memoShares(ctx: AttributionContext, sessions: MailSession[]): Share[] {
  if (sessions.length === 1) return [{ account: sessions[0].account, weight: 1 }];
  const memo = (ctx.memo ??= new WeakMap());
  const key = sessions.map((s) => s.start + '/' + s.account).join('|');
  let m = memo.get(sessions[0]);
  if (!m) { m = new Map(); memo.set(sessions[0], m); }
  let sh = m.get(key);
  if (!sh) { sh = sharesFromMail(sessions); m.set(key, sh); }
  return sh;
}

function accountVerdict(group: ServiceGroup, shares: Share[], exactConfidence: Confidence, duplicate = false): Attribution {
  // One share needs no merging (most flows: one session on the IP).
  if (shares.length === 1) return { kind: 'account', group, confidence: exactConfidence, shares, duplicate };
  const merged = new Map<string, number>();
  for (const s of shares) merged.set(s.account, (merged.get(s.account) ?? 0) + s.weight);
  const list = [...merged.entries()].map(([account, weight]) => ({ account, weight }));
  return { kind: 'account', group, confidence: list.length > 1 ? (exactConfidence === 'ip-only' ? 'ip-only' : 'shared-ip') : exactConfidence, shares: list, duplicate };
}

function leaseAt(ids: Identities, ip: string, from: number, to: number): Lease[] {
  return overlapping(ids.leasesByVip.get(ip), from, to, 5 * MINUTE);
}

/** TCP or UDP with remote port 0: probes folded into one record by the capture's aggregator. */
function isFoldedProbe(f: FlowRow): boolean {
  return f.rport === 0 && f.lport !== 0 && (f.proto === 6 || f.proto === 17);
}

function scanOrBrute(ctx: AttributionContext, f: FlowRow, group: ServiceGroup): string | null {
  const fails = ctx.ids.authFailByIp.get(f.rip);
  if (fails && fails.length >= 3 && !ctx.ids.successIps.has(f.rip)) return 'bruteforce';
  const d = ctx.drops.get(f.rip);
  if (d && (d.count >= 5 || d.ports.size >= 3)) return 'scan';
  // A folded record (remote port 0, see `foldRows` in flows/aggregate.ts) holds only such probes.
  if (group === 'other' && f.bytesOut === 0 && (f.packetsIn <= 3 || isFoldedProbe(f))) return 'scan';
  return null;
}

export function attributeFlow(f: FlowRow, ctx: AttributionContext): Verdict {
  const { ids } = ctx;
  const group = groupOf(f, ctx.vpnPorts);
  const from = f.minute, to = f.minute + MINUTE;

  // Traffic to or from a VPN client's virtual address (tun0, or forwarded before NAT).
  for (let side = 0; side < 2; side++) {
    const leases = leaseAt(ids, side === 0 ? f.rip : f.lip, from, to);
    if (leases.length) {
      const accounts = leases.map((l) => ({ account: l.account, weight: 1 }));
      const dup = leases.some((l) => ctx.tunnelAccounts.has(l.account));
      return accountVerdict(TUNNEL, accounts, 'exact', dup);
    }
  }

  switch (group) {
    case 'imap': case 'pop3': {
      const onIp = ids.mailByIp.get(f.rip);
      const all = overlapping(onIp, from, to).filter((s) => s.service === group);
      if (all.length) {
        const byPort = all.filter((s) => s.rport !== null && s.rport === f.rport);
        return accountVerdict(group, memoShares(ctx, byPort.length ? byPort : all), 'exact');
      }
      const near = overlapping(onIp, from, to, 6 * 3_600_000).filter((s) => s.service === group);
      if (near.length) return accountVerdict(group, memoShares(ctx, near), 'ip-only');
      const old = ctx.openLoginOn?.(f.rip);
      if (old && old.service === group) return accountVerdict(group, [{ account: old.account, weight: 1 }], 'ip-only');
      return { kind: 'unattributed', reason: scanOrBrute(ctx, f, group) ?? 'unknown', group };
    }
    case 'submission': case 'smtp': {
      if (f.lport === 25 || f.lport === 587 || f.lport === 465 || group === 'submission') {
        // Inbound: a client or a remote MTA talking to our smtpd.
        const logins = (ids.saslByIp.get(f.rip) ?? []).filter((e) => e.ts > from - 15 * MINUTE && e.ts < to + 15 * MINUTE && e.account);
        if (logins.length) return accountVerdict(group, logins.map((e) => ({ account: e.account!, weight: 1 })), 'exact');
        const brute = scanOrBrute(ctx, f, group);
        if (brute) return { kind: 'unattributed', reason: brute, group };
        return { kind: 'unattributed', reason: f.lport === 25 ? 'inbound-mail' : 'unknown', group };
      }
      // Outbound: our smtp client delivering to a remote MTA. Follow the queue id back to the sender.
      const ds = (ids.deliveriesByRelay.get(f.rip) ?? []).filter((d) => d.ts >= from - 3 * MINUTE && d.ts < to + 3 * MINUTE);
      const owned = ds.filter((d) => d.account);
      if (owned.length) {
        return accountVerdict('smtp', owned.map((d) => ({ account: d.account!, weight: d.size ?? 1 })), owned.length === ds.length ? 'exact' : 'shared-ip');
      }
      return { kind: 'unattributed', reason: ds.length ? 'outbound-mail' : 'outbound-unknown', group };
    }
    case TUNNEL: {
      const sessions = overlapping(ids.vpnByIp.get(f.rip), from, to);
      if (sessions.length) {
        const byPort = sessions.filter((s) => s.rport !== null && s.rport === f.rport);
        return accountVerdict(TUNNEL, (byPort.length ? byPort : sessions).map((s) => ({ account: s.account, weight: 1 })), 'exact');
      }
      const near = overlapping(ids.vpnByIp.get(f.rip), from, to, 6 * 3_600_000);
      if (near.length) return accountVerdict(TUNNEL, near.map((s) => ({ account: s.account, weight: 1 })), 'ip-only');
      return { kind: 'unattributed', reason: scanOrBrute(ctx, f, group) ?? 'unknown', group };
    }
    case 'dns':
      return { kind: 'unattributed', reason: 'dns', group };
    default: {
      // A forwarded copy of a VPN client's connection, after NAT, on the outside interface.
      const acct = ctx.innerKeys.get(`${f.proto}|${f.rip}|${f.rport}|${f.minute}`);
      if (acct && f.iface !== '' && !ctx.vpnPorts.has(f.lport)) return accountVerdict(TUNNEL, [{ account: acct, weight: 1 }], 'exact', true);
      if (acct && f.iface === '') return accountVerdict(TUNNEL, [{ account: acct, weight: 1 }], 'exact', true);
      const sb = scanOrBrute(ctx, f, group);
      if (sb) return { kind: 'unattributed', reason: sb, group };
      if (f.service === 'http' || f.service === 'https') {
        // A webmail user's downloads: the account logged in to the webmail from this address.
        // Exact when the access log shows webmail requests from it that minute, else by address only.
        const w = webAccountAt(ids, f.rip, f.minute);
        if (w) {
          const seen = ids.webTransfersByIp.get(f.rip)?.some((e) => e.ts >= from - MINUTE && e.ts < to + MINUTE);
          return accountVerdict(WEB, [{ account: w.account, weight: 1 }], seen ? 'exact' : 'ip-only');
        }
        return { kind: 'unattributed', reason: 'web', group };
      }
      if (f.service === 'ssh') return { kind: 'unattributed', reason: 'ssh', group };
      return { kind: 'unattributed', reason: 'unknown', group };
    }
  }
}
