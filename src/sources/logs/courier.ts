/**
 * Courier-IMAP and Courier's POP3 server (imapd, imapd-ssl, pop3d, pop3d-ssl; `courierpop3d`
 * and `courier-imapd` on some systems), through syslog (courierlogger). Each session logs its
 * login and, at its end, what it moved: `rcvd=` bytes from the client, `sent=` bytes to it, as
 * Dovecot's in=/out= do. The shapes, from imaplogin.c, imapd.c and pop3dserver.c:
 *
 *   imapd-ssl: LOGIN, user=alice@example.org, ip=[::ffff:198.51.100.23], port=[51234], protocol=IMAP
 *   imapd-ssl: LOGOUT, user=alice@example.org, ip=[::ffff:198.51.100.23], headers=0, body=5120, rcvd=635, sent=8872, time=4477, starttls=1
 *   pop3d: LOGOUT, user=bob@example.org, ip=[::ffff:198.51.100.7], port=[36852], top=0, retr=15543, rcvd=88, sent=16288, time=0, stls=1
 *   imapd: LOGIN FAILED, user=carol, ip=[::ffff:203.0.113.9]
 *
 * A session also ends as DISCONNECTED, TIMEOUT or `Disconnected during shutdown by signal`,
 * with the same counters. Older releases write no `port=[...]` at login. The `INFO: ` level
 * prefix is read when courierlogger does not strip it. Pure.
 */
import type { AttrValue, LogEvent, ParseContext, ParseResult } from '../../events.js';
import { baseEvent, ok, skip, unparsed } from '../../events.js';
import { normalizeIp, toCounter, toPort } from '../../parsers/common.js';
import { lineParser } from '../../parsers/line.js';
import type { Envelope } from '../../parsers/syslog.js';
import type { SourceParser } from '../../parsers/types.js';
import type { IdentityFact, LogSource } from '../types.js';
import { num, str } from '../util.js';

const NAME = 'courier';
const PROGRAM = /^(?:courier-?)?(?:imapd|pop3d)(?:-ssl)?$|^(?:imaplogin|courierpop3login|pop3login)$/;
const LEVEL = /^(?:INFO|DEBUG|NOTICE|WARN|ERR|CRIT|ALERT): /;
/** What ends a session: the client's LOGOUT or QUIT, a dropped connection, a timeout, a shutdown, a read error. */
const ENDS = ['LOGOUT', 'DISCONNECTED', 'TIMEOUT', 'Disconnected during shutdown by signal', 'I/O error disconnect'];
/** Lines of the daemons that are no login or logout: a connection before login, a locked account, an authdaemon error. */
const NOT_SESSION = /^(?:Connection, ip=|Disconnected, ip=|LOCKED, |authentication error|Unexpected SSL connection shutdown|couriertls: |Maximum connection limit|Error while saving courierpop3dsizelist|DELETED, |Started |Stopped |Installing |Installed: |chdir |Did not receive greeting|Login to .* failed)/;
const FIELD = /^([a-z]+)=(\[[^\]]*\]|[^,]*)(?:, |$)/;

/** The fields after `ip=[...]`: `port=[51234], protocol=IMAP, rcvd=635, ...`. */
function fields(s: string): Map<string, string> | null {
  const out = new Map<string, string>();
  let i = 0;
  while (i < s.length) {
    const m = FIELD.exec(s.slice(i));
    if (!m) return null;
    out.set(m[1], m[2].startsWith('[') ? m[2].slice(1, -1) : m[2]);
    i += m[0].length;
  }
  return out;
}

/** `imap` or `pop3`: from `protocol=`, else from the program that wrote the line. */
function protocolOf(f: Map<string, string>, program: string | null): string | null {
  const p = f.get('protocol')?.toLowerCase();
  if (p === 'imap' || p === 'pop3') return p;
  if (program?.includes('imap')) return 'imap';
  if (program?.includes('pop3')) return 'pop3';
  return null;
}

function parseMessage(env: Envelope, _ctx: ParseContext): ParseResult {
  let s = env.msg;
  const level = LEVEL.exec(s);
  if (level) s = s.slice(level[0].length);
  const comma = s.indexOf(', ');
  const head = comma < 0 ? s : s.slice(0, comma);
  const isLogin = head === 'LOGIN', isFailed = head === 'LOGIN FAILED', isEnd = ENDS.includes(head);
  if (!isLogin && !isFailed && !isEnd) {
    if (NOT_SESSION.test(s)) return skip('courier line that is no login or logout');
    return unparsed('courier line not recognised');
  }
  // The user is the client's own text on a failed login: the address is the last `, ip=[`.
  const ipAt = s.lastIndexOf(', ip=[');
  const ipEnd = ipAt < 0 ? -1 : s.indexOf(']', ipAt);
  let account: string | null = null;
  let method: string | null = null;
  if (ipAt >= 0) {
    const who = s.slice(comma + 2, ipAt);
    if (who.startsWith('user=')) account = who.slice(5) || null;
    else if (who.startsWith('method=')) method = who.slice(7);
    else if (who !== '') return unparsed(`courier ${head} line with an unexpected field before ip=`);
  }
  if (ipEnd < 0) return unparsed(`courier ${head} line without ip=[...]`);
  const rip = normalizeIp(s.slice(ipAt + 6, ipEnd));
  if (!rip) return unparsed(`courier ${head} line whose ip= is not an address`);
  const f = fields(s.charCodeAt(ipEnd + 1) === 44 ? s.slice(ipEnd + 3) : s.slice(ipEnd + 1));
  if (!f) return unparsed(`courier ${head} line with fields not in key=value form`);
  // `LOGOUT, ip=[...], rcvd=100, sent=524`: a connection that never logged in.
  if (!account && !isFailed) return skip(`courier ${head} of a connection that never logged in`);

  const kind = isLogin ? 'login' : isFailed ? 'auth-fail' : 'logout';
  const ev: LogEvent = baseEvent(NAME, env.ts, env.host, env.program, kind);
  ev.account = account;
  ev.rip = rip;
  const port = f.get('port');
  ev.rport = port !== undefined ? toPort(port) : null;
  const attrs: Record<string, AttrValue> = {};
  const service = protocolOf(f, env.program);
  if (service) attrs.service = service;
  if (method) attrs.method = method;
  if (f.get('starttls') === '1' || f.get('stls') === '1' || env.program?.endsWith('-ssl')) attrs.tls = true;
  if (isEnd) {
    if (head !== 'LOGOUT') attrs.end = head === 'Disconnected during shutdown by signal' ? 'shutdown' : head === 'I/O error disconnect' ? 'io-error' : head.toLowerCase();
    const rcvd = f.get('rcvd'), sent = f.get('sent');
    if (rcvd === undefined || sent === undefined) return unparsed(`courier ${head} line without rcvd= and sent=`);
    ev.bytesIn = toCounter(rcvd);
    ev.bytesOut = toCounter(sent);
    if (ev.bytesIn === null || ev.bytesOut === null) return unparsed(`courier ${head} line with counters that are not numbers`);
    for (const k of ['headers', 'body', 'top', 'retr', 'time']) {
      const v = f.get(k);
      if (v !== undefined && toCounter(v) !== null) attrs[k] = toCounter(v)!;
    }
  }
  ev.attrs = attrs;
  return ok(ev);
}

export const parser: SourceParser = {
  source: NAME,
  matchesProgram: (program: string) => PROGRAM.test(program),
  parseMessage,
};

export const parseLine = lineParser(parser);

/**
 * A session is its client's address and the second it began: a login's own stamp, a logout's
 * stamp less its `time=` (an IMAP logout carries no port, and one client often holds several
 * sessions). A stamp a second off (the syslog daemon's clock) falls back to the latest open
 * login of the account from the address.
 */
function keys(ev: LogEvent): { key: string | null; altKey: string | null } {
  if (!ev.rip) return { key: null, altKey: null };
  const time = num(ev.attrs?.time);
  const start = ev.kind === 'login' ? ev.ts : time !== null ? ev.ts - time * 1000 : null;
  return { key: start === null ? null : `${ev.rip}@${Math.floor(start / 1000)}`, altKey: ev.rip };
}

export const source: LogSource = {
  name: NAME,
  title: 'Courier IMAP/POP3',
  rank: 25,
  tags: ['imapd', 'imapd-ssl', 'pop3d', 'pop3d-ssl', 'courierpop3d', 'courier-imapd'],
  nativeStamps: [],
  parser,
  ports: [['imap', 143, ['tcp'], 'imap'], ['imaps', 993, ['tcp'], 'imap'], ['pop3', 110, ['tcp'], 'pop3'], ['pop3s', 995, ['tcp'], 'pop3']],
  groups: [{ name: 'imap', label: 'IMAP' }, { name: 'pop3', label: 'POP3' }],
  standardPaths: ['/var/log/mail.log'],
  fact(ev): IdentityFact | null {
    const service = str(ev.attrs?.service) ?? '';
    switch (ev.kind) {
      case 'login': return { fact: 'session-start', realm: 'mail', service, ...keys(ev) };
      case 'logout': return { fact: 'session-end', realm: 'mail', ...keys(ev) };
      case 'auth-fail': return { fact: 'auth-failure', service: service || 'imap' };
      default: return null;
    }
  },
  service: (ev) => str(ev.attrs?.service) ?? 'imap',
};
