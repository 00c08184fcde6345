import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LogEvent, ParseContext, ParseResult } from '../../src/events.js';
import { normalizeIp } from '../../src/parsers/common.js';
import { parseLine, postfix } from '../../src/parsers/postfix.js';
import type { Envelope } from '../../src/parsers/syslog.js';

const CTX: ParseContext = { tz: 'UTC', refTime: Date.UTC(2026, 10, 21) };
const CORPUS = join(import.meta.dirname, '..', '..', '..', 'shared', 'corpus', 'postfix');

function ev(line: string, ctx = CTX): LogEvent {
  const r = parseLine(line, ctx);
  if (r.type !== 'event') throw new Error(`expected an event, got ${r.type}: ${r.reason}`);
  return r.event;
}

/** Feed a bare message body through the parser under a given program tag. */
function msg(program: string, text: string): ParseResult {
  const env: Envelope = { ts: 0, host: 'mx', program, pid: 1, msg: text, form: 'bsd' };
  return postfix.parseMessage(env, CTX);
}

function msgEv(program: string, text: string): LogEvent {
  const r = msg(program, text);
  if (r.type !== 'event') throw new Error(`expected an event, got ${r.type}: ${r.reason}`);
  return r.event;
}

describe('postfix: program tags', () => {
  it('claims postfix daemons under any instance and service name, and nothing else', () => {
    for (const p of ['postfix/smtpd', 'postfix/submission/smtpd', 'postfix/smtps/smtpd', 'postfix-out/smtp', 'postfix/qmgr', 'postfix-in/postscreen', 'postfix/smtp-25/smtpd']) {
      expect(postfix.matchesProgram(p), p).toBe(true);
    }
    for (const p of ['postfix', 'postfixadmin', 'postfix-policyd-spf-perl', 'postgrey', 'dovecot', 'smtpd']) {
      expect(postfix.matchesProgram(p), p).toBe(false);
    }
  });

  it('names the instance, the daemon and the service', () => {
    const sub = msgEv('postfix/submission/smtpd', 'connect from unknown[192.0.2.1]');
    expect(sub.attrs).toMatchObject({ instance: 'postfix', daemon: 'smtpd', service: 'submission' });
    const smtps = msgEv('postfix-in/smtps/smtpd', 'connect from unknown[192.0.2.1]');
    expect(smtps.attrs).toMatchObject({ instance: 'postfix-in', daemon: 'smtpd', service: 'submission' });
    const out = msgEv('postfix-out/smtp', 'ABCDEF123: to=<a@example.net>, relay=none, delay=1, delays=1/0/0/0, dsn=4.4.1, status=deferred (x)');
    expect(out.attrs).toMatchObject({ instance: 'postfix-out', daemon: 'smtp', service: 'smtp', transport: 'smtp' });
  });
});

describe('postfix: sessions and accounts', () => {
  it('takes short and long queue ids as the session, NOQUEUE as none', () => {
    expect(msgEv('postfix/qmgr', '3F0A51C2B: removed').session).toBe('3F0A51C2B');
    expect(msgEv('postfix/qmgr', '4b3FQm2c7Pz9vKx: removed').session).toBe('4b3FQm2c7Pz9vKx');
    expect(msgEv('postfix/smtpd', 'NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 554 5.7.1 Service unavailable').session).toBeNull();
    // Words followed by a colon are not queue ids.
    expect(msg('postfix/smtpd', 'statistics: max connection rate 1/60s').type).toBe('skip');
    expect(msg('postfix/qmgr', 'DEAD: removed').type).toBe('unparsed');
  });

  it('reads the SASL login with a client port and sasl_sender', () => {
    const e = ev('Nov 20 09:14:59 mail postfix/submission/smtpd[2101]: 4F7A21C0B3: client=laptop.example.org[2001:db8:4a::17]:50122, sasl_method=PLAIN, sasl_username=jan@example.com, sasl_sender=jan@example.com');
    expect(e).toMatchObject({ kind: 'sasl-login', session: '4F7A21C0B3', account: 'jan@example.com', rip: '2001:db8:4a::17', rport: 50122 });
    expect(e.attrs).toMatchObject({ saslMethod: 'PLAIN', saslSender: 'jan@example.com', clientName: 'laptop.example.org', service: 'submission' });
    expect(e.ts).toBe(Date.UTC(2026, 10, 20, 9, 14, 59));
  });

  it('keeps a client line without SASL as `client`, and an IPv4-mapped address as IPv4', () => {
    const e = msgEv('postfix/smtpd', '5D4E3F2A1B: client=unknown[::ffff:192.0.2.40]');
    expect(e).toMatchObject({ kind: 'client', account: null, rip: '192.0.2.40' });
    expect(e.attrs?.clientName).toBeNull();
  });

  it('reads orig_client after a content filter', () => {
    const e = msgEv('postfix-out/smtpd', '4b3FQn0Lk5z9vKy: client=filter.example.com[192.0.2.2], orig_queue_id=4b3FQm2c7Pz9vKx, orig_client=unknown[203.0.113.45]');
    expect(e.rip).toBe('192.0.2.2');
    expect(e.attrs).toMatchObject({ origQueueId: '4b3FQm2c7Pz9vKx', origClient: '203.0.113.45' });
  });

  it('takes the tried user name of a failed SASL login as the account', () => {
    const e = msgEv('postfix/smtps/smtpd', 'warning: unknown[203.0.113.10]:55729: SASL LOGIN authentication failed: (reason unavailable), sasl_username=postmaster@example.org');
    expect(e).toMatchObject({ kind: 'sasl-fail', account: 'postmaster@example.org', rip: '203.0.113.10', rport: 55729 });
    expect(e.attrs).toMatchObject({ method: 'LOGIN', reason: '(reason unavailable)' });
    const bare = msgEv('postfix/smtpd', 'warning: host[192.0.2.5]: SASL PLAIN authentication failed: ');
    expect(bare).toMatchObject({ account: null, rip: '192.0.2.5' });
    expect(bare.attrs).toMatchObject({ clientName: 'host', reason: null });
  });
});

describe('postfix: connections', () => {
  it('keeps the disconnect counters, with failures of `accepted/total`', () => {
    const e = msgEv('postfix/smtpd', 'disconnect from unknown[192.0.2.1] ehlo=2 starttls=1 auth=0/1 mail=1 rcpt=1/3 data=0/1 quit=1 commands=6/10');
    expect(e.kind).toBe('disconnect');
    expect(e.attrs).toMatchObject({ ehlo: 2, auth: 0, authFailed: 1, rcpt: 1, rcptFailed: 2, data: 0, dataFailed: 1, commands: 6, commandsFailed: 4 });
    expect(msgEv('postfix/smtpd', 'disconnect from unknown[unknown] commands=0/0').rip).toBeNull();
  });

  it('reads lost connections and timeouts with their stage and the bytes already received', () => {
    const lost = msgEv('postfix/smtpd', 'lost connection after DATA (7774180 bytes) from unknown[2001:db8::7]');
    expect(lost).toMatchObject({ kind: 'lost-connection', rip: '2001:db8::7' });
    expect(lost.attrs).toMatchObject({ stage: 'DATA', dataBytes: 7774180 });
    expect(lost.bytesIn).toBeNull();
    const noq = msgEv('postfix/smtpd', 'NOQUEUE: lost connection after CONNECT from unknown[192.0.2.25]');
    expect(noq).toMatchObject({ kind: 'lost-connection', rip: '192.0.2.25' });
    expect(msgEv('postfix/smtpd', 'timeout after END-OF-MESSAGE from mail.example.net[192.0.2.9]').attrs).toMatchObject({ stage: 'END-OF-MESSAGE', clientName: 'mail.example.net' });
  });

  it('reads postscreen with both ends of the connection', () => {
    const c = msgEv('postfix/postscreen', 'CONNECT from [2001:db8:1::25]:55810 to [2001:db8::10]:25');
    expect(c).toMatchObject({ kind: 'postscreen-connect', rip: '2001:db8:1::25', rport: 55810, lip: '2001:db8::10', lport: 25 });
    expect(msgEv('postfix/postscreen', 'PASS OLD [192.0.2.7]:53024').attrs).toMatchObject({ pass: 'old' });
    expect(msgEv('postfix/postscreen', 'DNSBL rank 3 for [192.0.2.7]:1038').attrs).toMatchObject({ violation: 'dnsbl', rank: 3 });
    expect(msgEv('postfix/postscreen', 'COMMAND COUNT LIMIT from [192.0.2.7]:15592 after RCPT').attrs).toMatchObject({ violation: 'command-count-limit', stage: 'RCPT' });
    const rej = msgEv('postfix/postscreen', 'NOQUEUE: reject: RCPT from [192.0.2.7]:60591: 550 5.7.1 Service unavailable; client [192.0.2.7] blocked using zen.example.org; from=<a@example.org>, to=<b@example.com>, proto=ESMTP, helo=<x.example.org>');
    expect(rej).toMatchObject({ kind: 'postscreen-reject', rip: '192.0.2.7', rport: 60591, session: null });
    expect(rej.attrs).toMatchObject({ violation: 'reject', code: 550, dsn: '5.7.1', from: 'a@example.org', to: 'b@example.com', helo: 'x.example.org' });
  });
});

describe('postfix: messages', () => {
  it('reads qmgr size and recipient count without claiming bytes', () => {
    const e = msgEv('postfix/qmgr', '0F5383D: from=<>, size=5360, nrcpt=1 (queue active)');
    expect(e).toMatchObject({ kind: 'queued', session: '0F5383D', bytesIn: null, bytesOut: null });
    expect(e.attrs).toMatchObject({ from: '', size: 5360, nrcpt: 1 });
    expect(msgEv('postfix/qmgr', '585BC3F: from=<>, status=expired, returned to sender').kind).toBe('expired');
  });

  it('reads a remote delivery: relay address, port, status and the next hop queue id', () => {
    const e = msgEv('postfix/smtp', '4E74613FE76: to=<x@example.net>, orig_to=<y@example.com>, relay=mx.example.net[2001:db8::1b]:25, delay=1.9, delays=0.05/0/1.1/0.71, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4Xyz9abcDEF12)');
    expect(e).toMatchObject({ kind: 'delivery', rip: '2001:db8::1b', rport: 25, session: '4E74613FE76' });
    expect(e.attrs).toMatchObject({ to: 'x@example.net', origTo: 'y@example.com', relay: 'mx.example.net', delay: 1.9, dsn: '2.0.0', status: 'sent', queuedAs: '4Xyz9abcDEF12', transport: 'smtp' });
    expect(e.attrs?.response).toBeUndefined();
  });

  it('keeps the response of a deferral, and a socket relay as no address', () => {
    const d = msgEv('postfix/smtp', '2DC5552A34: to=<u@example.org>, relay=none, delay=63495, delays=63350/144/0/0, dsn=4.4.2, status=deferred (delivery temporarily suspended: lost connection with mx.example.org[192.0.2.22] while sending RCPT TO)');
    expect(d.rip).toBeNull();
    expect(d.attrs).toMatchObject({ relay: 'none', status: 'deferred', response: 'delivery temporarily suspended: lost connection with mx.example.org[192.0.2.22] while sending RCPT TO' });
    const l = msgEv('postfix/lmtp', 'AD6E41CDC05C: to=<a@example.com>, relay=mail.example.com[private/dovecot-lmtp], delay=0.15, delays=0.04/0/0.02/0.08, dsn=2.0.0, status=sent (250 2.0.0 Saved)');
    expect(l.rip).toBeNull();
    expect(l.attrs).toMatchObject({ relay: 'mail.example.com', relaySocket: 'private/dovecot-lmtp' });
  });

  it('links a bounce to the notification it creates', () => {
    const e = msgEv('postfix/bounce', '17CCA8044: sender non-delivery notification: ADD2F8052');
    expect(e).toMatchObject({ kind: 'bounce', session: '17CCA8044' });
    expect(e.attrs).toMatchObject({ bounceQueueId: 'ADD2F8052', notification: 'non-delivery', recipient: 'sender' });
  });

  it('splits a reject even when the reason holds semicolons', () => {
    const e = msgEv('postfix/smtpd', 'NOQUEUE: reject: RCPT from mx.example.org[192.0.2.34]: 454 4.7.1 Service unavailable; Client host [192.0.2.34] blocked using rbl.example.com; https://www.example.com/q?ip=192.0.2.34; from=<s@example.org> to=<g@example.com> proto=ESMTP helo=<mx.example.org>');
    expect(e.attrs).toMatchObject({
      action: 'reject', stage: 'RCPT', code: 454, dsn: '4.7.1', from: 's@example.org', to: 'g@example.com', helo: 'mx.example.org',
      reason: 'Service unavailable; Client host [192.0.2.34] blocked using rbl.example.com; https://www.example.com/q?ip=192.0.2.34',
    });
    const vrfy = msgEv('postfix/smtpd', 'NOQUEUE: reject: VRFY from unknown[2001:db8::88]: 550 5.1.1 <n@example.com>: Recipient address rejected: User unknown; to=<n@example.com> proto=SMTP helo=<me>');
    expect(vrfy.attrs).toMatchObject({ stage: 'VRFY', to: 'n@example.com', reason: 'Recipient address rejected: User unknown' });
    expect(vrfy.attrs?.from).toBeUndefined();
  });

  it('reads header checks: the client at the end, the action text after helo', () => {
    const e = msgEv('postfix/cleanup', '3A1B2C3D4E: reject: header Subject: win a prize from mail.example.org[192.0.2.3]; from=<a@example.org> to=<b@example.com> proto=ESMTP helo=<mail.example.org>: 5.7.1 No prizes here');
    expect(e).toMatchObject({ kind: 'reject', rip: '192.0.2.3', session: '3A1B2C3D4E' });
    expect(e.attrs).toMatchObject({ stage: 'header', header: 'Subject', dsn: '5.7.1', reason: 'No prizes here', helo: 'mail.example.org' });
    const info = msgEv('postfix/cleanup', '3A1B2C3D4E: info: header Subject: hello from local; from=<a@example.com> to=<b@example.com>');
    expect(info).toMatchObject({ kind: 'check', rip: null });
  });

  it('sorts outbound trouble into relay-error and tls-error with the remote address', () => {
    const said = msgEv('postfix/smtp', 'ED59C3D: host mx.example.com[192.0.2.23] said: 450 4.7.1 <u@example.com>: Recipient address rejected: Greylisted (in reply to RCPT TO command)');
    expect(said).toMatchObject({ kind: 'relay-error', rip: '192.0.2.23' });
    expect(said.attrs).toMatchObject({ error: 'reply', code: 450, stage: 'RCPT TO', relay: 'mx.example.com', reason: 'Recipient address rejected: Greylisted' });
    expect(msgEv('postfix/smtp', 'connect to mx.example.net[2001:db8::1a]:25: Network is unreachable')).toMatchObject({ kind: 'relay-error', rip: '2001:db8::1a', rport: 25 });
    expect(msgEv('postfix/smtp', 'SSL_connect error to mx.example.org[192.0.2.2]:25: -1')).toMatchObject({ kind: 'tls-error', rip: '192.0.2.2' });
  });

  it('skips deliberate non-events with a reason and leaves the unknown unparsed', () => {
    const cases: [string, string, ParseResult['type']][] = [
      ['postfix/anvil', 'statistics: max connection rate 1/60s for (smtpd:192.0.2.1) at Oct 26 18:13:50', 'skip'],
      ['postfix/master', 'daemon started -- version 3.8.6, configuration /etc/postfix', 'skip'],
      ['postfix/smtpd', 'warning: hostname x.example.com does not resolve to address 192.0.2.44', 'skip'],
      ['postfix/smtpd', 'warning: TLS library problem: error', 'skip'],
      ['postfix/postscreen', 'WHITELIST VETO [192.0.2.1]:53024', 'skip'],
      ['postfix/smtpd', 'something postfix never wrote', 'unparsed'],
      ['postfix/qmgr', '3F0A51C2B: something new', 'unparsed'],
      ['postfix/smtpd', '', 'unparsed'],
    ];
    for (const [program, text, type] of cases) {
      const r = msg(program, text);
      expect(r.type, text).toBe(type);
      if (r.type !== 'event') expect(r.reason.length, text).toBeGreaterThan(0);
    }
  });

  it('never throws on truncated or mangled lines', () => {
    const lines = [
      '4F7A21C0B3: client=laptop.example.org[2001:db8:4a::17]:50122, sasl_method=PLAIN, sasl_username=jan@example.com',
      '4E74613FE76: to=<x@example.net>, relay=mx.example.net[2001:db8::1b]:25, delay=1.9, delays=0.05/0/1.1/0.71, dsn=2.0.0, status=sent (250 ok)',
      'NOQUEUE: reject: RCPT from [192.0.2.7]:60591: 550 5.7.1 x; from=<a@example.org>, to=<b@example.com>, proto=ESMTP, helo=<x>',
      '3A1B2C3D4E: reject: header Subject: x from mail.example.org[192.0.2.3]; from=<a> to=<b> proto=ESMTP helo=<m>: 5.7.1 no',
      'disconnect from unknown[192.0.2.1] ehlo=2 auth=0/1 commands=6/10',
      'warning: unknown[203.0.113.10]:55729: SASL LOGIN authentication failed: x, sasl_username=y',
      'Anonymous TLS connection established from a.example.org[192.0.2.1]: TLSv1.3 with cipher X (256/256 bits)',
    ];
    for (const program of ['postfix/smtpd', 'postfix/postscreen', 'postfix/smtp']) {
      for (const line of lines) {
        for (let i = 0; i <= line.length; i++) {
          for (const text of [line.slice(0, i), line.slice(i), line.slice(0, i) + '[' + line.slice(i)]) {
            const r = msg(program, text);
            expect(['event', 'skip', 'unparsed']).toContain(r.type);
            if (r.type !== 'event') expect(r.reason).toBeTruthy();
          }
        }
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Conformance with what other projects expect of real Postfix lines (../shared/corpus/postfix).

interface Tally { file: string; events: number; skipped: number; unparsed: number; reasons: Map<string, number> }

function tally(file: string): Tally {
  return { file, events: 0, skipped: 0, unparsed: 0, reasons: new Map() };
}

function count(t: Tally, r: ParseResult): void {
  if (r.type === 'event') t.events++;
  else {
    if (r.type === 'skip') t.skipped++;
    else t.unparsed++;
    const key = `${r.type}: ${r.reason}`;
    t.reasons.set(key, (t.reasons.get(key) ?? 0) + 1);
  }
}

function report(t: Tally): void {
  const reasons = [...t.reasons].map(([k, v]) => `    ${v} × ${k}`).join('\n');
  console.log(`${t.file}: ${t.events} events, ${t.skipped} skipped, ${t.unparsed} unparsed\n${reasons}`);
}

const lines = (text: string) => text.split('\n').map((l) => l.replace(/\r$/, ''));
const haveCorpus = existsSync(CORPUS);

describe('postfix: corpus conformance', () => {
  if (!haveCorpus) {
    it.skip(`corpus not found at ${CORPUS}: conformance not checked`, () => {});
    return;
  }

  it('fail2ban: every line is read; times and client addresses agree with failJSON', () => {
    // fail2ban's samples are year-less; its expected years put "now" in mid-August 2005.
    const ctx: ParseContext = { tz: 'UTC', refTime: Date.UTC(2005, 7, 15) };
    const t = tally('fail2ban-tests-postfix.log');
    let expect_: { time?: string; match?: boolean; host?: string } | null = null;
    let wantHost = 0, checkedHost = 0, checkedTime = 0;
    const skippedHost: string[] = [];
    for (const line of lines(readFileSync(join(CORPUS, 'fail2ban-tests-postfix.log'), 'utf8'))) {
      if (line.startsWith('# failJSON:')) { expect_ = JSON.parse(line.slice(11)); continue; }
      if (line.trim() === '' || line.startsWith('#')) continue;
      const r = parseLine(line, ctx);
      count(t, r);
      expect(r.type, line).not.toBe('unparsed');
      if (expect_?.time) {
        const [d, tm] = expect_.time.split('T');
        const [y, mo, day] = d.split('-');
        const want = `${y}-${mo.padStart(2, '0')}-${day.padStart(2, '0')}T${tm}`;
        if (r.type === 'event') {
          expect(new Date(r.event.ts).toISOString().slice(0, 19), line).toBe(want);
          checkedTime++;
        }
      }
      if (expect_?.match && expect_.host) {
        wantHost++;
        if (r.type === 'event') {
          expect(r.event.rip, line).toBe(normalizeIp(expect_.host));
          checkedHost++;
        } else skippedHost.push(`${r.reason}: ${line}`);
      }
      expect_ = null;
    }
    report(t);
    console.log(`  client address checked on ${checkedHost} of ${wantHost} lines; skipped on purpose:\n    ${skippedHost.join('\n    ')}`);
    // Deliberate skips (e.g. `hostname ... does not resolve`) are the only way to miss a client.
    expect(checkedHost + skippedHost.length).toBe(wantHost);
    expect(skippedHost.length).toBeLessThan(wantHost / 20);
    expect(checkedTime).toBeGreaterThan(50);
  });

  it('CrowdSec: every line is read; client addresses agree with the parser assertions', () => {
    const files = readdirSync(CORPUS).filter((f) => f.startsWith('crowdsec-') && f.endsWith('.log')).sort();
    const byMessage = new Map<string, LogEvent>();
    for (const f of files) {
      const t = tally(f);
      for (const line of lines(readFileSync(join(CORPUS, f), 'utf8'))) {
        if (line.trim() === '') continue;
        const r = parseLine(line, CTX);
        count(t, r);
        expect(r.type, line).not.toBe('unparsed');
        if (r.type === 'event') byMessage.set(line.slice(line.indexOf(']: ') + 3), r.event);
      }
      report(t);
    }
    // `results["s01-parse"]["crowdsecurity/postfix-logs"][N].Evt.Parsed["message"] == "..."`
    const asserts = readFileSync(join(CORPUS, 'crowdsec-hub-postfix-logs.parser.assert'), 'utf8');
    const fields = new Map<number, Record<string, string>>();
    const re = /^results\["s01-parse"\]\["crowdsecurity\/postfix-logs"\]\[(\d+)\]\.Evt\.(?:Parsed|Meta)\["([^"]+)"\] == "(.*)"$/;
    for (const line of lines(asserts)) {
      const m = re.exec(line);
      if (!m) continue;
      const rec = fields.get(+m[1]) ?? {};
      rec[m[2]] = JSON.parse(`"${m[3]}"`) as string;
      fields.set(+m[1], rec);
    }
    expect(fields.size).toBeGreaterThan(0);
    for (const rec of fields.values()) {
      const e = byMessage.get(rec.message);
      expect(e, rec.message).toBeDefined();
      if (rec.remote_addr) expect(e!.rip, rec.message).toBe(normalizeIp(rec.remote_addr));
      if (rec.remote_host && rec.remote_host !== 'unknown') expect(e!.attrs?.clientName, rec.message).toBe(rec.remote_host);
      if (rec.smtp_basic_status_code) expect(e!.attrs?.code, rec.message).toBe(+rec.smtp_basic_status_code);
      if (rec.smtp_enhanced_status_code) expect(e!.attrs?.dsn, rec.message).toBe(rec.smtp_enhanced_status_code);
    }
  });

  it('postfix-grok-patterns: queue id, client, relay, port and status agree', () => {
    interface Case { program: string; pattern: string; data: string; results: Record<string, string | number> }
    const cases = JSON.parse(readFileSync(join(CORPUS, 'postfix-grok-patterns-tests.expected.json'), 'utf8')) as Case[];
    const t = tally('postfix-grok-patterns-tests');
    const fragments = new Set<string>();
    let compared = 0;
    for (const c of cases) {
      const r = msg(`postfix/${c.program.replace(/_/g, '-')}`, c.data);
      count(t, r);
      if (r.type === 'unparsed') { fragments.add(c.program); continue; }
      if (r.type !== 'event') continue;
      const e = r.event;
      const x = c.results;
      const q = x.postfix_queueid;
      if (q !== undefined) { expect(e.session, c.data).toBe(q === 'NOQUEUE' ? null : q); compared++; }
      const ip = x.postfix_client_ip ?? x.postfix_relay_ip;
      if (ip !== undefined) { expect(e.rip, c.data).toBe(normalizeIp(String(ip))); compared++; }
      const port = x.postfix_client_port ?? x.postfix_relay_port;
      if (port !== undefined) { expect(e.rport, c.data).toBe(Number(port)); compared++; }
      if (x.postfix_status !== undefined) { expect(e.attrs?.status, c.data).toBe(x.postfix_status); compared++; }
      if (x.postfix_relay_hostname !== undefined && e.kind === 'delivery') { expect(e.attrs?.relay, c.data).toBe(x.postfix_relay_hostname); compared++; }
      if (x.postfix_client_hostname !== undefined && x.postfix_client_hostname !== 'unknown' && e.attrs?.clientName !== undefined) {
        expect(e.attrs?.clientName, c.data).toBe(x.postfix_client_hostname);
        compared++;
      }
      if (x.postfix_bounce_queueid !== undefined) { expect(e.attrs?.bounceQueueId, c.data).toBe(x.postfix_bounce_queueid); compared++; }
    }
    report(t);
    // What stays unparsed are the pattern suite's sub-pattern fragments, not log lines.
    expect([...fragments].sort()).toEqual(['command_counter_data', 'delays', 'relay', 'tls_features']);
    expect(compared).toBeGreaterThan(150);
  });
});
