/**
 * The access log through the registry: webmail requests become web-transfer facts, joined to the
 * webmail login on the client's address (the latest one; another account's newer login takes
 * over), and estimated from their body bytes only where no flow covers them.
 */
import { describe, expect, it } from 'vitest';
import { HTTP_RESPONSE_HEADERS, MSS, TCP_FRAME_HEADERS, webmailEstimates } from '../src/correlate/estimates.js';
import { buildIdentities, webAccountAt } from '../src/correlate/identities.js';
import { parseAny } from '../src/parsers/index.js';
import type { StoredEvent } from '../src/store/index.js';
import { GOLDEN_CTX } from './helpers/golden.js';

function events(lines: string[]): StoredEvent[] {
  const out: StoredEvent[] = [];
  lines.forEach((raw, i) => {
    const r = parseAny(raw, GOLDEN_CTX).result;
    if (r.type === 'event') out.push({ ...r.event, id: i + 1, fileId: 1, line: i + 1, path: 'x.log', raw } as StoredEvent);
  });
  return out.sort((a, b) => a.ts - b.ts);
}

const LOGINS = [
  '[20-Nov-2026 08:00:00 +0000]: <aaaa1111> Successful login for jan@example.com (ID: 3) from 203.0.113.9 in session aaaa1111bbbb',
  '[20-Nov-2026 09:00:00 +0000]: <cccc2222> Successful login for eva@example.com (ID: 4) from 203.0.113.9 in session cccc2222dddd',
];
const get = (t: string, bytes: number, ip = '203.0.113.9') => `${ip} - - [20/Nov/2026:${t} +0000] "GET /roundcube/?_task=mail&_action=show&_uid=1 HTTP/1.1" 200 ${bytes} "-" "Mozilla/5.0"`;

describe('webmail access log', () => {
  it('joins each request to the webmail login on its address, the newest first', () => {
    const evs = events([...LOGINS, get('08:30:00', 1_000_000), get('09:30:00', 2_000_000), get('08:30:00', 5_000, '198.51.100.9')]);
    const ids = buildIdentities(evs, Date.UTC(2026, 10, 21));
    // Webmail logins are not mail sessions.
    expect(ids.mail).toEqual([]);
    expect(webAccountAt(ids, '203.0.113.9', Date.UTC(2026, 10, 20, 8, 30))?.account).toBe('jan@example.com');
    expect(webAccountAt(ids, '203.0.113.9', Date.UTC(2026, 10, 20, 9, 30))?.account).toBe('eva@example.com');
    // Before any login, and 12 hours after the last, nobody.
    expect(webAccountAt(ids, '203.0.113.9', Date.UTC(2026, 10, 20, 7, 50))).toBeNull();
    expect(webAccountAt(ids, '203.0.113.9', Date.UTC(2026, 10, 20, 21, 1))).toBeNull();
    const est = webmailEstimates(evs, ids);
    expect(est.map((e) => [e.account, e.group, e.reason])).toEqual([['jan@example.com', 'webmail', null], [null, 'other', 'web'], ['eva@example.com', 'webmail', null]]);
    // A 1 MB body: the body, its headers and TLS records, in 1448-byte segments with their headers, and half as many ACKs back.
    const payload = 1_000_000 + HTTP_RESPONSE_HEADERS + Math.ceil((1_000_000 + HTTP_RESPONSE_HEADERS) / 16_384) * 22;
    const segs = Math.ceil(payload / MSS);
    expect(est[0].bytesOut).toBe(payload + segs * TCP_FRAME_HEADERS + TCP_FRAME_HEADERS);
    expect(est[0].bytesIn).toBe(522 + TCP_FRAME_HEADERS + Math.ceil(segs / 2) * TCP_FRAME_HEADERS);
  });
});
