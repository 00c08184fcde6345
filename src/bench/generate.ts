/**
 * Deterministic generator of realistic server logs: mail.log (Postfix, Dovecot, rspamd through
 * syslog), kern.log (netfilter drops), a BIND query log and an OpenVPN log. Used by the
 * benchmark and by tests that need volume (kill -9 safety). Documentation IP ranges only.
 */
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';

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

export interface GenOptions { dir: string; lines: number; seed?: number; start?: number; host?: string }
export interface GenResult { files: Record<string, string>; lines: Record<string, number> }

const SERVER = '192.0.2.10';

function ip(r: () => number): string {
  const nets = ['198.51.100.', '203.0.113.'];
  return nets[Math.floor(r() * 2)] + (1 + Math.floor(r() * 250));
}

const QID = '0123456789ABCDEF';
function qid(r: () => number): string {
  let s = '';
  for (let i = 0; i < 10; i++) s += QID[Math.floor(r() * 16)];
  return s;
}

/** Write a realistic mix of about `lines` lines; returns the files and their line counts. */
export async function generateLogs(o: GenOptions): Promise<GenResult> {
  const r = rng(o.seed ?? 42);
  const host = o.host ?? 'mx1';
  const start = o.start ?? Date.UTC(2026, 10, 20, 0, 0, 0);
  const files = {
    mail: join(o.dir, 'mail.log'), kern: join(o.dir, 'kern.log'), named: join(o.dir, 'query.log'), openvpn: join(o.dir, 'openvpn.log'),
  };
  const out = Object.fromEntries(Object.entries(files).map(([k, p]) => [k, createWriteStream(p)])) as Record<keyof typeof files, ReturnType<typeof createWriteStream>>;
  const counts: Record<string, number> = { mail: 0, kern: 0, named: 0, openvpn: 0 };
  const buffers: Record<string, string[]> = { mail: [], kern: [], named: [], openvpn: [] };
  const flush = async (k: keyof typeof files, force = false) => {
    if (buffers[k].length < 2000 && !force) return;
    const text = buffers[k].join('');
    buffers[k] = [];
    if (!out[k].write(text)) await new Promise<void>((res) => out[k].once('drain', () => res()));
  };
  const emit = async (k: keyof typeof files, line: string) => {
    buffers[k].push(line + '\n');
    counts[k]++;
    await flush(k);
  };
  const users = Array.from({ length: 200 }, (_, i) => `user${i}@example.com`);
  let t = start;
  let pid = 1000;
  let total = 0;
  // Average step so that the data spans about a day whatever the size.
  const step = Math.max(1, Math.floor(86_400_000 / Math.max(1, o.lines)));
  while (total < o.lines) {
    t += Math.floor(r() * step * 2);
    const roll = r();
    const s = bsdStamp(t);
    if (roll < 0.36) {
      // A submitted message: 8 Postfix lines and an rspamd line.
      const q = qid(r), u = users[Math.floor(r() * users.length)], cip = ip(r), p = ++pid, rip = ip(r);
      await emit('mail', `${s} ${host} postfix/submission/smtpd[${p}]: connect from unknown[${cip}]`);
      await emit('mail', `${s} ${host} postfix/submission/smtpd[${p}]: ${q}: client=unknown[${cip}], sasl_method=PLAIN, sasl_username=${u}`);
      await emit('mail', `${s} ${host} postfix/cleanup[${p + 1}]: ${q}: message-id=<${q}.${p}@example.com>`);
      await emit('mail', `${s} ${host} rspamd[812]: <${q.slice(0, 6)}>; task; rspamd_task_write_log: id: <${q}.${p}@example.com>, qid: <${q}>, ip: ${cip}, user: ${u}, from: <${u}>, (default: F (no action): [1.20/15.00] [MIME_GOOD(-0.10){text/plain;}]), len: ${1000 + Math.floor(r() * 90000)}, time: 87.1ms, dns req: 12, digest: <0123456789abcdef0123456789abcdef>, rcpts: <someone@example.net>, mime_rcpts: <someone@example.net>`);
      await emit('mail', `${s} ${host} postfix/qmgr[900]: ${q}: from=<${u}>, size=${1000 + Math.floor(r() * 90000)}, nrcpt=1 (queue active)`);
      await emit('mail', `${s} ${host} postfix/submission/smtpd[${p}]: disconnect from unknown[${cip}] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6`);
      await emit('mail', `${s} ${host} postfix/smtp[${p + 2}]: ${q}: to=<someone@example.net>, relay=mx.example.net[${rip}]:25, delay=0.9, delays=0.1/0.01/0.3/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as ABC123)`);
      await emit('mail', `${s} ${host} postfix/qmgr[900]: ${q}: removed`);
      total += 9;
    } else if (roll < 0.5) {
      // An IMAP session: login and logout with byte counts.
      const u = users[Math.floor(r() * users.length)], cip = ip(r), p = ++pid, sid = qid(r);
      await emit('mail', `${s} ${host} dovecot: imap-login: Login: user=<${u}>, method=PLAIN, rip=${cip}, lip=${SERVER}, mpid=${p}, TLS, session=<${sid}>`);
      await emit('mail', `${s} ${host} dovecot: imap(${u})<${p}><${sid}>: Logged out in=${Math.floor(r() * 5000)} out=${Math.floor(r() * 5_000_000)} deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0`);
      total += 2;
    } else if (roll < 0.53) {
      const cip = ip(r);
      await emit('mail', `${s} ${host} dovecot: auth: passwd-file(admin,${cip}): unknown user`);
      await emit('mail', `${s} ${host} dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<admin>, method=PLAIN, rip=${cip}, lip=${SERVER}, TLS, session=<${qid(r)}>`);
      total += 2;
    } else if (roll < 0.56) {
      const cip = ip(r);
      await emit('mail', `${s} ${host} postfix/smtpd[${++pid}]: NOQUEUE: reject: RCPT from unknown[${cip}]: 554 5.7.1 <spam@example.org>: Relay access denied; from=<x@example.org> to=<spam@example.org> proto=ESMTP helo=<example.org>`);
      total += 1;
    } else if (roll < 0.78) {
      const src = ip(r), dpt = [22, 23, 3389, 445, 25, 8080][Math.floor(r() * 6)];
      await emit('kern', `${s} ${host} kernel: [${((t - start) / 1000 + 1000).toFixed(6)}] DROP-IN: IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=${src} DST=${SERVER} LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=${Math.floor(r() * 65535)} DF PROTO=TCP SPT=${1024 + Math.floor(r() * 60000)} DPT=${dpt} WINDOW=64240 RES=0x00 SYN URGP=0`);
      total += 1;
    } else if (roll < 0.98) {
      const cip = ip(r), qt = r() < 0.1 ? 'ANY' : r() < 0.6 ? 'A' : 'AAAA';
      await emit('named', `${bindStamp(t)} queries: info: client @0x7f65100ee4d8 ${cip}#${1024 + Math.floor(r() * 60000)} (www${Math.floor(r() * 50)}.example.com): query: www${Math.floor(r() * 50)}.example.com IN ${qt} +E(0)K (${SERVER})`);
      total += 1;
    } else {
      const cn = `client${Math.floor(r() * 40)}`, cip = ip(r), port = 1024 + Math.floor(r() * 60000), vip = `198.51.100.${100 + Math.floor(r() * 100)}`;
      const st = isoSpace(t);
      await emit('openvpn', `${st} ${cip}:${port} TLS: Initial packet from [AF_INET]${cip}:${port}, sid=1a2b3c4d 5e6f7a8b`);
      await emit('openvpn', `${st} ${cn}/${cip}:${port} [${cn}] Peer Connection Initiated with [AF_INET]${cip}:${port}`);
      await emit('openvpn', `${st} ${cn}/${cip}:${port} MULTI_sva: pool returned IPv4=${vip}, IPv6=(Not enabled)`);
      await emit('openvpn', `${st} ${cn}/${cip}:${port} MULTI: Learn: ${vip} -> ${cn}/${cip}:${port}`);
      total += 4;
    }
  }
  for (const k of Object.keys(files) as Array<keyof typeof files>) {
    await flush(k, true);
    await new Promise((res) => out[k].end(res));
  }
  return { files, lines: counts };
}
