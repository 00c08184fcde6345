/**
 * Web server access logs (nginx's default `combined` log_format, Apache's `CustomLog ...
 * combined`, the shorter `common` format, and Apache's `vhost_combined`, which puts `%v:%p` in
 * front: Debian's other_vhosts_access.log), read for the webmail's path only:
 *
 *   $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
 *   198.51.100.7 - - [06/Dec/2026:10:00:00 +0000] "GET /roundcube/?_task=mail&_action=show&_uid=12 HTTP/2.0" 200 51200 "-" "Mozilla/5.0"
 *   mail.example.org:443 198.51.100.7 - - [06/Dec/2026:10:00:00 +0000] "GET /roundcube/ HTTP/1.1" 200 51420 "-" "Mozilla/5.0"
 *
 * Debian's apache2.conf writes `%O` (the bytes sent, headers included) where stock Apache and
 * nginx write the body alone (`%b`, `$body_bytes_sent`): a figure a few hundred bytes larger
 * per response, read the same way.
 *
 * A request for a webmail (Roundcube, SOGo, Nextcloud Mail, and the common `/webmail`,
 * RainLoop and SnappyMail paths) answered 2xx/3xx is a `web-transfer` of its body bytes to the
 * client's address: correlate joins it to the webmail login (realm `web`) from that address.
 * Every other line is skipped with its reason (another site's page, a failed request to the
 * webmail, a scanner's probe), never dropped silently: they are not evidence of anyone's mail
 * traffic. Extra fields after the user agent (`"$http_x_forwarded_for"`) are allowed. Pure.
 */
import type { AttrValue, ParseContext, ParseResult } from '../../events.js';
import { baseEvent, ok, skip, unparsed } from '../../events.js';
import { normalizeIp } from '../../parsers/common.js';
import type { Envelope } from '../../parsers/syslog.js';
import type { SourceParser } from '../../parsers/types.js';
import { clfTime } from '../../time.js';
import type { IdentityFact, LogSource, StampReader } from '../types.js';

const NAME = 'webaccess';
const ACCESS_LINE = /^(?:\S+:\d+ )?\S+ \S+ \S+ \[(\d\d)\/([A-Z][a-z]{2})\/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-]\d{4})\] "/;

/**
 * The envelope of an access log line in the common or combined format:
 *
 *   198.51.100.7 - alice [06/Dec/2026:10:00:00 +0000] "GET /roundcube/ HTTP/1.1" 200 5120 "-" "UA"
 *
 * `$time_local` carries its offset, so no zone is needed. The message is the whole line: the
 * parser reads every field of it (the same text arrives through syslog as `nginx: ...`).
 */
export function accessLogEnvelope(line: string): Envelope | null {
  const m = ACCESS_LINE.exec(line);
  if (!m) return null;
  const ts = clfTime(m, 1);
  if (ts === null) return null;
  return { ts, host: null, program: null, pid: null, msg: line, form: 'native', tagArgs: null };
}

/** Read after the syslog forms: a client field could read as a BSD month (a host named `Mar`). */
const CLF: StampReader = {
  name: 'clf',
  example: '198.51.100.7 - - [20/Nov/2026:09:20:02 +0000] "GET /roundcube/ HTTP/1.1" 200 5120 "-" "Mozilla/5.0"',
  fallback: true,
  read: (line, i) => accessLogEnvelope(i === 0 ? line : line.slice(i)),
};
const Q = '"((?:[^"\\\\]|\\\\.)*)"';
// An optional `host:port ` in front (vhost_combined); the client's field count tells it from an
// IPv6 client address (`2001:db8::7 - - [`).
const LINE = new RegExp(`^(?:(\\S+:\\d+) )?(\\S+) \\S+ (\\S+) \\[[^\\]]+\\] ${Q} (\\d{3}) (\\d+|-)(?: ${Q} ${Q})?`);
const REQUEST = /^([A-Z]{3,10}) (\S+)(?: HTTP\/[\d.]+)?$/;

/** Webmail applications by their paths (the default install locations and routers). */
const APPS: ReadonlyArray<[app: string, path: RegExp]> = [
  // Roundcube in a folder, or at the root where its router's `_task=` query names it.
  ['roundcube', /^\/(?:roundcube(?:mail)?|rcube)(?:[/?]|$)|[?&]_task=[a-z]+/i],
  ['sogo', /^\/SOGo(?:[/?]|$)/],
  ['nextcloud-mail', /^(?:\/[\w.-]+)*?(?:\/index\.php)?\/apps\/mail(?:[/?]|$)/],
  ['rainloop', /^\/(?:rainloop|snappymail)(?:[/?]|$)/i],
  ['webmail', /^\/webmail(?:[/?]|$)/i],
];

function webmailApp(path: string): string | null {
  for (const [app, re] of APPS) if (re.test(path)) return app;
  return null;
}

/** One access line: a webmail download becomes an event, anything else a skip with its reason. */
function parseLine(s: string, ts: number, host: string | null, program: string | null): ParseResult {
  const m = LINE.exec(s);
  if (!m) return unparsed('access log line not in the common or combined format');
  const [, vhost, addr, user, request, statusText, sent] = m;
  const rip = normalizeIp(addr);
  if (!rip) return skip('access log line whose client is not an address (HostnameLookups on?)');
  const req = REQUEST.exec(request);
  const status = +statusText;
  if (!req) return skip(`access log: not an HTTP request (${status})`);
  const [, method, target] = req;
  const app = webmailApp(target);
  if (!app) return skip(`access log: not a webmail path (${method} ${status})`);
  if (status < 200 || status >= 400) return skip(`access log: webmail request answered ${status}, no download`);
  const ev = baseEvent(NAME, ts, host, program, 'http');
  ev.rip = rip;
  ev.account = user === '-' ? null : user;
  ev.bytesOut = sent === '-' ? 0 : +sent;
  // The path without its query: queries carry message ids and tokens, not evidence.
  const attrs: Record<string, AttrValue> = { service: 'webmail', app, method, status, path: target.split('?')[0].slice(0, 200) };
  if (vhost) attrs.vhost = vhost;
  ev.attrs = attrs;
  return ok(ev);
}

function parseMessage(env: Envelope, _ctx: ParseContext): ParseResult {
  // Through syslog the message is the access line itself, with its own (finer-zoned) stamp.
  const inner = env.program !== null ? accessLogEnvelope(env.msg) : null;
  return parseLine(env.msg, inner?.ts ?? env.ts, env.host, env.program);
}

export const parser: SourceParser = {
  source: NAME,
  // nginx's `access_log syslog:server=...` tags `nginx`; Apache piped to logger tags `apache2`/`httpd`.
  matchesProgram: (program: string) => program === 'nginx' || program === 'apache2' || program === 'httpd' || program === 'apache',
  sniffNative: (msg: string) => accessLogEnvelope(msg) !== null,
  parseMessage,
};

export const source: LogSource = {
  name: NAME,
  title: 'nginx / Apache access log',
  rank: 80,
  tags: ['nginx', 'apache2', 'httpd'],
  nativeStamps: ['clf'],
  stampReaders: [CLF],
  parser,
  ports: [['http', 80, ['tcp']], ['https', 443, ['tcp', 'udp']]],
  standardPaths: ['/var/log/nginx/access.log', '/var/log/apache2/access.log', '/var/log/httpd/access_log'],
  corpusDirs: ['webmail'],
  fact(ev): IdentityFact | null {
    return ev.kind === 'http' ? { fact: 'web-transfer', service: 'webmail' } : null;
  },
  service: () => 'webmail',
};
