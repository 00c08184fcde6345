import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LogEvent, ParseContext, ParseResult } from '../../src/events.js';
import { parseAny } from '../../src/parsers/index.js';
import type { Envelope } from '../../src/parsers/syslog.js';
import { parseLine, unbound } from '../../src/parsers/unbound.js';
import { mangledVariants } from '../helpers/golden.js';

const CTX: ParseContext = { tz: 'UTC', refTime: Date.UTC(2026, 10, 21) };
const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'logs', 'unbound');

function ev(r: ParseResult): LogEvent {
  if (r.type !== 'event') throw new Error(`expected an event, got ${r.type}: ${r.reason}`);
  return r.event;
}

/** The envelope unbound's own logfile should produce: `[1795167901] unbound[2121:0] info: ...`. */
function logfile(msg: string): Envelope {
  return { ts: 1795167901000, host: null, program: 'unbound', pid: 2121, msg, form: 'native' };
}

const SYS = 'Nov 20 09:50:00 ns2 unbound: [2121:0] ';

describe('unbound: log-queries and log-replies', () => {
  it('reads a query line', () => {
    const e = ev(parseLine(`${SYS}info: 192.0.2.20 www.example.com. A IN`, CTX));
    expect(e).toEqual({
      ts: Date.UTC(2026, 10, 20, 9, 50, 0), source: 'unbound', host: 'ns2', program: 'unbound', kind: 'query',
      account: null, rip: '192.0.2.20', rport: null, lip: null, lport: null,
      session: null, bytesIn: null, bytesOut: null,
      attrs: { qname: 'www.example.com', qtype: 'A', qclass: 'IN' },
    });
  });

  it('reads a reply line: rcode, seconds, cache flag, and the response size as bytesOut', () => {
    const e = ev(parseLine(`${SYS}info: 198.51.100.200 example.com. ANY IN NOERROR 0.000000 1 3187`, CTX));
    expect([e.kind, e.rip, e.bytesOut, e.bytesIn]).toEqual(['reply', '198.51.100.200', 3187, null]);
    expect(e.attrs).toEqual({ qname: 'example.com', qtype: 'ANY', qclass: 'IN', rcode: 'NOERROR', time: 0, cached: 1 });
    const slow = ev(parseLine(`${SYS}info: 2001:DB8:2:0::21 example.org. TXT IN SERVFAIL 3.000000 0 40`, CTX));
    expect([slow.rip, slow.attrs!.time, slow.attrs!.cached, slow.attrs!.rcode]).toEqual(['2001:db8:2::21', 3, 0, 'SERVFAIL']);
  });

  it('reads log-tag-queryreply tags and keeps the root name', () => {
    expect(ev(parseLine(`${SYS}query: 192.0.2.21 example.net. MX IN`, CTX)).kind).toBe('query');
    const r = ev(parseLine(`${SYS}reply: 192.0.2.12 . NS IN NOERROR 0.044000 0 239`, CTX));
    expect([r.kind, r.attrs!.qname, r.attrs!.time, r.bytesOut]).toEqual(['reply', '.', 0.044, 239]);
  });

  it('reads a FORMERR reply whose question could not be read', () => {
    const e = ev(parseLine(`${SYS}info: 192.0.2.13 - - - FORMERR - - - `, CTX));
    expect([e.kind, e.rip, e.bytesOut]).toEqual(['reply', '192.0.2.13', null]);
    expect(e.attrs).toEqual({ qname: null, qtype: null, qclass: null, rcode: 'FORMERR', time: null, cached: null });
  });

  it('reads the own-logfile message once the envelope has taken the tag', () => {
    const e = ev(unbound.parseMessage(logfile('info: 192.0.2.10 www.example.com. A IN NOERROR 0.012345 0 59'), CTX));
    expect([e.ts, e.host, e.program, e.kind, e.rip, e.bytesOut, e.attrs!.time]).toEqual([1795167901000, null, 'unbound', 'reply', '192.0.2.10', 59, 0.012345]);
  });

  it('counts rsyslog repeats', () => {
    const e = ev(parseLine('Nov 20 09:50:04 ns2 unbound: message repeated 40 times: [ [2121:0] info: 198.51.100.200 example.com. ANY IN NOERROR 0.000000 1 3187]', CTX));
    expect([e.kind, e.bytesOut, e.attrs!.repeated]).toEqual(['reply', 3187, 40]);
  });
});

describe('unbound: local actions and access control', () => {
  it('turns refuse and deny local zones into denied events', () => {
    const e = ev(parseLine(`${SYS}info: example.net. refuse 203.0.113.7@40123 ads.example.net. A IN`, CTX));
    expect([e.kind, e.rip, e.rport]).toEqual(['denied', '203.0.113.7', 40123]);
    expect(e.attrs).toEqual({ qname: 'ads.example.net', qtype: 'A', qclass: 'IN', action: 'refuse', zone: 'example.net' });
    for (const t of ['deny', 'always_refuse', 'always_deny', 'inform_deny']) {
      expect(ev(parseLine(`${SYS}info: example.com. ${t} 2001:db8::7@5353 x.example.com. TXT IN`, CTX)).attrs!.action).toBe(t);
    }
  });

  it('reads the short form without a zone', () => {
    const e = ev(parseLine(`${SYS}info: refused 203.0.113.9@1234 example.com. A IN`, CTX));
    expect([e.kind, e.rip, e.rport, e.attrs!.zone, e.attrs!.action, e.attrs!.qname]).toEqual(['denied', '203.0.113.9', 1234, null, 'refused', 'example.com']);
  });

  it('skips local answers that are not refusals (the query and reply lines carry them)', () => {
    expect(parseLine(`${SYS}info: example.net. always_nxdomain 192.0.2.14@40124 tracker.example.net. A IN`, CTX))
      .toEqual({ type: 'skip', reason: 'local-zone always_nxdomain answer' });
  });

  it('reads access-control refusals logged at verbosity 4', () => {
    const e = ev(parseLine(`${SYS}debug: refused query from 203.0.113.10 port 41000 because of 203.0.113.0/24 refuse`, CTX));
    expect([e.kind, e.rip, e.rport]).toEqual(['denied', '203.0.113.10', 41000]);
    expect(e.attrs).toEqual({ qname: null, qtype: null, qclass: null, action: 'refused', acl: '203.0.113.0/24', rule: 'refuse' });
    const d = ev(parseLine(`${SYS}debug: dropped query from 2001:db8:bad::1 port 41001 because of 2001:db8:bad::/48 deny`, CTX));
    expect([d.rip, d.attrs!.action, d.attrs!.rule]).toEqual(['2001:db8:bad::1', 'dropped', 'deny']);
  });
});

describe('unbound: everything else', () => {
  it('skips other messages by type', () => {
    const cases: Array<[string, string]> = [
      ['notice: init module 0: validator', 'unbound notice message'],
      ['info: start of service (unbound 1.19.2).', 'unbound info message'],
      ['error: SERVFAIL <broken.example.org. A IN>: all the configured stub or forward servers failed, at zone example.org.', 'unbound error message'],
      ['warning: unbound is already running as pid 2121.', 'unbound warning message'],
      ['debug: module config: "validator iterator"', 'unbound debug message'],
      ['fatal error: could not open ports', 'unbound fatal error message'],
    ];
    for (const [msg, reason] of cases) expect(parseLine(SYS + msg, CTX), msg).toEqual({ type: 'skip', reason });
  });

  it('leaves broken query and reply lines unparsed, with a reason', () => {
    const cases: Array<[string, string]> = [
      ['reply: 192.0.2.23 example.com. A IN NOERROR', 'unbound reply line ends after the rcode'],
      ['reply: 192.0.2.24 example.com. A IN NOERROR zero 0 59', 'unbound reply line with a bad time, cache flag or size'],
      ['query: not-an-ip example.com. A IN', 'unbound query line without a client address'],
      ['no type here at all', 'unbound message without a type'],
    ];
    for (const [msg, reason] of cases) expect(parseLine(SYS + msg, CTX), msg).toEqual({ type: 'unparsed', reason });
  });

  it('accepts the program tags unbound and local-unbound', () => {
    expect(unbound.matchesProgram('unbound')).toBe(true);
    expect(unbound.matchesProgram('local-unbound')).toBe(true);
    expect(unbound.matchesProgram('named')).toBe(false);
    expect(parseAny(`${SYS}info: 192.0.2.20 www.example.com. A IN`, CTX).source).toBe('unbound');
  });

  it('dispatches unbound\'s own logfile (`[epoch] unbound[pid:tid] info: ...`) to unbound', () => {
    const d = parseAny('[1795167901] unbound[2121:0] info: 192.0.2.10 www.example.com. A IN', CTX);
    expect(d.source).toBe('unbound');
    expect(ev(d.result).kind).toBe('query');
  });

  // Envelope gaps (src/parsers/syslog.ts, not this parser). Flip each to `it` once the envelope
  // reads it: unbound prints the thread id in hex (`%x`), and `log-time-ascii: yes` puts a
  // BSD date before the same colon-less `unbound[pid:tid]` tag.
  it('a hex thread id (`unbound[2121:a]`)', () => {
    expect(parseAny('[1795167901] unbound[2121:a] info: 192.0.2.10 www.example.com. A IN', CTX).source).toBe('unbound');
  });
  it('log-time-ascii (`Nov 20 09:50:09 unbound[2121:0] info: ...`)', () => {
    expect(parseAny('Nov 20 09:50:09 unbound[2121:0] info: 192.0.2.25 example.com. A IN', CTX).source).toBe('unbound');
  });

  it('never throws on truncated or mangled fixture lines', () => {
    for (const f of readdirSync(FIXTURES).filter((x) => x.endsWith('.log'))) {
      for (const line of readFileSync(join(FIXTURES, f), 'utf8').split('\n')) {
        for (const l of mangledVariants(line)) {
          const r = parseLine(l, CTX);
          expect(['event', 'skip', 'unparsed']).toContain(r.type);
          if (r.type !== 'event') expect(r.reason).not.toBe('');
        }
        // The message alone, as the fixed envelope would hand it over.
        const m = line.indexOf('] ', 1);
        if (m > 0) expect(() => unbound.parseMessage(logfile(line.slice(line.indexOf(' ', m + 2) + 1)), CTX)).not.toThrow();
      }
    }
  });
});
