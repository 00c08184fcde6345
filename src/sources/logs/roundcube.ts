/**
 * Roundcube's `userlogins` and `errors` logs (its own files, or syslog with `log_driver =
 * 'syslog'`): successful and failed webmail logins with the user, the client address and the
 * PHP session. A webmail login is a session of its own realm (`web`): IMAP and POP3 correlation
 * does not take it for a mail client's login, whois lists it as `webmail`. Pure.
 *
 *   [04-Oct-2017 16:09:17 +0200]: <4bd4jqqc> Successful login for test (ID: 6) from 198.51.100.23 in session abcdefg
 *   [10-May-2015 13:02:52 -0400]: Failed login for sampleuser from 198.51.100.23 in session 1z506z6r (error: 0)
 *   [30-Dec-2014 13:02:34 -0500]: <3z506z6r> IMAP Error: Login failed for admin@example.com against localhost from 198.51.100.23. AUTHENTICATE PLAIN: ...
 * The envelope reads the bracketed date in the configured zone; the `+0200` after it is
 * Roundcube's own offset, applied here.
 */
import type { AttrValue, ParseContext, ParseResult } from '../../events.js';
import { baseEvent, ok, skip, unparsed } from '../../events.js';
import { normalizeIp } from '../../parsers/common.js';
import { type Envelope, isEnvelopeError, parseEnvelope } from '../../parsers/syslog.js';
import type { SourceParser } from '../../parsers/types.js';
import { parseOffset, zoneOffsetAt } from '../../time.js';
import type { IdentityFact, LogSource } from '../types.js';

const NAME = 'roundcube';
/** What the envelope leaves of `[22-Jan-2013 22:28:21 +0200]: `: the offset. */
const OFFSET = /^([+-]\d{4}|[+-]\d\d:\d\d)\]?:? /;
const BRACKET_DATE = /^\[\d\d-[A-Za-z]{3}-\d{4} \d\d:\d\d:\d\d(?:\.\d+)?(?: [+-]\d{4})?\]:? /;
const SESSION_TAG = /^<([0-9a-z]{4,40})> /;
const WORDS = /^(?:Successful login|Failed login|FAILED login|IMAP Error|SMTP Error|DB Error|PHP |ERROR|Could not|Invalid )/;

const IP = '([0-9A-Fa-f:.]*[0-9A-Fa-f])';
const SUCCESS = new RegExp(`^Successful login for (.+?) \\((?:id|ID:) ?\\d+\\) from ${IP}(?:\\(X-Real-IP: ([^,)]+)[^)]*\\))?(?: in session (\\S+))?`);
const FAILED = new RegExp(`^(?:Failed|FAILED) login for (.+?) from ${IP}(?:\\(X-Real-IP: ([^,)]+)[^)]*\\))?(?: in session (\\S+))?`);
/**
 * `IMAP Error: Login failed for USER [against HOST] from IP[(X-Real-IP: ...)]. ERROR in FILE ...`.
 * USER is the client's own text and ERROR may echo it, so the address is the first `from IP`
 * that the server's error (a capitalised word) or the end of the line follows.
 */
const IMAP_FAILED_FROM = new RegExp(` from ${IP}(?:\\(X-Real-IP: ([^,)]+)[^)]*\\))?(?=\\. [A-Z][A-Za-z]+[ :]|\\.?$)`, 'g');

function imapFailed(s: string): RegExpExecArray | null {
  const pre = 'IMAP Error: Login failed for ';
  if (!s.startsWith(pre)) return null;
  const rest = s.slice(pre.length);
  IMAP_FAILED_FROM.lastIndex = 0;
  const m = IMAP_FAILED_FROM.exec(rest);
  if (!m || m.index === 0) return null;
  // The shape of SUCCESS and FAILED: [whole, user, ip, forwarded ip, session].
  const out = [m[0], rest.slice(0, m.index), m[1], m[2], undefined] as unknown as RegExpExecArray;
  return out;
}

/** Move a time read in the configured zone to the offset Roundcube wrote. */
function atOffset(ts: number, ctx: ParseContext, off: string): number {
  const o = parseOffset(off.replace(':', ''));
  return o === null ? ts : ts + zoneOffsetAt(ctx.tz, ts) - o;
}

function parseMessage(env: Envelope, ctx: ParseContext): ParseResult {
  let s = env.msg;
  let ts = env.ts;
  // Through syslog Roundcube still writes its own bracketed date: finer, and with its offset.
  if (BRACKET_DATE.test(s)) {
    const inner = parseEnvelope(s, ctx);
    if (!isEnvelopeError(inner)) { ts = inner.ts; s = inner.msg; }
  }
  const off = OFFSET.exec(s);
  if (off) { ts = atOffset(ts, ctx, off[1]); s = s.slice(off[0].length); }
  const attrs: Record<string, AttrValue> = { service: 'webmail' };
  const tag = SESSION_TAG.exec(s);
  if (tag) { attrs.tag = tag[1]; s = s.slice(tag[0].length); }
  let m = SUCCESS.exec(s);
  // `connect`, an identity kind: investigate loads it from before its window (a webmail session
  // outlives it). Not `login`: the store's openMailLoginBefore takes a `login` for a mail client's.
  const kind = m ? 'connect' : (m = FAILED.exec(s) ?? imapFailed(s)) ? 'auth-fail' : null;
  if (!m || !kind) {
    if (WORDS.test(s)) return skip('roundcube error log line');
    return unparsed('roundcube line not recognised');
  }
  const ev = baseEvent(NAME, ts, env.host, env.program, kind);
  const user = m[1].replace(/ against \S+$/, '');
  ev.account = user || null;
  // Behind a proxy Roundcube logs the proxy and, in brackets, the forwarded client.
  ev.rip = normalizeIp(m[3]?.trim() ?? m[2]);
  if (m[3]) attrs.proxy = normalizeIp(m[2]);
  ev.session = m[4] ?? null;
  if (s.startsWith('IMAP Error')) attrs.imapError = true;
  ev.attrs = attrs;
  return ok(ev);
}

export const parser: SourceParser = {
  source: NAME,
  matchesProgram: (program: string) => program === 'roundcube' || program === 'roundcubemail',
  sniffNative: (msg: string) => {
    const off = OFFSET.exec(msg);
    if (!off) return false;
    let s = msg.slice(off[0].length);
    const tag = SESSION_TAG.exec(s);
    if (tag) s = s.slice(tag[0].length);
    return WORDS.test(s);
  },
  parseMessage,
};

export const source: LogSource = {
  name: NAME,
  title: 'Roundcube',
  rank: 70,
  tags: ['roundcube'],
  nativeStamps: ['dmy-bind'],
  parser,
  ports: [['http', 80, ['tcp']], ['https', 443, ['tcp', 'udp']]],
  // Its logins claim the HTTPS flows from their address (correlate/attribute.ts), not a port.
  groups: [{ name: 'webmail', label: 'webmail', ports: [443, 80], realm: 'web' }],
  standardPaths: ['/var/log/roundcube/userlogins.log', '/var/log/roundcube/userlogins', '/var/lib/roundcube/logs/userlogins.log', '/var/log/roundcube/errors.log'],
  corpusDirs: ['webmail'],
  fact(ev): IdentityFact | null {
    if (ev.kind === 'connect') return { fact: 'session-start', realm: 'web', service: 'webmail', key: ev.session, altKey: null };
    if (ev.kind === 'auth-fail') return { fact: 'auth-failure', service: 'webmail' };
    return null;
  },
  service: () => 'webmail',
};
