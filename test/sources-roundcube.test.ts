/** Roundcube through the registry: a webmail login is a session whois lists as `webmail`, never an IMAP session. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildIdentities } from '../src/correlate/identities.js';
import { whoisIp } from '../src/correlate/whois.js';
import { parseAny } from '../src/parsers/index.js';
import type { StoredEvent } from '../src/store/index.js';
import { FIXTURES, GOLDEN_CTX } from './helpers/golden.js';

function events(): StoredEvent[] {
  const out: StoredEvent[] = [];
  readFileSync(join(FIXTURES, 'roundcube', 'userlogins.log'), 'utf8').split('\n').forEach((raw, i) => {
    const r = parseAny(raw, GOLDEN_CTX).result;
    if (r.type === 'event') out.push({ ...r.event, id: i + 1, fileId: 1, line: i + 1, path: 'userlogins.log', raw } as StoredEvent);
  });
  return out;
}

describe('Roundcube', () => {
  it('whois lists webmail logins and failures by the client address', () => {
    const evs = events();
    expect(whoisIp(evs, '198.51.100.23').accounts).toEqual([
      expect.objectContaining({ account: 'jan@example.com', services: ['webmail'], sessions: 2, failures: 0 }),
    ]);
    expect(whoisIp(evs, '203.0.113.78').accounts).toEqual([expect.objectContaining({ account: 'admin', services: ['webmail'], sessions: 0, failures: 1 })]);
  });

  it('a webmail login is not an IMAP or POP3 session; a failed one is a failed login', () => {
    const ids = buildIdentities(events(), Date.UTC(2026, 10, 21));
    expect(ids.mail).toEqual([]);
    expect(ids.successIps.size).toBe(0);
    expect([...ids.authFailByIp.keys()].sort()).toEqual(['203.0.113.77', '203.0.113.78', '203.0.113.79']);
  });
});
