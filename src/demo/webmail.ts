/**
 * The webmail re-fetch loop: a user whose Roundcube tab re-downloads a large mailbox over
 * HTTPS again and again. The server's evidence: Roundcube's userlogins log, nginx's access log
 * (the default `combined` format), the webmail's own IMAP sessions over loopback in Dovecot's log
 * (the same mail again, which never crosses an interface), and the HTTPS connections on eth0.
 */
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { background, type Incident, MSS, T0 } from './incidents.js';
import { SERVER, ScenarioWriter } from './scenario.js';

const MIN = 60_000;
const MON = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const p2 = (n: number) => String(n).padStart(2, '0');

/** What the generator puts on the wire around a response body: HTTP/1.1 headers, then TLS 1.3 records of 16 KiB with 22 bytes each. */
function httpsBytes(body: number, headers: number): number {
  const n = body + headers;
  return n + Math.max(1, Math.ceil(n / 16_384)) * 22;
}

/** Writes Roundcube's `userlogins.log` and nginx's `access.log` beside the other logs. */
export class WebmailScenarioWriter extends ScenarioWriter {
  readonly access: Array<[number, string]> = [];
  readonly userlogins: Array<[number, string]> = [];

  /** nginx's `combined`: `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`. */
  accessLog(t: number, ip: string, request: string, status: number, bytes: number): void {
    const d = new Date(t);
    const stamp = `${p2(d.getUTCDate())}/${MON[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} +0000`;
    this.access.push([t, `${ip} - - [${stamp}] "${request}" ${status} ${bytes} "https://mail.example.com/roundcube/?_task=mail" "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"`]);
  }

  /** A Roundcube login (`log_logins = true`), and the IMAP session it opens over loopback. */
  webmailLogin(t: number, user: string, ip: string): string {
    const d = new Date(t);
    const sess = this.id(26).toLowerCase();
    this.userlogins.push([t, `[${p2(d.getUTCDate())}-${MON[d.getUTCMonth()]}-${d.getUTCFullYear()} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} +0000]: <${sess.slice(0, 8)}> Successful login for ${user} (ID: 3) from ${ip} in session ${sess}`]);
    return sess;
  }

  /** One IMAP session Roundcube opens on 127.0.0.1 to serve a page: in Dovecot's log, never on eth0. */
  loopbackImap(t0: number, t1: number, user: string, outBytes: number): void {
    const pid = this.nextPid(), sid = this.id(16);
    this.syslog('mail', t0, 'dovecot', `imap-login: Login: user=<${user}>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, mpid=${pid}, secured, session=<${sid}>`);
    this.syslog('mail', t1, 'dovecot', `imap(${user})<${pid}><${sid}>: Logged out in=${2_000} out=${outBytes} deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0`);
  }

  /**
   * One keep-alive HTTPS connection over [t0, t1] on which the browser fetches `bodies` (message
   * sources, attachments) from Roundcube: each request in the access log with its body bytes,
   * and the IMAP session Roundcube opens on loopback to fetch the same messages.
   */
  webmailFetch(o: { t0: number; t1: number; user: string; ip: string; cport: number; bodies: number[] }): void {
    let down = 0, up = 0, bodies = 0;
    o.bodies.forEach((body, i) => {
      const t = o.t0 + 1000 + Math.floor(((o.t1 - o.t0 - 2000) * i) / o.bodies.length);
      this.accessLog(t, o.ip, `GET /roundcube/?_task=mail&_action=show&_uid=${100 + i}&_mbox=INBOX HTTP/1.1`, 200, body);
      down += httpsBytes(body, 350);
      up += httpsBytes(500, 0);
      bodies += body;
    });
    this.tcp({ t0: o.t0, t1: o.t1, client: o.ip, cport: o.cport, server: SERVER, sport: 443, down, up, seg: MSS, owner: o.user });
    // IMAP carries the raw messages, a little more than Roundcube's rendered pages.
    this.loopbackImap(o.t0 + 200, o.t1 - 200, o.user, Math.round(bodies * 1.05));
  }

  override write(dir: string, o: Parameters<ScenarioWriter['write']>[1] = {}): ReturnType<ScenarioWriter['write']> {
    const r = super.write(dir, o);
    const files: string[] = [];
    for (const [name, lines] of [['userlogins.log', this.userlogins], ['access.log', this.access]] as const) {
      if (!lines.length) continue;
      const sorted = [...lines].sort((a, b) => a[0] - b[0]);
      const p = join(dir, name);
      writeFileSync(p, sorted.map(([, l]) => l).join('\n') + '\n');
      const when = new Date(sorted[sorted.length - 1][0] + 1000);
      utimesSync(p, when, when);
      files.push(p);
    }
    // Logs before the capture, as the other writers order them.
    return { ...r, files: [...files, ...r.files] };
  }
}

/**
 * maria@example.com's browser re-fetches her 30 MB mailbox through Roundcube six times in two
 * hours (about 180 MB over HTTPS), while tom@example.com reads a few messages in the webmail
 * from the same office network and the background's IMAP users go on as usual.
 */
export function webmailRefetch(seed = 17): Incident {
  const w = new WebmailScenarioWriter(seed);
  background(w);
  const user = 'maria@example.com', ip = '198.51.100.41';
  w.webmailLogin(T0 + 2 * MIN, user, ip);
  w.loopbackImap(T0 + 2 * MIN + 300, T0 + 2 * MIN + 2000, user, 40_000);
  for (let k = 0; k < 6; k++) {
    const t = T0 + 4 * MIN + k * 18 * MIN;
    const bodies = Array.from({ length: 60 }, () => 300_000 + Math.floor(w.rand() * 400_000));
    w.webmailFetch({ t0: t, t1: t + 12 * MIN, user, ip, cport: 53000 + k, bodies });
  }
  const other = 'tom@example.com', otherIp = '198.51.100.42';
  w.webmailLogin(T0 + 30 * MIN, other, otherIp);
  w.webmailFetch({ t0: T0 + 31 * MIN, t1: T0 + 36 * MIN, user: other, ip: otherIp, cport: 54000, bodies: [18_000, 42_000, 9_000, 120_000, 30_000] });
  return { name: 'webmail-refetch', writer: w, from: T0, to: T0 + 120 * MIN, culprit: user, expect: { account: user, service: 'webmail', direction: 'out', finding: 'webmail-refetch', peer: ip } };
}
