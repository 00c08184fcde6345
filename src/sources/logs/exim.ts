/**
 * Exim's main log (Debian `/var/log/exim4/mainlog`, cPanel `/var/log/exim_mainlog`): message
 * arrivals with the SASL account that submitted them, deliveries to relays, deferrals,
 * bounces, failed SMTP AUTH and rejections. The field letters are those of the Exim
 * specification's "Log files" chapter. Pure: no clock, no zone, no I/O.
 *
 * A line is Exim's own stamp (with `+subsecond`, `.123`), an optional `[pid] ` (`+pid`), an
 * optional message id, and then the entry:
 *   2026-11-20 09:20:02.123 [4711] 1tQmZs-000F2b-3L <= alice@example.com H=(laptop) [198.51.100.23]:52114 I=[192.0.2.10]:587 P=esmtpsa A=dovecot_plain:alice@example.com S=2837 id=x@y
 * Through syslog the stamp comes after `exim[pid]: ` (or is gone with `syslog_timestamp =
 * false`), and long entries are split into `[1/3] `, `[2/3] `, ... parts.
 */
import type { AttrValue, LogEvent, ParseContext, ParseResult } from '../../events.js';
import { baseEvent, ok, skip, unparsed } from '../../events.js';
import { normalizeIp } from '../../parsers/common.js';
import { type Envelope, isEnvelopeError, parseEnvelope } from '../../parsers/syslog.js';
import type { SourceParser } from '../../parsers/types.js';
import type { IdentityFact, LogSource } from '../types.js';
import { num, str } from '../util.js';

const NAME = 'exim';

/** Message ids: `1tQmZs-000F2b-3L` (before 4.97) and `1tQmZs-00000000F2b-003L` (4.97+). */
const MSG_ID = /^([0-9A-Za-z]{6}-(?:[0-9A-Za-z]{6}-[0-9A-Za-z]{2}|[0-9A-Za-z]{11}-[0-9A-Za-z]{4}))(?: |$)/;
/** `[4711] ` from log_selector +pid. */
const PID = /^\[(\d+)\] /;
/** A syslog split part: `[2/5] ` (too long) or `[2\5] ` (internal newline). */
const SPLIT = /^\[(\d+)[/\\](\d+)\] ?/;
/** `host exim[123]: ` or `exim4[123]: ` left in the message by a syslog layout the envelope took as Exim's own. */
const TAG = /^(?:\S+ )?(?:exim\d*|exim_\w+)\[\d+\]: /;
const STAMP = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/;

/** `H=host (helo) [ip]:port` or `H=(helo) [ip]` or `H=[ip]`: only the last bracketed address counts. */
const HOST = / H=(?:[^ [(]\S* )?(?:\([^)]*\) )?\[([0-9A-Fa-f:.]+)\](?::(\d+))?/;
const HOSTS = new RegExp(HOST.source, 'g');
const IFACE = / I=\[([0-9A-Fa-f:.]+)\](?::(\d+))?/;
const QUOTED = /"(?:[^"\\]|\\.)*"/g;

function field(s: string, name: string): string | null {
  const at = s.indexOf(` ${name}=`);
  if (at < 0) return null;
  const from = at + name.length + 2;
  const end = s.indexOf(' ', from);
  return s.slice(from, end < 0 ? s.length : end);
}

/** The service of a connection by the server port it came in on. */
function serviceByPort(lport: number | null): string {
  return lport === 587 ? 'submission' : lport === 465 ? 'smtps' : 'smtp';
}

function withPeer(ev: LogEvent, s: string): void {
  // The last H= is the one Exim wrote: an earlier one can only be text a client sent (a HELO, a command).
  let h: RegExpExecArray | null = null;
  for (const m of s.matchAll(HOSTS)) h = m;
  if (h) { ev.rip = normalizeIp(h[1]); ev.rport = h[2] ? +h[2] : null; }
  const i = IFACE.exec(s);
  if (i) { ev.lip = normalizeIp(i[1]); ev.lport = i[2] ? +i[2] : null; }
}

/** `<= sender fields... [for rcpt rcpt]`: a message received. */
function arrival(env: Envelope, id: string, rest: string, attrs: Record<string, AttrValue>): ParseResult {
  const sp = rest.indexOf(' ');
  const sender = sp < 0 ? rest : rest.slice(0, sp);
  // Subjects (T="...") and SMTP replies may hold anything, H= and A= included.
  const fields = (sp < 0 ? '' : rest.slice(sp)).replace(QUOTED, '""');
  const forAt = fields.indexOf(' for ');
  const head = forAt < 0 ? fields : fields.slice(0, forAt);
  const size = num(field(head, 'S'));
  const proto = field(head, 'P');
  const auth = field(head, 'A');
  // `A=authenticator:set_id`, and a third `:sender` item with log_selector +smtp_mailauth.
  const parts = auth ? auth.split(':') : [];
  const account = parts.length > 1 && parts[1] ? parts[1] : null;
  const parent = field(head, 'R');
  const rcpts = forAt < 0 ? null : fields.slice(forAt + 5).trim().split(/ +/).filter(Boolean).length;
  Object.assign(attrs, { sender, proto, size, nrcpt: rcpts });
  if (auth) attrs.authenticator = parts[0];
  const msgid = field(head, 'id');
  if (msgid) attrs.msgid = msgid;
  if (sender === '<>' && parent) {
    // A bounce Exim generated for message `parent`: the sender's traffic goes on under `id`.
    const ev = baseEvent(NAME, env.ts, env.host, env.program, 'bounce');
    ev.session = parent;
    ev.attrs = { ...attrs, bounceQueueId: id };
    return ok(ev);
  }
  const ev = baseEvent(NAME, env.ts, env.host, env.program, account ? 'sasl-login' : 'queued');
  ev.session = id;
  ev.account = account;
  withPeer(ev, head);
  if (ev.rip) attrs.service = serviceByPort(ev.lport);
  ev.attrs = attrs;
  return ok(ev);
}

const DELIVERY_STATUS: Record<string, string> = { '=>': 'sent', '->': 'sent', '>>': 'sent', '==': 'deferred', '**': 'bounced' };

/** `=> rcpt <orig> R=router T=transport H=host [ip]:port ... S=size C="250 ..."` and its kin. */
function delivery(env: Envelope, id: string, flag: string, rest: string, attrs: Record<string, AttrValue>): ParseResult {
  const fields = rest.replace(QUOTED, '""');
  const sp = fields.indexOf(' ');
  const to = sp < 0 ? fields : fields.slice(0, sp);
  const ev = baseEvent(NAME, env.ts, env.host, env.program, 'delivery');
  ev.session = id;
  // The text after the fields of a deferral or bounce is its reason, e.g. `: retry timeout exceeded`.
  const colon = flag === '==' || flag === '**' ? fields.indexOf(': ') : -1;
  const head = colon < 0 ? fields : fields.slice(0, colon);
  // A deferral names its relay in the reason as often as before it (`defer (-44) H=mx [ip]: SMTP error ...`).
  withPeer(ev, colon < 0 ? head : fields);
  // The remote end of a delivery is the relay; Exim only logs its port with +outgoing_port.
  ev.lip = null; ev.lport = null;
  const router = field(head, 'R'), transport = field(head, 'T');
  Object.assign(attrs, { status: DELIVERY_STATUS[flag], to, size: num(field(head, 'S')) });
  if (flag === '->') attrs.more = true;
  if (router) attrs.router = router;
  if (transport) attrs.transport = transport;
  if (colon >= 0) attrs.reason = rest.slice(rest.indexOf(': ') + 2, rest.indexOf(': ') + 162);
  ev.attrs = attrs;
  return ok(ev);
}

/** Entries without a message id that bytetrail keeps: failed AUTH, rejections. */
function noId(env: Envelope, s: string, attrs: Record<string, AttrValue>): ParseResult {
  // `dovecot_login authenticator failed for (User) [192.0.2.37]:21298 I=[192.0.2.1]:465: 535 Incorrect authentication data (set_id=test@example.com)`
  const af = / authenticator failed for /.exec(s);
  if (af && af.index > 0 && !s.slice(0, af.index).includes(' ')) {
    const ev = baseEvent(NAME, env.ts, env.host, env.program, 'sasl-fail');
    const peer = s.slice(af.index + af[0].length);
    withPeer(ev, ' H=' + peer);
    const id = /\(set_id=([^)]*)\)\s*$/.exec(s);
    ev.account = id && id[1] ? id[1] : null;
    Object.assign(attrs, { authenticator: s.slice(0, af.index), service: serviceByPort(ev.lport) });
    ev.attrs = attrs;
    return ok(ev);
  }
  if (/^(?:H=|F=<|U=)/.test(s) || s.startsWith('SMTP call from ') || s.startsWith('SMTP protocol error in ') ||
    s.startsWith('SMTP protocol synchronization error ') || s.startsWith('no MAIL in SMTP connection from ') ||
    s.startsWith('rejected ') || s.includes(' rejected ') || s.includes(' dropped by ') || s.includes(' sender verify fail')) {
    const ev = baseEvent(NAME, env.ts, env.host, env.program, 'reject');
    const peer = / from (?:H=)?((?:[^ [(]\S* )?(?:\([^)]*\) )?\[[0-9A-Fa-f:.]+\](?::\d+)?)/.exec(s);
    withPeer(ev, peer ? ' H=' + peer[1] + s.slice(peer.index + peer[0].length) : ' ' + s);
    attrs.reason = s.slice(0, 160);
    ev.attrs = attrs;
    return ev.rip ? ok(ev) : skip('exim rejection without a client address');
  }
  if (s.startsWith('SMTP connection from ') || s.startsWith('SMTP connection lost') || s.startsWith('TLS error on connection') || s.startsWith('SMTP command timeout') || s.startsWith('unexpected disconnection')) return skip('exim connection detail');
  if (s.startsWith('Start queue run') || s.startsWith('End queue run') || s.startsWith('exim ') || s.includes(' daemon started') || s.startsWith('no host name found') || s.startsWith('no IP address found') || s.startsWith('SMTP connection outbound ') || s.startsWith('cwd=')) return skip('exim daemon or lookup notice');
  if (s.startsWith('Connection from ') || s.startsWith('Connecting to ') || s.startsWith('LOG: ') || s.startsWith('******** ')) return skip('exim debug or test-harness line');
  return unparsed('exim entry not recognised');
}

function parseMessage(env: Envelope, ctx: ParseContext): ParseResult {
  let s = env.msg;
  let e = env;
  const tag = TAG.exec(s);
  if (tag) s = s.slice(tag[0].length);
  const split = SPLIT.exec(s);
  if (split) {
    if (split[1] !== '1') return skip('exim syslog continuation part');
    s = s.slice(split[0].length);
  }
  // Exim's own stamp inside a syslog line (syslog_timestamp = true, the default): finer than syslog's.
  if (STAMP.test(s)) {
    const inner = parseEnvelope(s, ctx);
    if (!isEnvelopeError(inner)) { e = { ...env, ts: inner.ts }; s = inner.msg; }
  }
  const attrs: Record<string, AttrValue> = {};
  const pid = PID.exec(s);
  if (pid) { attrs.pid = +pid[1]; s = s.slice(pid[0].length); }
  if (split) attrs.split = true;
  const m = MSG_ID.exec(s);
  if (!m) return noId(e, s, attrs);
  const id = m[1];
  const rest = s.slice(m[0].length);
  const flag = rest.slice(0, 2);
  if (flag === '<=') return arrival(e, id, rest.slice(3), attrs);
  if (flag in DELIVERY_STATUS && rest.charCodeAt(2) === 32) return delivery(e, id, flag, rest.slice(3), attrs);
  if (flag === '*>') return skip('exim delivery suppressed by -N');
  if (rest === 'Completed' || rest.startsWith('Completed ')) {
    const ev = baseEvent(NAME, e.ts, e.host, e.program, 'completed');
    ev.session = id;
    ev.attrs = Object.keys(attrs).length ? attrs : null;
    return ok(ev);
  }
  if (rest.includes(' rejected ') || rest.startsWith('rejected ')) return noId(e, rest.startsWith('rejected ') ? ' ' + rest : rest, attrs);
  // `H=mx.example.net [203.0.113.5]: SMTP error from remote mail server after RCPT ...`: a try of a delivery, whose == or ** line follows.
  if (rest.startsWith('H=')) return skip('exim delivery attempt detail');
  if (rest.startsWith('SMTP connection from ')) return skip('exim connection detail');
  return skip('exim message detail (frozen, spool, queue, filter or scanner note)');
}

/** Lines without a program tag: `[pid] ` or a message id or an entry only Exim writes. */
function sniffNative(msg: string): boolean {
  let s = msg;
  if (TAG.test(s)) return true;
  const pid = PID.exec(s);
  if (pid) s = s.slice(pid[0].length);
  if (MSG_ID.test(s)) return true;
  return / authenticator failed for /.test(s) && !s.startsWith('(') ||
    s.startsWith('H=') || s.startsWith('SMTP call from ') || s.startsWith('SMTP connection from ') ||
    s.startsWith('SMTP protocol error in "') || s.startsWith('no MAIL in SMTP connection from ') || s.startsWith('Start queue run: pid=') ||
    s.startsWith('End queue run: pid=') || s.startsWith('SMTP protocol synchronization error');
}

export const parser: SourceParser = {
  source: NAME,
  matchesProgram: (program: string) => program === 'exim' || program === 'exim4' || program.startsWith('exim_') || program === 'exim-mainlog',
  sniffNative,
  parseMessage,
};

export const source: LogSource = {
  name: NAME,
  title: 'Exim',
  rank: 60,
  tags: ['exim', 'exim4'],
  nativeStamps: ['ymd-hms'],
  parser,
  ports: [['smtp', 25, ['tcp'], 'smtp'], ['submission', 587, ['tcp'], 'submission'], ['smtps', 465, ['tcp'], 'submission']],
  groups: [{ name: 'smtp', label: 'SMTP' }, { name: 'submission', label: 'submission' }],
  standardPaths: ['/var/log/exim4/mainlog', '/var/log/exim_mainlog', '/var/log/exim/main.log'],
  corpusDirs: ['exim', 'exim/testsuite'],
  fact(ev): IdentityFact | null {
    const qid = ev.session;
    switch (ev.kind) {
      case 'sasl-login': return ev.account ? { fact: 'submission', service: source.service(ev), qid, size: num(ev.attrs?.size), nrcpt: num(ev.attrs?.nrcpt) } : null;
      case 'queued': return qid ? { fact: 'message', qid, size: num(ev.attrs?.size), nrcpt: num(ev.attrs?.nrcpt) } : null;
      case 'bounce': {
        const newQid = str(ev.attrs?.bounceQueueId);
        return qid && newQid ? { fact: 'requeue', qid, newQid } : null;
      }
      case 'delivery': return qid ? { fact: 'delivery', qid, status: str(ev.attrs?.status) ?? 'unknown', size: num(ev.attrs?.size) } : null;
      case 'sasl-fail': return { fact: 'auth-failure', service: source.service(ev) };
      default: return null;
    }
  },
  service: (ev) => str(ev.attrs?.service) ?? 'smtp',
};
