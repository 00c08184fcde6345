import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailSessionKeys, whoisIp } from '../src/correlate/whois.js';
import type { ParseContext } from '../src/events.js';
import { parseAny } from '../src/parsers/index.js';
import type { WhoisReport } from '../src/render/whois.js';
import { openStore, type StoredEvent, type StoredEventInput } from '../src/store/index.js';
import { runCli, spawnCli, tempDir } from './helpers/cli.js';
import { writeMmdb } from './helpers/mmdb-writer.js';
import { validate } from './render/json-schema.js';
import { loadSchema } from './render/helpers.js';

const CTX: ParseContext = { tz: 'UTC', refTime: Date.UTC(2026, 10, 21) };

/** One mail server's morning: 198.51.100.23 is a household NAT with two mail users and a VPN user; carol is elsewhere. */
const MAIL_LOG = `Nov 20 09:02:11 mail dovecot: imap-login: Login: user=<alice@example.com>, method=PLAIN, rip=198.51.100.23, lip=192.0.2.10, mpid=40211, TLS, session=<Xk2LwjJqbMPGM2QX>
Nov 20 09:02:40 mail dovecot: imap-login: Login: user=<carol@example.com>, method=PLAIN, rip=203.0.113.5, lip=192.0.2.10, mpid=40220, TLS, session=<Cc2LwjJqbMPGM2QX>
Nov 20 09:04:52 mail dovecot: imap(alice@example.com)<40211><Xk2LwjJqbMPGM2QX>: Disconnected: Logged out in=18230 out=412233870 deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=8121 body_bytes=411876002
Nov 20 09:05:03 mail dovecot: pop3-login: Login: user=<alice@example.com>, method=PLAIN, rip=::ffff:198.51.100.23, lip=::ffff:192.0.2.10, mpid=40388, TLS, session=<a9PawjJq0Lcgbdu4>
Nov 20 09:05:09 mail dovecot: pop3(alice@example.com)<40388><a9PawjJq0Lcgbdu4>: Disconnected: Logged out top=0/0, retr=2/34567, del=2/2, size=34567
Nov 20 09:10:00 mail dovecot: imap-login: Login: user=<bob@example.com>, method=PLAIN, rip=198.51.100.23, lip=192.0.2.10, mpid=40500, TLS, session=<Bo2LwjJqbMPGM2QX>
Nov 20 09:12:40 mail postfix/submission/smtpd[30110]: 2C81F1C0A9: client=client-7.example.org[198.51.100.23], sasl_method=LOGIN, sasl_username=alice@example.com
Nov 20 09:30:00 mail dovecot: auth: passwd-file(mallory@example.com,198.51.100.23,<HuXm0jJqitLGM2Qf>): Password mismatch
Nov 20 09:31:00 mail dovecot: auth: passwd-file(mallory@example.com,198.51.100.23,<HuXm0jJqitLGM2Qg>): Password mismatch
Nov 20 09:45:00 mail dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<>, method=PLAIN, rip=198.51.100.23, lip=192.0.2.10, TLS, session=<Zz2LwjJqbMPGM2QX>
Nov 20 09:50:00 mail dovecot: imap(carol@example.com)<40220><Cc2LwjJqbMPGM2QX>: Disconnected: Logged out in=100 out=2000
`;

const OPENVPN_LOG = `2026-11-20 09:40:02 198.51.100.23:51234 TLS: Initial packet from [AF_INET]198.51.100.23:51234, sid=1a2b3c4d 5e6f7a8b
2026-11-20 09:40:03 198.51.100.23:51234 TLS: Username/Password authentication succeeded for username 'alice@example.com'
2026-11-20 09:40:03 198.51.100.23:51234 [alice@example.com] Peer Connection Initiated with [AF_INET]198.51.100.23:51234
2026-11-20 09:40:03 alice@example.com/198.51.100.23:51234 MULTI_sva: pool returned IPv4=198.51.100.6, IPv6=(Not enabled)
2026-11-20 10:00:00 198.51.100.23:50001 SENT CONTROL [client70]: 'AUTH_FAILED' (status=1)
2026-11-20 10:41:19 alice@example.com/198.51.100.23:51234 SIGTERM[soft,remote-exit] received, client-instance exiting
`;

const EXPECTED = {
  ip: '198.51.100.23',
  accounts: [
    {
      account: 'alice@example.com', services: ['imap', 'pop3', 'submission', 'vpn'], firstSeen: '2026-11-20T09:02:11.000Z', lastSeen: '2026-11-20T10:41:19.000Z',
      sessions: 4, failures: 0, bytesIn: 18230, bytesOut: 412233870 + 34567, countedSessions: 2, webRequests: 0, webBytesOut: 0,
    },
    { account: 'client70', services: ['vpn'], firstSeen: '2026-11-20T10:00:00.000Z', lastSeen: '2026-11-20T10:00:00.000Z', sessions: 0, failures: 1, bytesIn: 0, bytesOut: 0, countedSessions: 0, webRequests: 0, webBytesOut: 0 },
    { account: 'mallory@example.com', services: ['dovecot'], firstSeen: '2026-11-20T09:30:00.000Z', lastSeen: '2026-11-20T09:31:00.000Z', sessions: 0, failures: 2, bytesIn: 0, bytesOut: 0, countedSessions: 0, webRequests: 0, webBytesOut: 0 },
    { account: 'bob@example.com', services: ['imap'], firstSeen: '2026-11-20T09:10:00.000Z', lastSeen: '2026-11-20T09:10:00.000Z', sessions: 1, failures: 0, bytesIn: 0, bytesOut: 0, countedSessions: 0, webRequests: 0, webBytesOut: 0 },
  ],
  failuresWithoutAccount: 1,
  bytesFrom: 'log-counters',
  countersFrom: ['dovecot'],
};

const tmp = tempDir('bytetrail-whois-');
const db = join(tmp.dir, 'bytetrail.db');
const WINDOW = ['--since', '2026-11-20T00:00:00Z', '--until', '2026-11-21T00:00:00Z'];

function parse(text: string): StoredEventInput[] {
  const out: StoredEventInput[] = [];
  text.split('\n').forEach((raw, i) => {
    if (!raw) return;
    const d = parseAny(raw, CTX);
    if (d.result.type !== 'event') throw new Error(`fixture line ${i + 1} did not parse: ${d.result.reason}`);
    out.push({ ev: d.result.event, line: i + 1, raw });
  });
  return out;
}

function load(path: string, files: ReadonlyArray<readonly [string, string]>): void {
  const store = openStore({ path });
  for (const [path, text] of files) {
    const f = store.createFile({ path, dev: null, ino: null, fpHash: path, fpLen: text.length, kind: 'log', size: text.length, mtime: CTX.refTime });
    const events = parse(text);
    const ok = store.commitBatch({
      fileId: f.id, expectOffset: 0, newOffset: text.length, newLines: events.length, tailHash: null,
      events, aggs: [], stats: [], unparsed: [],
    });
    if (!ok) throw new Error('commitBatch refused the batch');
  }
  store.close();
}

beforeAll(() => load(db, [['/var/log/mail.log', MAIL_LOG], ['/var/log/openvpn/server.log', OPENVPN_LOG]]));
afterAll(() => tmp.cleanup());

function storedEvents(): StoredEvent[] {
  const store = openStore({ path: db, readonly: true });
  try {
    const evs = store.eventsForIp('198.51.100.23', Date.UTC(2026, 10, 20), Date.UTC(2026, 10, 21));
    return [...evs, ...store.eventsForSessions('dovecot', mailSessionKeys(evs, '198.51.100.23'))];
  } finally {
    store.close();
  }
}

describe('whoisIp', () => {
  it('lists every account on the IP, joining Dovecot logouts by session', () => {
    expect(whoisIp(storedEvents(), '198.51.100.23')).toEqual(EXPECTED);
  });

  it('does not care about the order of its events, and ignores other addresses', () => {
    const evs = storedEvents().reverse();
    expect(whoisIp(evs, '198.51.100.23')).toEqual(EXPECTED);
    expect(whoisIp(evs, '203.0.113.5')).toEqual({ ip: '203.0.113.5', accounts: [], failuresWithoutAccount: 0, bytesFrom: 'log-counters', countersFrom: [] });
  });

  it('without the logouts, sessions count but bytes are unknown', () => {
    const only = storedEvents().filter((e) => e.rip === '198.51.100.23');
    const alice = whoisIp(only, '198.51.100.23').accounts[0];
    expect(alice).toMatchObject({ account: 'alice@example.com', sessions: 4, bytesIn: 0, bytesOut: 0, countedSessions: 0, lastSeen: '2026-11-20T10:41:19.000Z' });
  });

  it('counts a VPN session once across its auth, connect, lease and disconnect lines', () => {
    const vpn = storedEvents().filter((e) => e.source === 'openvpn');
    expect(whoisIp(vpn, '198.51.100.23').accounts.find((a) => a.account === 'alice@example.com')).toMatchObject({ sessions: 1, services: ['vpn'] });
  });
});

describe('bytetrail whois-user', () => {
  const geoDir = join(tmp.dir, 'geoip');
  beforeAll(() => {
    const mmdb = writeMmdb({
      databaseType: 'GeoLite2-Country', ipVersion: 6,
      records: [{ network: '198.51.100.0/24', data: { country: { iso_code: 'NL', names: { en: 'Netherlands' } } } }],
    });
    const asn = writeMmdb({ databaseType: 'GeoLite2-ASN', ipVersion: 6, records: [{ network: '198.51.100.0/24', data: { autonomous_system_number: 64496, autonomous_system_organization: 'Example Transit B.V.' } }] });
    mkdirSync(geoDir);
    writeFileSync(join(geoDir, 'GeoLite2-Country.mmdb'), mmdb);
    writeFileSync(join(geoDir, 'GeoLite2-ASN.mmdb'), asn);
  });

  it('--json returns the result with the window and the GeoIP answer, as the schema says', async () => {
    const { result, error } = await runCli<WhoisReport>(['whois-user', '::ffff:198.51.100.23', '--db', db, ...WINDOW, '--geoip-db', geoDir, '--json']);
    expect(error).toBeUndefined();
    expect(result).toEqual({
      ...EXPECTED,
      window: { from: '2026-11-20T00:00:00.000Z', to: '2026-11-21T00:00:00.000Z' },
      geo: { country: 'NL', countryName: 'Netherlands', asn: 64496, asOrg: 'Example Transit B.V.', sources: [join(geoDir, 'GeoLite2-Country.mmdb'), join(geoDir, 'GeoLite2-ASN.mmdb')] },
    });
    expect(validate(loadSchema('whois-user'), result)).toEqual([]);
  });

  it('prints a small table, and says where the bytes come from', async () => {
    const { stdout, error } = await runCli(['whois-user', '198.51.100.23', '--db', db, ...WINDOW, '--geoip-db', geoDir]);
    expect(error).toBeUndefined();
    const lines = stdout.split('\n');
    expect(lines[0]).toBe('198.51.100.23  NL (Netherlands), AS64496 Example Transit B.V.');
    expect(lines[1]).toBe('2026-11-20 00:00 – 2026-11-21 00:00 UTC');
    expect(lines[3]).toMatch(/^account\s+services\s+first seen\s+last seen\s+sessions\s+failed\s+in\s+out$/);
    expect(lines[4]).toMatch(/^alice@example\.com\s+imap, pop3, submission, vpn\s+11-20 09:02\s+11-20 10:41\s+4\s+0\s+18\.2 KB\s+412 MB$/);
    expect(lines[7]).toMatch(/^bob@example\.com\s+imap\s+.*\s+1\s+0\s+–\s+–$/);
    // The counters are named from the source that wrote them, not assumed to be Dovecot's.
    expect(stdout).toContain('In and out are the byte counters the logs write at session end (Dovecot), known for 2 of 5 sessions');
    expect(stdout).not.toContain('webmail');
    expect(stdout).toContain('1 failed login from 198.51.100.23 named no account.');
  });

  it('an IP nobody used, and no GeoIP database', async () => {
    const { result } = await runCli<WhoisReport>(['whois-user', '2001:DB8::0:1', '--db', db, ...WINDOW, '--json']);
    // No --geoip-db: the standard directories decide; on a machine with GeoLite2 installed geo is an object.
    expect(result).toMatchObject({ ip: '2001:db8::1', accounts: [], failuresWithoutAccount: 0 });
  });

  it('a non-IP argument is a one-line user error', () => {
    for (const [arg, hint] of [['mail.example.com', 'e.g. 198.51.100.23'], ['198.51.100.0/24', 'not a network'], ['198.51.100.256', 'e.g.']]) {
      const r = spawnCli(['whois-user', arg, '--db', db]);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(`bytetrail: error: not an IP address: ${JSON.stringify(arg)}\n  hint: ${r.stderr.split('hint: ')[1]}`);
      expect(r.stderr).toContain(hint);
    }
  });

  it('a damaged GeoIP database is a one-line user error', () => {
    const bad = join(tmp.dir, 'bad.mmdb');
    writeFileSync(bad, 'not a database');
    const r = spawnCli(['whois-user', '198.51.100.23', '--db', db, '--geoip-db', bad]);
    expect(r.status).toBe(1);
    expect(r.stderr.split('\n')[0]).toBe(`bytetrail: error: GeoIP database ${bad} is not a MaxMind DB (.mmdb) file, or it is damaged`);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
  });
});

/**
 * A household NAT where bob, then jan, use the webmail: each download (nginx's access log) is the
 * account logged in to Roundcube from the address at the time, as investigate attributes it.
 */
const ROUNDCUBE_LOG = `[20-Nov-2026 09:00:01 +0000]: <4bd4jqqc> Successful login for bob@example.com (ID: 7) from 198.51.100.23 in session 9q2m4b1kd0a7se3v8c5n6x
[20-Nov-2026 10:00:01 +0000]: <5ce5krrd> Successful login for jan@example.com (ID: 6) from 198.51.100.23 in session 0r3n5c2le1b8tf4w9d6o7y
`;
const ACCESS_LOG = `198.51.100.23 - - [20/Nov/2026:09:00:02 +0000] "GET /roundcube/?_task=mail&_mbox=INBOX HTTP/1.1" 200 18342 "https://mail.example.com/roundcube/?_task=login" "Mozilla/5.0"
198.51.100.23 - - [20/Nov/2026:09:00:05 +0000] "GET /roundcube/?_task=mail&_action=get&_uid=4711&_mbox=INBOX&_part=2 HTTP/1.1" 200 5243187 "-" "Mozilla/5.0"
198.51.100.23 - - [20/Nov/2026:10:00:03 +0000] "GET /roundcube/?_task=mail&_action=show&_uid=4712&_mbox=INBOX HTTP/2.0" 200 1048576 "-" "Mozilla/5.0"
203.0.113.9 - - [20/Nov/2026:10:00:04 +0000] "GET /roundcube/?_task=mail&_action=show&_uid=4713&_mbox=INBOX HTTP/2.0" 200 777 "-" "Mozilla/5.0"
`;

describe('whois-user and the webmail', () => {
  const webDb = join(tmp.dir, 'webmail.db');
  beforeAll(() => load(webDb, [['/var/log/roundcube/userlogins.log', ROUNDCUBE_LOG], ['/var/log/nginx/access.log', ACCESS_LOG]]));

  it("lists each account's webmail downloads: the responses to the address while it was logged in from there", async () => {
    const { result, error } = await runCli<WhoisReport>(['whois-user', '198.51.100.23', '--db', webDb, ...WINDOW, '--json']);
    expect(error).toBeUndefined();
    expect(result.accounts).toEqual([
      { account: 'jan@example.com', services: ['webmail'], firstSeen: '2026-11-20T10:00:01.000Z', lastSeen: '2026-11-20T10:00:03.000Z',
        sessions: 1, failures: 0, bytesIn: 0, bytesOut: 0, countedSessions: 0, webRequests: 1, webBytesOut: 1048576 },
      { account: 'bob@example.com', services: ['webmail'], firstSeen: '2026-11-20T09:00:01.000Z', lastSeen: '2026-11-20T09:00:05.000Z',
        sessions: 1, failures: 0, bytesIn: 0, bytesOut: 0, countedSessions: 0, webRequests: 2, webBytesOut: 18342 + 5243187 },
    ]);
    expect(result.countersFrom).toEqual([]);
    expect(validate(loadSchema('whois-user'), result)).toEqual([]);
  });

  it('shows them in a webmail column, and says what they are', async () => {
    const { stdout, error } = await runCli(['whois-user', '198.51.100.23', '--db', webDb, ...WINDOW]);
    expect(error).toBeUndefined();
    const lines = stdout.split('\n');
    expect(lines[3]).toMatch(/^account\s+services\s+first seen\s+last seen\s+sessions\s+failed\s+in\s+out\s+webmail$/);
    expect(lines[4]).toMatch(/^jan@example\.com\s+webmail\s+11-20 10:00\s+11-20 10:00\s+1\s+0\s+–\s+–\s+1\.05 MB$/);
    expect(lines[5]).toMatch(/^bob@example\.com\s+webmail\s+.*\s+1\s+0\s+–\s+–\s+5\.26 MB$/);
    expect(stdout).toContain("In and out are the byte counters the logs write at session end, known for 0 of 2 sessions");
    expect(stdout.replace(/\n/g, ' ')).toContain("Webmail is the body bytes of the web server's 3 responses to 198.51.100.23 while the account was logged in to the webmail from it");
  });

  it('a download from an address nobody logged in from is no account’s', async () => {
    const { result } = await runCli<WhoisReport>(['whois-user', '203.0.113.9', '--db', webDb, ...WINDOW, '--json']);
    expect(result).toMatchObject({ accounts: [], failuresWithoutAccount: 0 });
  });
});
