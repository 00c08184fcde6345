import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LogEvent, ParseContext, ParseResult } from '../../src/events.js';
import { parseAny } from '../../src/parsers/index.js';
import { parseLine, rspamd } from '../../src/parsers/rspamd.js';

const CTX: ParseContext = { tz: 'UTC', refTime: Date.UTC(2026, 10, 21) };
const SPEC = join(import.meta.dirname, '..', '..', '..', 'shared', 'corpus', 'rspamd', 'spec', 'rspamd-conf-logging.inc');

function ev(line: string, ctx = CTX): LogEvent {
  const r = parseLine(line, ctx);
  if (r.type !== 'event') throw new Error(`expected an event, got ${r.type}: ${r.reason}`);
  return r.event;
}

const SCAN = 'id: <20261120091459.GA1234@laptop.example.org>, qid: <4F7A21C0B3>, ip: 2001:db8:4a::17, user: jan@example.com, from: <jan@example.com>, ' +
  '(default: F (no action): [-0.10/15.00] [MIME_GOOD(-0.10){multipart/mixed;},RCPT_COUNT_TWO(0.00){2;}]), len: 2381042, time: 412.37ms, dns req: 3, ' +
  'digest: <9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d>, rcpts: <anna@example.net,piet@example.net>, mime_rcpts: <anna@example.net,piet@example.net>';

describe('rspamd: recognising its own log file', () => {
  it('sniffs `#pid(type)` with and without a severity, and nothing else', () => {
    expect(rspamd.sniffNative!('#2203(normal) <b6f2e1>; task; rspamd_task_write_log: id: <x>')).toBe(true);
    expect(rspamd.sniffNative!('[notice] #2203(normal) <b6f2e1>; task; x: y')).toBe(true);
    expect(rspamd.sniffNative!('#1(main) rspamd_log_reset_repeated: Last message repeated 3 times')).toBe(true);
    for (const m of ['', '#', '#x(normal)', '#12345678901234(normal)', 'MULTI: Learn: 10.8.0.6 -> client/192.0.2.1:1194', '[info] nothing', 'client/192.0.2.1:1194 #1 x']) {
      expect(rspamd.sniffNative!(m), m).toBe(false);
    }
  });

  it('is picked by the dispatcher for an untagged line of its own file', () => {
    const d = parseAny(`2026-11-20 09:15:00 #2203(normal) <b6f2e1>; task; rspamd_task_write_log: ${SCAN}`, CTX);
    expect(d.source).toBe('rspamd');
    expect(d.result.type).toBe('event');
  });
});

describe('rspamd: the scan result line', () => {
  it('reads the default log_format from rspamd\'s own file', () => {
    const e = ev(`2026-11-20 09:15:00 #2203(normal) <b6f2e1>; task; rspamd_task_write_log: ${SCAN}`);
    expect(e).toMatchObject({
      source: 'rspamd', kind: 'scan', ts: Date.UTC(2026, 10, 20, 9, 15, 0), host: null, program: null,
      session: '4F7A21C0B3', account: 'jan@example.com', rip: '2001:db8:4a::17', bytesIn: null,
    });
    expect(e.attrs).toEqual({
      msgid: '20261120091459.GA1234@laptop.example.org', from: 'jan@example.com', action: 'no action', isSpam: false,
      score: -0.1, required: 15, len: 2381042, timeMs: 412.37, dnsReq: 3, rcpts: 2, module: 'task', worker: 'normal',
    });
  });

  it('reads syslog forms: bare tag, with the process type, and journal short-iso', () => {
    expect(ev(`Nov 20 09:15:00 mail rspamd[2203]: <b6f2e1>; task; rspamd_task_write_log: ${SCAN}`)).toMatchObject({ host: 'mail', program: 'rspamd', session: '4F7A21C0B3' });
    expect(ev(`Nov 20 09:15:00 mail rspamd[2203]: (normal) <b6f2e1>; task; rspamd_task_write_log: ${SCAN}`).attrs).toMatchObject({ worker: 'normal' });
    expect(ev(`2026-11-20T10:15:00+01:00 mail rspamd[2203]: <b6f2e1>; proxy; rspamd_task_write_log: ${SCAN}`)).toMatchObject({ ts: Date.UTC(2026, 10, 20, 9, 15, 0) });
  });

  it('reads the older format: symbols without scores, real and virtual time, no digest', () => {
    const e = ev('2016-05-10 11:51:17 #47219(normal) <162cd1>; task; rspamd_task_write_log: id: <a77@example.net>, qid: <C7196624E3>, ip: 192.0.2.7, from: <k@example.net>, (default: F (no action): [0.56/15.00] [IP_SCORE,R_SPF_ALLOW,MIME_GOOD]), len: 916446, time: 5002.992ms real, 434.269ms virtual, dns req: 38', { tz: 'UTC', refTime: Date.UTC(2016, 4, 11) });
    expect(e).toMatchObject({ session: 'C7196624E3', rip: '192.0.2.7', account: null });
    expect(e.attrs).toMatchObject({ score: 0.56, required: 15, len: 916446, timeMs: 5002.992, dnsReq: 38, rcpts: null });
  });

  it('turns undef and unknown values into nulls, and a mapped address into IPv4', () => {
    const e = ev('Nov 20 09:16:00 mail rspamd[2201]: <c1d2e3>; task; rspamd_task_write_log: id: <undef>, qid: <undef>, ip: ::ffff:192.0.2.70, user: undef, from: <>, (default: S (no action): [0.00/nan] []), len: 120, time: 5.00ms, dns req: 0, digest: <ff>');
    expect(e).toMatchObject({ session: null, account: null, rip: '192.0.2.70' });
    expect(e.attrs).toMatchObject({ msgid: null, from: '', isSpam: null, skipped: true, required: null });
  });

  it('reads every default action', () => {
    for (const [verdict, action] of [['F', 'no action'], ['T', 'reject'], ['T', 'add header'], ['T', 'greylist'], ['T', 'soft reject'], ['T', 'rewrite subject']]) {
      const e = ev(`2026-11-20 09:15:00 #1(normal) <a>; task; rspamd_task_write_log: id: <m@example.com>, qid: <ABCDEF1234>, ip: 192.0.2.1, from: <f@example.com>, (default: ${verdict} (${action}): [7.00/15.00] [X(7.00){}]), len: 1, time: 1.00ms, dns req: 0, digest: <d>`);
      expect(e.attrs).toMatchObject({ action, isSpam: verdict === 'T' });
    }
  });

  it('is not misled by brackets and braces in symbol options, and counts truncated recipient lists', () => {
    const e = ev('2026-11-20 09:15:00 #1(normal) <a>; task; rspamd_task_write_log: id: <m@example.com>, qid: <ABCDEF1234>, ip: 192.0.2.1, from: <f@example.com>, (default: T (add header): [8.31/15.00] [PHISHING(3.61){https://example.org/a[1]?x=(2);{y};},Z(0.00){]}]), len: 40211, time: 230.11ms, dns req: 18, digest: <d>, rcpts: <a@example.net,b@example.net,c@example.net,...>');
    expect(e.attrs).toMatchObject({ score: 8.31, len: 40211, timeMs: 230.11, dnsReq: 18, rcpts: 3, rcptsTruncated: true });
  });
});

describe('rspamd: everything else', () => {
  it('skips other rspamd lines with a reason, and leaves the unknown unparsed', () => {
    const cases: [string, ParseResult['type']][] = [
      ['2026-11-20 09:15:00 #2203(normal) <b6f2e1>; task; rspamd_message_parse: loaded message; id: <x@example.com>; queue-id: <4F7A21C0B3>', 'skip'],
      ['2026-11-20 09:15:00 #2203(normal) <b6f2e1>; lua; spf.lua:186: skip SPF checks for local networks and authorized users', 'skip'],
      ['Nov 20 09:16:30 mail rspamd[2201]: <5adc66>; proxy; [string "proxy parser"]:28: final result for instance=\'master\'', 'skip'],
      ['2026-11-20 09:15:00 #2203(normal) rspamd_log_reset_repeated: Last message repeated 5 times', 'skip'],
      ['2026-11-20 09:15:00 #2203(normal) <b6f2e1>; task; rspamd_task_write_log: subject: <x> score 3', 'unparsed'],
      ['Nov 20 09:18:00 mail rspamd[2201]: garbled output without the usual prefix', 'unparsed'],
    ];
    for (const [line, type] of cases) {
      const r = parseLine(line, CTX);
      expect(r.type, line).toBe(type);
      if (r.type !== 'event') expect(r.reason.length).toBeGreaterThan(0);
    }
  });

  it('never throws on truncated or mangled lines', () => {
    const line = `#2203(normal) <b6f2e1>; task; rspamd_task_write_log: ${SCAN}`;
    for (let i = 0; i <= line.length; i++) {
      for (const m of [line.slice(0, i), line.slice(i), line.slice(0, i) + '(' + line.slice(i), line.slice(0, i) + ', ' + line.slice(i)]) {
        const r = rspamd.parseMessage({ ts: 0, host: null, program: null, pid: null, msg: m, form: 'native' }, CTX);
        expect(['event', 'skip', 'unparsed']).toContain(r.type);
        if (r.type !== 'event') expect(r.reason).toBeTruthy();
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// No real rspamd log was published with the corpus; its conf/logging.inc is. Render the default
// log_format the way rspamd_task_write_log does and read the result back.

/** `$var`, `$if_var{... $ ...}` (the body only when the value is present), newlines to spaces. */
function render(format: string, vars: Record<string, string | undefined>): string {
  return format.replace(/\n/g, ' ').replace(/\$(if_)?([a-z_]+)(\{[^}]*\})?/g, (_m, cond: string | undefined, name: string, body: string | undefined) => {
    const v = vars[name];
    if (cond && v === undefined) return '';
    const value = v ?? 'undef';
    return body ? body.slice(1, -1).replace(/\$/g, value) : value;
  }).trim();
}

describe('rspamd: conformance with the default log_format', () => {
  if (!existsSync(SPEC)) {
    it.skip(`spec not found at ${SPEC}: conformance not checked`, () => {});
    return;
  }
  const inc = readFileSync(SPEC, 'utf8');
  const m = /log_format\s*=<<EOD\n([\s\S]*?)\nEOD/.exec(inc);

  it('reads every field of a line rendered from conf/logging.inc', () => {
    expect(m, 'log_format heredoc in logging.inc').not.toBeNull();
    const full = {
      mid: 'msg-1@example.com', qid: '3F0A51C2B', ip: '198.51.100.9', user: 'jan@example.com', smtp_from: 'jan@example.com',
      is_spam: 'T', action: 'add header', scores: '6.52/15.00', symbols_scores_params: 'BAYES_SPAM(5.10){99%;},R_SPF_ALLOW(-0.20){+mx;}',
      len: '5120', time_real: '87.10ms', dns_req: '12', digest: '00112233445566778899aabbccddeeff',
      smtp_rcpts: 'anna@example.net,piet@example.net', mime_rcpts: 'anna@example.net',
    };
    const line = render(m![1], full);
    const e = ev(`2026-11-20 09:15:02 #1234(normal) <abcdef>; task; rspamd_task_write_log: ${line}`);
    expect(e).toMatchObject({ kind: 'scan', session: '3F0A51C2B', account: 'jan@example.com', rip: '198.51.100.9' });
    expect(e.attrs).toMatchObject({ msgid: 'msg-1@example.com', from: 'jan@example.com', action: 'add header', isSpam: true, score: 6.52, required: 15, len: 5120, timeMs: 87.1, dnsReq: 12, rcpts: 2 });

    // A scan with none of the optional parts: no queue id, address, user, sender or recipients.
    const bare = render(m![1], { ...full, qid: undefined, ip: undefined, user: undefined, smtp_from: undefined, smtp_rcpts: undefined, mime_rcpts: undefined, is_spam: 'F', action: 'no action', scores: '0.00/15.00', symbols_scores_params: '' });
    const b = ev(`2026-11-20 09:15:02 #1234(normal) <abcdef>; task; rspamd_task_write_log: ${bare}`);
    expect(b).toMatchObject({ session: null, account: null, rip: null });
    expect(b.attrs).toMatchObject({ msgid: 'msg-1@example.com', from: null, action: 'no action', isSpam: false, len: 5120, rcpts: null });
  });
});
