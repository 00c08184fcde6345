/** The terminal table of `bytetrail whois-user`: a pure function of its result. */
import type { WhoisResult } from '../correlate/whois.js';
import type { GeoRecord } from '../geoip.js';
import { sourceNamed } from '../sources/index.js';
import { clean, dateTime, formatBytes, plural, textTable, wrap } from './format.js';

export interface WhoisReport extends WhoisResult {
  window: { from: string; to: string };
  /** Null when no GeoIP database was found; nulls inside when the databases do not know the address. */
  geo: (GeoRecord & { sources: string[] }) | null;
}

export function geoLine(geo: WhoisReport['geo']): string | null {
  if (!geo) return null;
  const place = geo.country ? `${geo.country}${geo.countryName ? ` (${geo.countryName})` : ''}` : null;
  const as = geo.asn !== null ? `AS${geo.asn}${geo.asOrg ? ` ${geo.asOrg}` : ''}` : geo.asOrg;
  return [place, as].filter(Boolean).join(', ') || 'not in the GeoIP databases';
}

export function renderWhoisText(r: WhoisReport, width = 120): string {
  const out: string[] = [];
  const geo = geoLine(r.geo);
  out.push(`${r.ip}${geo ? `  ${clean(geo)}` : ''}`);
  out.push(`${dateTime(r.window.from)} – ${dateTime(r.window.to)} UTC`);
  out.push('');
  if (!r.accounts.length) {
    out.push(`No account was seen on ${r.ip} in this window.`);
  } else {
    // Within one year the year is left out: `11-20 09:02`.
    const sameYear = r.window.from.slice(0, 4) === r.window.to.slice(0, 4);
    const when = (iso: string) => (sameYear ? dateTime(iso).slice(5) : dateTime(iso));
    // The webmail column only when some account downloaded through it: most servers run none.
    const web = r.accounts.some((a) => a.webRequests > 0);
    out.push(...textTable(
      [{ title: 'account', shrink: true, min: 12 }, { title: 'services', shrink: true, min: 8 }, { title: 'first seen' }, { title: 'last seen' },
        { title: 'sessions', align: 'right' }, { title: 'failed', align: 'right' }, { title: 'in', align: 'right' }, { title: 'out', align: 'right' },
        ...(web ? [{ title: 'webmail', align: 'right' as const }] : [])],
      r.accounts.map((a) => [clean(a.account), a.services.map(clean).join(', '), when(a.firstSeen), when(a.lastSeen), String(a.sessions), String(a.failures),
        a.countedSessions ? formatBytes(a.bytesIn) : '–', a.countedSessions ? formatBytes(a.bytesOut) : '–',
        ...(web ? [a.webRequests ? formatBytes(a.webBytesOut) : '–'] : [])]),
      { width },
    ));
    const sessions = r.accounts.reduce((n, a) => n + a.sessions, 0);
    const counted = r.accounts.reduce((n, a) => n + a.countedSessions, 0);
    // Named from the sources that wrote the counters: Dovecot, Courier and Exim-fed servers differ.
    const from = r.countersFrom.map((n) => sourceNamed(n)?.title ?? n);
    out.push('');
    out.push(...wrap(`In and out are the byte counters the logs write at session end${from.length ? ` (${from.join(', ')})` : ''}, known for ${counted} of ${plural(sessions, 'session')}; VPN and SMTP logs carry none (\`bytetrail investigate\` measures wire bytes).`, width));
    if (web) {
      const requests = r.accounts.reduce((n, a) => n + a.webRequests, 0);
      out.push(...wrap(`Webmail is the body bytes of the web server's ${plural(requests, 'response')} to ${r.ip} while the account was logged in to the webmail from it (the access log), without headers or TLS.`, width));
    }
  }
  if (r.failuresWithoutAccount) out.push(`${plural(r.failuresWithoutAccount, 'failed login')} from ${r.ip} named no account.`);
  return out.join('\n');
}
