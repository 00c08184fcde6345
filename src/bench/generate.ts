/**
 * Deterministic generator of realistic server logs for the benchmark and for tests that need
 * volume (kill -9 safety). Two mixes:
 *
 * - `busy` (the benchmark's default): a busy day as a real server sees it. Thousands of DNS
 *   clients asking for a few names at a time, from random source ports, with a long tail of names, scanners sweeping ports from
 *   tens of thousands of addresses, 2,000 mailboxes with long-lived IMAP sessions, and rspamd
 *   in its own file. Per-minute aggregates then hold few lines each (issue 12: the lighter
 *   mix hid what a real day costs to store).
 * - `legacy` (the default for tests, and `BENCH_MIX=legacy`): the earlier mix, byte for byte,
 *   whose few hundred clients and scanners aggregate well.
 *
 * Four files (five in `busy`), as a mail and VPN server writes them:
 *
 * - `mail.log`: Postfix (inbound MX traffic, submissions, rejects, SASL guessing), Dovecot (IMAP
 *   and POP3 sessions, LMTP deliveries, failed logins) and rspamd, all through syslog;
 * - `kern.log`: netfilter drops (scanner bursts and brute-force retries);
 * - `query.log`: BIND's own query channel;
 * - `openvpn.log`: OpenVPN's own log (connects with their TLS chatter, leases, disconnects);
 * - `rspamd.log` (`busy` only): rspamd's own log, instead of its lines in mail.log.
 *
 * The legacy mix by source is about Postfix 35%, Dovecot 15%, netfilter 20%, BIND 20%, rspamd
 * 5% and OpenVPN 5% of lines; the busy mix about Postfix 30%, Dovecot 10%, netfilter 27%, BIND
 * 27%, rspamd 4% and OpenVPN 3%. Lines are scheduled on one clock (sessions end minutes after they
 * start), so every file is in time order. Documentation address ranges only.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';

/** Changes whenever the output for a given size and seed changes (the bench reuses earlier output). */
export const GENERATOR_VERSION = 4;

export type LogMix = 'busy' | 'legacy';

/** What differs between the mixes: population sizes, how skewed the traffic is, and session lengths. */
interface MixProfile {
  users: number; clients: number; scanners: number; resolverClients: number; names: number;
  /** Exponent of the skew towards busy resolver clients and names (1: uniform). */
  dnsSkew: number;
  /** Share of netfilter bursts that sweep ports, and the longest burst. */
  sweep: number; maxBurst: number;
  /** Longest IMAP session (ms). */
  imapMaxMs: number;
  rspamdFile: boolean;
  /** Scenario weights: inbound, submission, milterReject, rcptReject, saslGuess, mailbox, authFail, drops, query, vpn. */
  weights: number[];
  /** Lines per scenario on average (spaces the scenarios over about a day). */
  linesPerScenario: number;
}

const PROFILES: Record<LogMix, MixProfile> = {
  legacy: {
    users: 400, clients: 300, scanners: 2000, resolverClients: 250, names: 3000, dnsSkew: 2.5, sweep: 0.3, maxBurst: 8,
    imapMaxMs: 30 * 60_000, rspamdFile: false, weights: [1.0, 1.0, 0.3, 3.6, 0.9, 5.3, 1.0, 7.1, 18.4, 0.35], linesPerScenario: 2.35,
  },
  busy: {
    users: 2000, clients: 3000, scanners: 30_000, resolverClients: 6000, names: 40_000, dnsSkew: 1.3, sweep: 0.6, maxBurst: 20,
    imapMaxMs: 10 * 3_600_000, rspamdFile: true, weights: [1.0, 0.8, 0.3, 3.0, 0.9, 3.2, 1.0, 5.2, 9.6, 0.2], linesPerScenario: 3.8,
  },
};

/** Small, fast, seeded PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MON = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const p2 = (n: number) => (n < 10 ? '0' + n : String(n));

export function bsdStamp(t: number): string {
  const d = new Date(t);
  const day = d.getUTCDate();
  return `${MON[d.getUTCMonth()]} ${day < 10 ? ' ' + day : day} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`;
}

function isoSpace(t: number): string {
  return new Date(t).toISOString().slice(0, 19).replace('T', ' ');
}

function bindStamp(t: number): string {
  const d = new Date(t);
  return `${p2(d.getUTCDate())}-${MON[d.getUTCMonth()]}-${d.getUTCFullYear()} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}.${String(d.getUTCMilliseconds()).padStart(3, '0')}`;
}

export interface GenOptions { dir: string; lines: number; seed?: number; start?: number; host?: string; mix?: LogMix }
export interface GenResult {
  /** mail, kern, named, openvpn, and rspamd in the busy mix. */
  files: Record<string, string> & Record<'mail' | 'kern' | 'named' | 'openvpn', string>;
  /** Lines per file. */
  lines: Record<string, number>;
  /** Lines per writing program (postfix, dovecot, rspamd, netfilter, bind, openvpn). */
  sources: Record<string, number>;
}

type FileKey = 'mail' | 'kern' | 'named' | 'openvpn' | 'rspamd';
type SourceKey = 'postfix' | 'dovecot' | 'rspamd' | 'netfilter' | 'bind' | 'openvpn';

const SERVER = '192.0.2.10';
const SERVER6 = '2001:db8::10';

/** A line due at `t`; `seq` keeps lines scheduled for the same instant in order. */
interface Due { t: number; seq: number; file: FileKey; source: SourceKey; text: (t: number) => string }

/** Binary min-heap of lines not yet written, ordered by time then by scheduling order. */
class Schedule {
  private heap: Due[] = [];
  private seq = 0;
  get size(): number { return this.heap.length; }
  peek(): Due | undefined { return this.heap[0]; }
  push(t: number, file: FileKey, source: SourceKey, text: (t: number) => string): void {
    const h = this.heap;
    const d: Due = { t, seq: this.seq++, file, source, text };
    let i = h.push(d) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }
  pop(): Due | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && before(h[l], h[m])) m = l;
        if (r < h.length && before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}
const before = (a: Due, b: Due) => a.t < b.t || (a.t === b.t && a.seq < b.seq);

/** Write a realistic mix of `lines` lines (exactly); returns the files and the line counts. */
export async function generateLogs(o: GenOptions): Promise<GenResult> {
  const r = rng(o.seed ?? 42);
  const host = o.host ?? 'mx1';
  const start = o.start ?? Date.UTC(2026, 10, 20, 0, 0, 0);
  const mix = o.mix ?? 'legacy';
  const P = PROFILES[mix];
  const busy = mix === 'busy';
  const files: GenResult['files'] = {
    mail: join(o.dir, 'mail.log'), kern: join(o.dir, 'kern.log'), named: join(o.dir, 'query.log'), openvpn: join(o.dir, 'openvpn.log'),
    ...(P.rspamdFile ? { rspamd: join(o.dir, 'rspamd.log') } : {}),
  };
  const keys = Object.keys(files) as FileKey[];
  const out = Object.fromEntries(keys.map((k) => [k, createWriteStream(files[k])])) as Record<FileKey, WriteStream>;
  const counts: Record<string, number> = Object.fromEntries(keys.map((k) => [k, 0]));
  const sources: Record<string, number> = { postfix: 0, dovecot: 0, rspamd: 0, netfilter: 0, bind: 0, openvpn: 0 };
  const buffers = Object.fromEntries(keys.map((k) => [k, []])) as unknown as Record<FileKey, string[]>;
  const flush = async (k: FileKey, force = false) => {
    if (buffers[k].length < 4000 && !force) return;
    const text = buffers[k].join('');
    buffers[k] = [];
    if (!out[k].write(text)) await new Promise<void>((res) => out[k].once('drain', () => res()));
  };

  // Stamps are the same for many lines in a row: cache the last one per format.
  let bsdT = -1, bsdS = '', isoT = -1, isoS = '';
  const bsd = (t: number) => { const s = Math.floor(t / 1000); if (s !== bsdT) { bsdT = s; bsdS = bsdStamp(t); } return bsdS; };
  const iso = (t: number) => { const s = Math.floor(t / 1000); if (s !== isoT) { isoT = s; isoS = isoSpace(t); } return isoS; };

  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)];
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  /** Index in [0, n) skewed towards 0 (a few busy users, scanners, names do most of the traffic). */
  const skewed = (n: number) => Math.floor(n * r() ** 2.5);
  const hex = (n: number, upper = false) => { let s = ''; for (let i = 0; i < n; i++) s += (upper ? '0123456789ABCDEF' : '0123456789abcdef')[Math.floor(r() * 16)]; return s; };
  const b64 = (n: number) => { const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'; let s = ''; for (let i = 0; i < n; i++) s += A[Math.floor(r() * 64)]; return s; };

  const users = Array.from({ length: P.users }, (_, i) => `user${i}@example.com`);
  // The busy mix draws most outside addresses from IPv6 documentation space: IPv4's has only
  // about 500 addresses, too few for tens of thousands of scanners.
  const extIp = busy
    ? () => (r() < 0.6 ? `2001:db8:${int(1, 0xffff).toString(16)}:${int(0, 255).toString(16)}::${int(1, 0xfff).toString(16)}` : `${pick(['198.51.100.', '203.0.113.'])}${int(1, 254)}`)
    : () => (r() < 0.08 ? `2001:db8:${hex(3)}::${hex(2)}` : `${pick(['198.51.100.', '203.0.113.'])}${int(1, 254)}`);
  const clientIps = Array.from({ length: P.clients }, () => extIp());
  const scanners = Array.from({ length: P.scanners }, () => extIp());
  const resolverClients = busy
    ? Array.from({ length: P.resolverClients }, (_, i) => (i < 230 ? `192.0.2.${20 + i}` : `2001:db8:1:${(i >> 8).toString(16)}::${(i & 255).toString(16)}`))
    : Array.from({ length: 250 }, (_, i) => (i < 200 ? `192.0.2.${20 + (i % 200)}` : `2001:db8:1::${(i - 199).toString(16)}`));
  const relays = [['mx.example.net', '198.51.100.25'], ['mx1.example.org', '203.0.113.25'], ['aspmx.example.com', '198.51.100.26'], ['mx2.example.org', '2001:db8:25::2']];
  const senders = ['news@example.org', 'billing@example.net', 'noreply@example.org', 'alerts@example.net', 'friend@example.net'];
  const names = Array.from({ length: P.names }, (_, i) => `${pick(['www', 'api', 'cdn', 'mail', 'img', 'static', 'login', 'ns'])}${i}.example.${pick(['com', 'net', 'org'])}`);
  const qtypes = ['A', 'A', 'A', 'A', 'A', 'AAAA', 'AAAA', 'AAAA', 'MX', 'TXT', 'PTR', 'HTTPS', 'SRV', 'ANY'];
  const dropPorts = [22, 22, 22, 23, 23, 3389, 445, 25, 8080, 80, 443, 5060, 1433, 3306, 6379, 2375];
  const sched = new Schedule();
  let pid = 10_000;
  let vipNext = 0;
  const vpnActive: Array<{ cn: string; cip: string }> = [];

  const at = (t: number, file: FileKey, source: SourceKey, text: (t: number) => string) => sched.push(t, file, source, text);
  const mail = (t: number, source: SourceKey, body: string) => at(t, 'mail', source, (tt) => `${bsd(tt)} ${host} ${body}`);

  /** rspamd's result for a message (and the parse line before it). */
  /** An rspamd line: through syslog into mail.log, or (busy mix) rspamd's own file and format. */
  const rspamdLine = P.rspamdFile
    ? (t: number, body: string) => at(t, 'rspamd', 'rspamd', (tt) => `${iso(tt)} #2203(normal) ${body}`)
    : (t: number, body: string) => mail(t, 'rspamd', `rspamd[2203]: ${body}`);
  const rspamdScan = (t: number, q: string, msgId: string, cip: string, user: string | null, from: string, rcpt: string, size: number, spam: boolean) => {
    const tag = hex(6);
    rspamdLine(t, `<${tag}>; task; rspamd_message_parse: loaded message; id: <${msgId}>; queue-id: <${q}>; size: ${size}; checksum: <${hex(32)}>`);
    const verdict = spam ? `T (reject): [${(15 + r() * 10).toFixed(2)}/15.00] [BAYES_SPAM(5.10){99.88%;},RBL_SPAMHAUS_XBL(4.00){${cip}:from;},R_SPF_FAIL(1.00){-all;}]`
      : `F (no action): [${(r() * 4 - 1).toFixed(2)}/15.00] [MIME_GOOD(-0.10){text/plain;},ARC_NA(0.00){},FROM_EQ_ENVFROM(0.00){},RCPT_COUNT_ONE(0.00){1;}]`;
    rspamdLine(t + 80, `<${tag}>; task; rspamd_task_write_log: id: <${msgId}>, qid: <${q}>, ip: ${cip}, user: ${user ?? 'undef'}, from: <${from}>, (default: ${verdict}), len: ${size}, time: ${(20 + r() * 400).toFixed(2)}ms, dns req: ${int(0, 30)}, digest: <${hex(32)}>, rcpts: <${rcpt}>, mime_rcpts: <${rcpt}>`);
  };

  // ---- scenarios; each returns nothing, lines go through the schedule ----

  /** An inbound message from another MX, scanned and delivered to a mailbox over LMTP. */
  const inbound = (t: number) => {
    const p = ++pid, q = hex(11, true), cip = pick(clientIps), from = pick(senders), to = users[skewed(users.length)];
    const size = int(2000, 200_000), msgId = `${hex(16)}@${from.split('@')[1]}`;
    const name = r() < 0.6 ? `mail-${hex(4)}.${from.split('@')[1]}` : 'unknown';
    mail(t, 'postfix', `postfix/smtpd[${p}]: connect from ${name}[${cip}]`);
    mail(t + 120, 'postfix', `postfix/smtpd[${p}]: Anonymous TLS connection established from ${name}[${cip}]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256`);
    mail(t + 400, 'postfix', `postfix/smtpd[${p}]: ${q}: client=${name}[${cip}]`);
    mail(t + 500, 'postfix', `postfix/cleanup[${p + 1}]: ${q}: message-id=<${msgId}>`);
    rspamdScan(t + 600, q, msgId, cip, null, from, to, size, false);
    mail(t + 800, 'postfix', `postfix/qmgr[1011]: ${q}: from=<${from}>, size=${size}, nrcpt=1 (queue active)`);
    mail(t + 900, 'postfix', `postfix/smtpd[${p}]: disconnect from ${name}[${cip}] ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7`);
    const lp = p + 2;
    mail(t + 1000, 'dovecot', `dovecot: lmtp(${to})<${lp}><${b64(22)}>: msgid=<${msgId}>: saved mail to INBOX`);
    mail(t + 1010, 'postfix', `postfix/lmtp[${lp}]: ${q}: to=<${to}>, relay=mail.example.com[private/dovecot-lmtp], delay=1, delays=0.8/0.01/0.01/0.2, dsn=2.0.0, status=sent (250 2.0.0 <${to}> ${b64(22)} Saved)`);
    mail(t + 1020, 'postfix', `postfix/qmgr[1011]: ${q}: removed`);
  };

  /** A message submitted by a user and relayed to a remote MX. */
  const submission = (t: number) => {
    const p = ++pid, q = hex(11, true), u = users[skewed(users.length)], cip = pick(clientIps), [rname, rip] = pick(relays);
    const size = int(1000, 5_000_000), to = `someone${int(1, 999)}@example.net`, msgId = `${hex(12)}.${p}@example.com`;
    mail(t, 'postfix', `postfix/submission/smtpd[${p}]: connect from unknown[${cip}]`);
    mail(t + 300, 'postfix', `postfix/submission/smtpd[${p}]: ${q}: client=unknown[${cip}], sasl_method=PLAIN, sasl_username=${u}`);
    mail(t + 400, 'postfix', `postfix/cleanup[${p + 1}]: ${q}: message-id=<${msgId}>`);
    rspamdScan(t + 500, q, msgId, cip, u, u, to, size, false);
    mail(t + 700, 'postfix', `postfix/qmgr[1011]: ${q}: from=<${u}>, size=${size}, nrcpt=1 (queue active)`);
    mail(t + 800, 'postfix', `postfix/submission/smtpd[${p}]: disconnect from unknown[${cip}] ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=8`);
    const sp = p + 2;
    mail(t + 1500, 'postfix', `postfix/smtp[${sp}]: Verified TLS connection established to ${rname}[${rip}]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)`);
    const status = r() < 0.93 ? `status=sent (250 2.0.0 Ok: queued as ${hex(10, true)})` : 'status=deferred (host said: 450 4.7.1 Greylisted, try again later (in reply to RCPT TO command))';
    mail(t + 2300, 'postfix', `postfix/smtp[${sp}]: ${q}: to=<${to}>, relay=${rname}[${rip}]:25, delay=2.3, delays=0.7/0.01/0.6/1, dsn=${status.startsWith('status=sent') ? '2.0.0' : '4.7.1'}, ${status}`);
    if (status.startsWith('status=sent')) mail(t + 2310, 'postfix', `postfix/qmgr[1011]: ${q}: removed`);
  };

  /** A spam run rejected by rspamd at end of DATA. */
  const milterReject = (t: number) => {
    const p = ++pid, q = hex(11, true), cip = pick(scanners), to = users[skewed(users.length)], msgId = `${hex(20)}@example.org`;
    mail(t, 'postfix', `postfix/smtpd[${p}]: connect from unknown[${cip}]`);
    mail(t + 300, 'postfix', `postfix/smtpd[${p}]: ${q}: client=unknown[${cip}]`);
    mail(t + 400, 'postfix', `postfix/cleanup[${p + 1}]: ${q}: message-id=<${msgId}>`);
    rspamdScan(t + 500, q, msgId, cip, null, 'promo@example.org', to, int(3000, 30_000), true);
    mail(t + 700, 'postfix', `postfix/cleanup[${p + 1}]: ${q}: milter-reject: END-OF-MESSAGE from unknown[${cip}]: 5.7.1 Spam message rejected; from=<promo@example.org> to=<${to}> proto=ESMTP helo=<example.org>`);
    mail(t + 900, 'postfix', `postfix/smtpd[${p}]: disconnect from unknown[${cip}] ehlo=1 mail=1 rcpt=1 data=0/1 quit=1 commands=4/5`);
  };

  /** A bot rejected at RCPT (relay attempt or unknown user). */
  const rcptReject = (t: number) => {
    const p = ++pid, cip = pick(scanners);
    mail(t, 'postfix', `postfix/smtpd[${p}]: connect from unknown[${cip}]`);
    const why = r() < 0.5 ? `554 5.7.1 <spam${int(1, 99)}@example.org>: Relay access denied; from=<x@example.org> to=<spam@example.org>`
      : `550 5.1.1 <nobody${int(1, 999)}@example.com>: Recipient address rejected: User unknown in virtual mailbox table; from=<x@example.org> to=<nobody@example.com>`;
    mail(t + 600, 'postfix', `postfix/smtpd[${p}]: NOQUEUE: reject: RCPT from unknown[${cip}]: ${why} proto=ESMTP helo=<example.org>`);
    if (r() < 0.3) mail(t + 800, 'postfix', `postfix/smtpd[${p}]: lost connection after RCPT from unknown[${cip}]`);
    mail(t + 900, 'postfix', `postfix/smtpd[${p}]: disconnect from unknown[${cip}] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4`);
  };

  /** SASL password guessing on the submission port. */
  const saslGuess = (t: number) => {
    const p = ++pid, cip = pick(scanners);
    mail(t, 'postfix', `postfix/submission/smtpd[${p}]: connect from unknown[${cip}]`);
    mail(t + 2000, 'postfix', `postfix/submission/smtpd[${p}]: warning: unknown[${cip}]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=${pick(['admin', 'info', 'test', users[skewed(users.length)]])}`);
    mail(t + 2100, 'postfix', `postfix/submission/smtpd[${p}]: disconnect from unknown[${cip}] ehlo=1 auth=0/1 quit=1 commands=2/3`);
  };

  /** An IMAP (or POP3) session: login now, logout with byte counts minutes later. */
  const mailboxSession = (t: number) => {
    const u = users[skewed(users.length)], cip = pick(clientIps), p = ++pid, sid = b64(16);
    const pop = r() < 0.1;
    const svc = pop ? 'pop3' : 'imap';
    mail(t, 'dovecot', `dovecot: ${svc}-login: Login: user=<${u}>, method=PLAIN, rip=${cip}, lip=${cip.includes(':') ? SERVER6 : SERVER}, mpid=${p}, TLS, session=<${sid}>`);
    // Busy: phones and desktop clients hold IMAP IDLE sessions open for hours.
    const end = t + (busy && !pop ? int(2_000, 30 * 60_000) + (r() < 0.4 ? int(0, P.imapMaxMs) : 0) : int(2_000, 30 * 60_000));
    if (pop) mail(end, 'dovecot', `dovecot: pop3(${u})<${p}><${sid}>: Disconnected: Logged out top=0/0, retr=${int(0, 9)}/${int(0, 900_000)}, del=0/${int(0, 20)}, size=${int(0, 9_000_000)}`);
    else mail(end, 'dovecot', `dovecot: imap(${u})<${p}><${sid}>: Logged out in=${int(100, 9000)} out=${int(1000, 20_000_000)} deleted=${int(0, 3)} expunged=${int(0, 3)} trashed=0 hdr_count=${int(0, 40)} hdr_bytes=${int(0, 40_000)} body_count=${int(0, 10)} body_bytes=${int(0, 9_000_000)}`);
  };

  /** A failed IMAP login (password guessing). */
  const dovecotAuthFail = (t: number) => {
    const cip = pick(scanners), who = pick(['admin', 'info', 'test', 'postmaster', users[skewed(users.length)]]), sid = b64(16);
    mail(t, 'dovecot', who.includes('@') ? `dovecot: auth: passwd-file(${who},${cip},<${sid}>): Password mismatch` : `dovecot: auth: passwd-file(${who},${cip},<${sid}>): unknown user`);
    mail(t + 2000, 'dovecot', `dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<${who}>, method=PLAIN, rip=${cip}, lip=${SERVER}, TLS, session=<${sid}>`);
  };

  const kernUptime = 86_400; // seconds since boot at `start`
  /** A scanner's burst: brute-force retries on one port, or a sweep over several. */
  const dropBurst = (t: number, n: number) => {
    const src = scanners[skewed(scanners.length)];
    const v6 = src.includes(':');
    const sweep = r() < P.sweep;
    let dpt = pick(dropPorts);
    let spt = int(1024, 65000);
    const proto = dpt === 5060 ? 'UDP' : 'TCP';
    const prefix = r() < 0.5 ? '[UFW BLOCK]' : 'DROP-IN:';
    for (let i = 0; i < n; i++) {
      const tt = t + i * int(5, 800);
      if (sweep) dpt = int(1, busy ? 65535 : 10_000);
      // Scanners (masscan, zmap) pick a new source port for every probe.
      if (busy) spt = int(1024, 65000);
      const id = int(0, 65535);
      // The line is made when it is due, after the loop: the legacy mix read dpt and spt then
      // (its sweeps repeat the last port) and keeps doing so, to stay byte for byte the same.
      const dptNow = busy ? dpt : 0, sptNow = busy ? spt : 0;
      at(tt, 'kern', 'netfilter', (x) => {
        const dpt1 = busy ? dptNow : dpt, spt1 = busy ? sptNow : spt + i;
        const up = (kernUptime + (x - start) / 1000).toFixed(6);
        const head = `${bsd(x)} ${host} kernel: [${up.padStart(12)}] ${prefix} IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:${v6 ? '86:dd' : '08:00'} SRC=${src} DST=${v6 ? SERVER6 : SERVER}`;
        const ip = v6 ? `LEN=80 TC=0 HOPLIMIT=${int(40, 64)} FLOWLBL=${int(0, 99999)}` : `LEN=${proto === 'UDP' ? 444 : 60} TOS=0x00 PREC=0x00 TTL=${int(40, 250)} ID=${id}${r() < 0.5 ? ' DF' : ''}`;
        return proto === 'UDP' ? `${head} ${ip} PROTO=UDP SPT=${busy ? spt1 : spt} DPT=${dpt1} LEN=424`
          : `${head} ${ip} PROTO=TCP SPT=${spt1} DPT=${dpt1} WINDOW=${pick([1024, 29200, 64240, 65535])} RES=0x00 SYN URGP=0`;
      });
    }
  };

  /** One DNS query in BIND's query channel. */
  const query = (t: number) => {
    const dnsSkewed = (n: number) => (busy ? Math.floor(n * r() ** P.dnsSkew) : skewed(n));
    const cip = r() < 0.9 ? resolverClients[dnsSkewed(resolverClients.length)] : pick(scanners);
    const name = names[dnsSkewed(names.length)], qt = cip.startsWith('192.0.2.') || cip.startsWith('2001:db8:1::') ? pick(qtypes) : pick(['ANY', 'A', 'TXT']);
    const srv = cip.includes(':') ? SERVER6 : SERVER;
    const flags = pick(['+E(0)K', '+E(0)DK', '-E(0)K', '+E(0)']);
    const clientPtr = `0x7f65${hex(8)}`;
    at(t, 'named', 'bind', (x) => `${bindStamp(x)} queries: info: client @${clientPtr} ${cip}#${int(1024, 65535)} (${name}): query: ${name} IN ${qt} ${flags} (${srv})`);
  };

  /**
   * Busy mix: a client resolves a few names at once (a page, a message's links), A and AAAA
   * for most (happy eyeballs), each query from a new source port; outsiders probe one name.
   */
  const queries = (t: number) => {
    const inside = r() < 0.9;
    const cip = inside ? resolverClients[Math.floor(resolverClients.length * r() ** P.dnsSkew)] : pick(scanners);
    const srv = cip.includes(':') ? SERVER6 : SERVER;
    const clientPtr = `0x7f65${hex(8)}`;
    const n = inside ? 1 + Math.floor(-Math.log(1 - r()) * 1.2) : 1;
    for (let k = 0, tt = t; k < n; k++, tt += int(5, 400)) {
      const name = names[Math.floor(names.length * r() ** P.dnsSkew)];
      const types = inside ? (r() < 0.6 ? ['A', 'AAAA'] : [pick(qtypes)]) : [pick(['ANY', 'A', 'TXT'])];
      for (const qt of types) {
        const flags = pick(['+E(0)K', '+E(0)DK', '-E(0)K', '+E(0)']);
        at(tt, 'named', 'bind', (x) => `${bindStamp(x)} queries: info: client @${clientPtr} ${cip}#${int(1024, 65535)} (${name}): query: ${name} IN ${qt} ${flags} (${srv})`);
      }
    }
  };

  /** An OpenVPN client connecting (with its TLS chatter), and one disconnecting. */
  const vpn = (t: number) => {
    const n = int(0, 59);
    const cn = `client${n}`, cip = clientIps[skewed(clientIps.length)], port = int(1024, 65535), vip = `198.51.100.${100 + (vipNext++ % 150)}`;
    const o = (dt: number, text: string) => at(t + dt, 'openvpn', 'openvpn', (x) => `${iso(x)} ${text}`);
    const peer = `${cip.includes(':') ? `[${cip}]` : cip}:${port}`;
    const af = `[${cip.includes(':') ? 'AF_INET6' : 'AF_INET'}]${cip}:${port}`;
    o(0, `${peer} TLS: Initial packet from ${af}, sid=${hex(8)} ${hex(8)}`);
    o(40, `${peer} VERIFY OK: depth=1, CN=Example VPN CA`);
    o(40, `${peer} VERIFY OK: depth=0, CN=${cn}`);
    o(60, `${peer} peer info: IV_VER=2.6.8`);
    o(60, `${peer} peer info: IV_PLAT=${pick(['linux', 'win', 'mac', 'android'])}`);
    o(200, `${peer} Control Channel: TLSv1.3, cipher TLSv1.3 TLS_AES_256_GCM_SHA384, peer certificate: 2048 bits RSA, signature: RSA-SHA256, peer temporary key: 253 bits X25519`);
    o(200, `${peer} [${cn}] Peer Connection Initiated with ${af}`);
    o(210, `${cn}/${peer} MULTI_sva: pool returned IPv4=${vip}, IPv6=(Not enabled)`);
    o(210, `${cn}/${peer} MULTI: Learn: ${vip} -> ${cn}/${peer}`);
    o(210, `${cn}/${peer} MULTI: primary virtual IP for ${cn}/${peer}: ${vip}`);
    o(220, `${cn}/${peer} SENT CONTROL [${cn}]: 'PUSH_REPLY,route-gateway 198.51.100.1,topology subnet,ping 10,ping-restart 120,ifconfig ${vip} 255.255.255.0,peer-id 0,cipher AES-256-GCM' (status=1)`);
    vpnActive.push({ cn, cip: peer });
    if (vpnActive.length > 40) {
      const g = vpnActive.splice(Math.floor(r() * vpnActive.length), 1)[0];
      if (r() < 0.5) {
        o(500, `${g.cn}/${g.cip} Inactivity timeout (--ping-restart), restarting`);
        o(500, `${g.cn}/${g.cip} SIGUSR1[soft,ping-restart] received, client-instance restarting`);
      } else o(500, `${g.cn}/${g.cip} SIGTERM[soft,remote-exit] received, client-instance exiting`);
    }
  };

  // Scenario weights, chosen so that the lines come out near the mix in the header comment.
  const w = P.weights;
  const scenarios: Array<[number, (t: number) => void]> = [
    [w[0], inbound], [w[1], submission], [w[2], milterReject], [w[3], rcptReject], [w[4], saslGuess],
    [w[5], mailboxSession], [w[6], dovecotAuthFail],
    [w[7], (t) => dropBurst(t, r() < 0.6 ? 1 : int(2, P.maxBurst))],
    [w[8], busy ? queries : query], [w[9], vpn],
  ];
  const totalWeight = scenarios.reduce((a, [x]) => a + x, 0);
  // Space the scenarios so that the data spans about a day.
  const step = Math.max(1, Math.floor((86_400_000 * P.linesPerScenario) / Math.max(1, o.lines)));

  let t = start;
  let written = 0;
  const emitDue = async (until: number) => {
    while (written < o.lines && sched.size && sched.peek()!.t <= until) {
      const d = sched.pop()!;
      buffers[d.file].push(d.text(d.t) + '\n');
      counts[d.file]++;
      sources[d.source]++;
      written++;
      await flush(d.file);
    }
  };
  while (written < o.lines) {
    t += Math.floor(r() * step * 2);
    let x = r() * totalWeight;
    for (const [w, f] of scenarios) { if ((x -= w) < 0) { f(t); break; } }
    await emitDue(t);
  }
  await emitDue(Infinity);
  for (const k of keys) {
    await flush(k, true);
    await new Promise((res) => out[k].end(res));
  }
  return { files, lines: counts, sources };
}
