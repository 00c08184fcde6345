import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ParseContext } from '../../src/events.js';
import { type Envelope, isEnvelopeError, parseEnvelope } from '../../src/parsers/syslog.js';
import { zonedToUtc } from '../../src/time.js';
import { CORPUS } from '../helpers/golden.js';

const UTC: ParseContext = { tz: 'UTC', refTime: Date.UTC(2026, 10, 21, 12, 0, 0) };

function env(line: string, ctx: ParseContext = UTC): Envelope {
  const r = parseEnvelope(line, ctx);
  if (isEnvelopeError(r)) throw new Error(`envelope error: ${r.error}`);
  return r;
}

describe('syslog envelope', () => {
  it('reads a BSD line with the year of the reference time', () => {
    const e = env('Nov 20 09:20:02 mx1 postfix/submission/smtpd[4242]: connect from unknown[192.0.2.1]');
    expect(new Date(e.ts).toISOString()).toBe('2026-11-20T09:20:02.000Z');
    expect(e).toMatchObject({ host: 'mx1', program: 'postfix/submission/smtpd', pid: 4242, msg: 'connect from unknown[192.0.2.1]', form: 'bsd' });
  });

  it('moves a December line back a year when the file was written in January (rollover)', () => {
    const jan: ParseContext = { tz: 'UTC', refTime: Date.UTC(2027, 0, 1, 0, 5, 0) };
    expect(new Date(env('Dec 31 23:59:58 mx1 kernel: x', jan).ts).toISOString()).toBe('2026-12-31T23:59:58.000Z');
    expect(new Date(env('Jan  1 00:00:03 mx1 kernel: x', jan).ts).toISOString()).toBe('2027-01-01T00:00:03.000Z');
  });

  it('reads local times in the given zone, across DST', () => {
    const berlin: ParseContext = { tz: 'Europe/Berlin', refTime: Date.UTC(2026, 11, 1) };
    expect(new Date(env('Jul  1 12:00:00 h p: m', berlin).ts).toISOString()).toBe('2026-07-01T10:00:00.000Z');
    expect(new Date(env('Nov 20 12:00:00 h p: m', berlin).ts).toISOString()).toBe('2026-11-20T11:00:00.000Z');
    expect(new Date(env('20-Nov-2026 09:30:01.123 queries: info: x', berlin).ts).toISOString()).toBe('2026-11-20T08:30:01.123Z');
  });

  it('reads RFC 3339 (rsyslog high precision, journalctl short-iso) with their offsets', () => {
    expect(new Date(env('2026-11-20T09:20:02.123456+01:00 mx1 dovecot[77]: x').ts).toISOString()).toBe('2026-11-20T08:20:02.123Z');
    const j = env('2026-11-20T09:20:02+0100 mx1 named[12]: client x');
    expect(new Date(j.ts).toISOString()).toBe('2026-11-20T08:20:02.000Z');
    expect(j).toMatchObject({ host: 'mx1', program: 'named', pid: 12 });
  });

  it('reads RFC 5424 with structured data, a leap second and a +11:30 offset', () => {
    const e = env('<34>1 2012-12-19T01:45:54.001234+11:30 rufus app 77 ID1 [meta sequenceId="10"] hello');
    expect(new Date(e.ts).toISOString()).toBe('2012-12-18T14:15:54.001Z');
    expect(e).toMatchObject({ host: 'rufus', program: 'app', pid: 77, msg: 'hello' });
    expect(new Date(env('<174>1 2016-12-31T23:59:60-04:00 h p 1 - - m').ts).toISOString()).toBe('2017-01-01T03:59:59.000Z');
  });

  it('reads program-native stamps: OpenVPN (new and old), BIND, rspamd, unbound, journald JSON', () => {
    expect(env('2026-11-20 09:20:02 client1/203.0.113.5:51234 MULTI_sva: pool returned IPv4=198.51.100.6')).toMatchObject({ program: null, form: 'native', msg: 'client1/203.0.113.5:51234 MULTI_sva: pool returned IPv4=198.51.100.6' });
    expect(new Date(env('Fri Nov 20 09:20:02 2026 us=123 client1/203.0.113.5:1 x').ts).toISOString()).toBe('2026-11-20T09:20:02.000Z');
    expect(env('2026-11-20 09:15:02 #1234(normal) <abcdef>; task; x').msg).toBe('#1234(normal) <abcdef>; task; x');
    const u = env('[1732094402] unbound[1234:0] info: 192.0.2.1 example.com. A IN');
    expect(u).toMatchObject({ ts: 1732094402000, program: 'unbound', pid: 1234, msg: 'info: 192.0.2.1 example.com. A IN' });
    const jr = env('{"__REALTIME_TIMESTAMP":"1763630402123456","_HOSTNAME":"vpn1","SYSLOG_IDENTIFIER":"kernel","MESSAGE":"IN=eth0 OUT= SRC=203.0.113.9"}');
    expect(jr).toMatchObject({ ts: 1763630402123, host: 'vpn1', program: 'kernel', form: 'journal-json' });
  });

  it('reads a bare kernel uptime stamp only with a boot time', () => {
    expect(isEnvelopeError(parseEnvelope('[12345.678901] IN=eth0 OUT=', UTC))).toBe(true);
    const e = env('[12345.678901] IN=eth0 OUT=', { ...UTC, bootTime: Date.UTC(2026, 10, 20) });
    expect(e.ts).toBe(Date.UTC(2026, 10, 20) + 12345679);
  });

  it('never throws on garbage', () => {
    for (const g of ['', ' ', '\0\0\0', '<', '<999>', '[', '{', '{"a":1}', 'Nov', 'Nov 99 99:99:99 x', '2026-13-45T99:00:00Z h p: m', '\uFFFD'.repeat(100), 'x'.repeat(100000)]) {
      expect(() => parseEnvelope(g, UTC)).not.toThrow();
    }
  });
});

const TS = join(CORPUS, 'timestamps');
describe.skipIf(!existsSync(TS))('timestamp corpus (../shared/corpus/timestamps)', () => {
  it('fail2ban generic examples: each expected time is read (fail2ban runs its tests in a UTC+2 summer zone)', () => {
    const lines = readFileSync(join(TS, 'fail2ban-tests-zzz-generic-example.log'), 'utf8').split('\n');
    const ctx: ParseContext = { tz: 'Europe/Berlin', refTime: Date.UTC(2005, 11, 31) };
    let checked = 0;
    for (let i = 0; i < lines.length - 1; i++) {
      const m = /^# failJSON: (.*)$/.exec(lines[i]);
      if (!m) continue;
      const exp = JSON.parse(m[1]) as { time?: string | null };
      const line = lines[i + 1];
      if (line.startsWith('#')) continue;
      const r = parseEnvelope(line, ctx);
      if (!exp.time) continue;
      expect(isEnvelopeError(r), line).toBe(false);
      const [d, t] = exp.time.split('T');
      const [y, mo, day] = d.split('-').map(Number);
      const [h, mi, s] = t.split(':').map(Number);
      expect((r as Envelope).ts, line).toBe(zonedToUtc('Europe/Berlin', y, mo, day, h, mi, s));
      checked++;
    }
    expect(checked).toBeGreaterThan(10);
  });

  it('CrowdSec syslog and RFC 5424 samples: program, pid and message agree', () => {
    for (const name of ['crowdsec-hub-syslog-logs', 'crowdsec-hub-pfsense-rfc5424-filterlog']) {
      const lines = readFileSync(join(TS, `${name}.log`), 'utf8').split('\n').filter(Boolean);
      const asserts = readFileSync(join(TS, `${name}.parser.assert`), 'utf8');
      const re = /\]\[(\d+)\]\.Evt\.Parsed\["(program|pid|message)"\] == "((?:[^"\\]|\\.)*)"/g;
      let m: RegExpExecArray | null;
      let n = 0;
      while ((m = re.exec(asserts))) {
        const e = parseEnvelope(lines[+m[1]], { tz: 'UTC', refTime: Date.UTC(2026, 0, 1) });
        expect(isEnvelopeError(e), lines[+m[1]]).toBe(false);
        const want = JSON.parse(`"${m[3]}"`) as string;
        const got = m[2] === 'program' ? (e as Envelope).program : m[2] === 'pid' ? String((e as Envelope).pid) : (e as Envelope).msg;
        expect(got, `${name}[${m[1]}].${m[2]}`).toBe(want);
        n++;
      }
      expect(n).toBeGreaterThan(0);
    }
  });

  it('every file reads without throwing, and every line gets a stamp or a reason', () => {
    const ctx: ParseContext = { tz: 'UTC', refTime: Date.UTC(2026, 0, 1) };
    const counts: Record<string, { ok: number; miss: number }> = {};
    for (const f of readdirSync(TS)) {
      if (f.endsWith('.assert') || f.endsWith('.rb')) continue;
      const c = (counts[f] = { ok: 0, miss: 0 });
      for (const line of readFileSync(join(TS, f), 'utf8').split('\n')) {
        if (!line) continue;
        const r = parseEnvelope(line, ctx);
        if (isEnvelopeError(r)) { expect(r.error.length).toBeGreaterThan(0); c.miss++; } else c.ok++;
      }
    }
    // Whole files of syslog must read; only continuation lines and headers may miss.
    expect(counts['lnav-test-logfile_syslog.0'].miss).toBe(0);
    expect(counts['lnav-test-logfile_syslog_fr.0'].miss).toBe(0);
    expect(counts['lnav-test-logfile_journald.json'].miss).toBe(0);
  });
});

describe('envelope forms added for specific programs', () => {
  it('keeps the arguments of a tag: Dovecot split tags carry the user and session', () => {
    const e = env('Nov 20 09:20:02 imap(jan@example.com)<4711><AbCd>: Info: Logged out in=12 out=3456');
    expect(e).toMatchObject({ host: null, program: 'imap', tagArgs: '(jan@example.com)<4711><AbCd>', msg: 'Info: Logged out in=12 out=3456' });
    expect(env('Jun 21 16:50:02 machine test-demo(pam_unix)[13709]: x')).toMatchObject({ program: 'test-demo', pid: 13709, tagArgs: '(pam_unix)' });
    expect(env('Nov 20 09:20:02 mx1 postfix/smtpd[1]: x').tagArgs).toBeNull();
  });

  it('reads TAI64N stamps (daemontools, s6): 2^62 + 10 + Unix seconds', () => {
    const e = env('@400000004c91b044077a9e94 imap-login: Info: Aborted login (auth failed, 1 attempts)');
    expect(new Date(e.ts).toISOString()).toBe('2010-09-16T05:50:50.125Z');
    expect(e).toMatchObject({ program: 'imap-login', msg: 'Info: Aborted login (auth failed, 1 attempts)' });
  });

  it('reads Proxmox pve-firewall.log lines with their offset', () => {
    const e = env('101 1 tap101i0-IN 20/Nov/2026:13:12:46 +0100 REJECT: IN=fwbr101i0 OUT=fwbr101i0 SRC=203.0.113.9 DST=192.0.2.10');
    expect(new Date(e.ts).toISOString()).toBe('2026-11-20T12:12:46.000Z');
    expect(e).toMatchObject({ program: 'pve-firewall', msg: '101 1 tap101i0-IN REJECT: IN=fwbr101i0 OUT=fwbr101i0 SRC=203.0.113.9 DST=192.0.2.10' });
  });
});
