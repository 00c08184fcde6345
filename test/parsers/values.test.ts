/**
 * Values no log can mean (issue 15 §3-§4): a damaged date, a counter past 2^53, a port past
 * 65535 or a year far from the file's time is the line's failure, with a reason, never an event.
 * The same rule for the counter snapshots and captures (conntrack, OpenVPN status, vnstat, pcap).
 */
import { describe, expect, it } from 'vitest';
import type { ParseContext, ParseResult } from '../../src/events.js';
import { MAX_AGE_MS, MAX_AHEAD_MS, trimLineEnd, tsWindow } from '../../src/parsers/check.js';
import { parseAny } from '../../src/parsers/index.js';
import { parseOpenvpnStatus } from '../../src/parsers/openvpn-status.js';
import { conntrackSnapshot, vnstatSnapshot } from '../../src/flows/snapshots.js';
import { readCapture, type CaptureSink } from '../../src/flows/pcap.js';
import { ipv4, udp } from '../../src/flows/pcap-write.js';

const REF = Date.UTC(2026, 10, 21);
const CTX: ParseContext = { tz: 'UTC', refTime: REF };

function parse(line: string): ParseResult {
  return parseAny(line, CTX, null).result;
}

function unparsedReason(line: string): string {
  const r = parse(line);
  if (r.type === 'event') throw new Error(`expected unparsed, got an event at ${r.event.ts} (${JSON.stringify(r.event)})`);
  expect(r.type).toBe('unparsed');
  return r.reason;
}

const BIND_Q = 'queries: info: client @0x7f3a5c0a1b20 192.0.2.30#50000 (www.example.com): query: www.example.com IN A +E(0)K (198.51.100.53)';

describe('timestamps: finite, and within thirty years before to a day after the file\'s time', () => {
  it('the window is documented and symmetric in use', () => {
    expect(tsWindow(REF)).toEqual({ from: REF - MAX_AGE_MS, to: REF + MAX_AHEAD_MS });
    expect(MAX_AHEAD_MS).toBe(86_400_000);
    expect(Math.round(MAX_AGE_MS / 86_400_000 / 365.25)).toBe(30);
  });

  it('a BIND line with a damaged year (a byte that is not UTF-8) is unparsed, not a NaN timestamp', () => {
    const line = Buffer.concat([Buffer.from('20-Nov-'), Buffer.from([0xff]), Buffer.from(`026 09:31:00.001 ${BIND_Q}`)]).toString('utf8');
    expect(unparsedReason(line)).toMatch(/timestamp/);
    expect(unparsedReason(`Nov 20 09:32:00 ns1 named[1234]: 20-Nov-2\ufffd26 09:32:00.123 ${BIND_Q}`)).toMatch(/timestamp/);
  });

  it('literal and damaged years far from the file\'s time are unparsed, with the date in the reason', () => {
    for (const y of ['1969', '1926', '9999', '8426', '2937']) {
      expect(unparsedReason(`20-Nov-${y} 09:31:00.001 ${BIND_Q}`)).toMatch(new RegExp(`timestamp ${y}-11-20T09:31:00.001Z outside`));
    }
    expect(unparsedReason('1969-11-20T10:15:31.118840+01:00 mail dovecot[812]: imap(jan@example.org)<91022><t6Wl0TJq1LggDbgKAAAAAAAAAABR>: Disconnected: Logged out in=988 out=20441')).toMatch(/outside/);
    expect(unparsedReason('[4102444800] unbound[2121:0] info: 192.0.2.10 www.example.com. A IN')).toMatch(/2100-01-01.*outside/);
  });

  it('the edges of the window: thirty years back and a day ahead are read, beyond is not', () => {
    const at = (t: number) => `${new Date(t).toISOString().slice(0, 19)}Z mail dovecot[812]: imap-login: Login: user=<jan>, method=PLAIN, rip=192.0.2.1, lip=192.0.2.10, session=<k2Zb1zFqXsDGM2QX>`;
    const w = tsWindow(REF);
    expect(parse(at(w.from + 1000)).type).toBe('event');
    expect(parse(at(w.to - 1000)).type).toBe('event');
    expect(parse(at(w.from - 1000)).type).toBe('unparsed');
    expect(parse(at(w.to + 1000)).type).toBe('unparsed');
  });
});

describe('counters are integers within 0..2^53-1, ports within 0..65535', () => {
  it('Dovecot out=99999999999999999999999 is the line\'s failure, not 1e23 (nor a silent null)', () => {
    expect(unparsedReason('Nov 20 08:09:47 mx1 dovecot: imap(petra@example.com): Logged out in=2201 out=99999999999999999999999')).toMatch(/bytes out.*not a counter/);
    expect(unparsedReason('Nov 20 08:09:47 mx1 dovecot: imap-login: proxy(jan): disconnecting 198.51.100.23 (Disconnected by client: EOF(0s idle, in=99999999999999999999, out=61440)): user=<jan>, rip=198.51.100.23, lip=192.0.2.10')).toMatch(/bytes in.*not a counter/);
  });

  it('an unbound reply size past 2^53 (or Infinity) is unparsed, not stored as 1e22 or skipped', () => {
    expect(unparsedReason('Nov 20 09:50:00 ns2 unbound: [2121:0] info: 192.0.2.20 www.example.com. A IN NOERROR 0.020000 0 9999999999999999999999')).toMatch(/size/);
    expect(unparsedReason('Nov 20 09:50:00 ns2 unbound: [2121:0] info: 192.0.2.20 www.example.com. A IN NOERROR 0.020000 0 Infinity')).toMatch(/size/);
    expect(unparsedReason('Nov 20 09:50:00 ns2 unbound: [2121:0] reply: 192.0.2.20 www.example.com. A IN NOERROR Infinity 0 59')).toMatch(/time/);
  });

  it('netfilter DPT=4294967296 and LEN past 2^53 are unparsed, not a port or a counter', () => {
    const nf = (tail: string) => `Nov 20 09:20:03 mx1 kernel: DROP-IN: IN=eth0 OUT= SRC=203.0.113.9 DST=192.0.2.10 ${tail}`;
    expect(unparsedReason(nf('LEN=60 TTL=52 PROTO=TCP SPT=51234 DPT=4294967296 WINDOW=64240 SYN URGP=0'))).toMatch(/local port.*not a port/);
    expect(unparsedReason(nf('LEN=60 TTL=52 PROTO=UDP SPT=65536 DPT=53 LEN=40'))).toMatch(/remote port.*not a port/);
    expect(unparsedReason(nf('LEN=99999999999999999 TTL=52 PROTO=UDP SPT=5353 DPT=53 LEN=40'))).toMatch(/bytes in.*not a counter/);
  });

  it('ports past 65535 in BIND, Postfix, OpenVPN and unbound addresses are unparsed', () => {
    expect(unparsedReason('Nov 20 09:41:05 ns1 named[1234]: client @0x7f3a5c0a1b20 192.0.2.76#99999 (example.com): query: example.com IN A +E(0)K (198.51.100.53)')).toMatch(/remote port/);
    expect(unparsedReason('Nov 20 09:41:05 mail postfix/postscreen[3001]: CONNECT from [198.51.100.77]:4012200 to [192.0.2.10]:25')).toMatch(/remote port/);
    expect(unparsedReason('2026-11-20 09:20:02 203.0.113.40:70000 TLS: Initial packet from [AF_INET]203.0.113.40:70000, sid=01020304 05060708')).toMatch(/port/);
    expect(unparsedReason('Nov 20 09:50:00 ns2 unbound: [2121:0] info: example.com. refuse 192.0.2.1@99999 www.example.com. A IN')).toMatch(/remote port/);
  });

  it('rspamd len: past 2^53 is unparsed', () => {
    expect(unparsedReason('2026-11-20 09:15:02 #1234(normal) <a1b2c3>; task; rspamd_task_write_log: id: <m@example.com>, qid: <3F0A51C2B>, ip: 192.0.2.7, user: jan@example.com, from: <jan@example.com>, (default: F (no action): [1.20/15.00] [SYM(0.50){opt;}]), len: 99999999999999999999, time: 87.10ms, dns req: 12')).toMatch(/len/);
  });
});

describe('trailing whitespace never changes what a line means', () => {
  it('trimLineEnd takes spaces, tabs and CRs off the end only', () => {
    expect(trimLineEnd('a b \t\r')).toBe('a b');
    expect(trimLineEnd('  a')).toBe('  a');
    expect(trimLineEnd(' \t ')).toBe('');
  });
});

describe('counter snapshots and captures reject the same values', () => {
  it('OpenVPN status: a counter past 2^53-1 rejects that client row (counted); impossible times are not used', () => {
    const s = parseOpenvpnStatus([
      'OpenVPN CLIENT LIST',
      'Updated,Fri Nov 20 1926 09:20:02',
      'Common Name,Real Address,Bytes Received,Bytes Sent,Connected Since',
      'good,203.0.113.5:1,10,20,Fri Nov 20 08:00:00 2026',
      'huge,203.0.113.6:1,99999999999999999999,20,Fri Nov 20 08:00:00 2026',
      'old,203.0.113.7:1,10,20,Fri Nov 20 08:00:00 1926',
      'ROUTING TABLE', 'Virtual Address,Common Name,Real Address,Last Ref', 'GLOBAL STATS', 'END',
    ].join('\n'), CTX);
    if ('error' in s) throw new Error(s.error);
    expect(s.clients.map((c) => [c.cn, c.connectedSince])).toEqual([['good', Date.UTC(2026, 10, 20, 8)], ['old', null]]);
    expect(s.rejected).toEqual([{ line: 5, reason: 'client huge has byte counters unreadable or above 2^53-1', text: 'huge,203.0.113.6:1,99999999999999999999,20,Fri Nov 20 08:00:00 2026' }]);
    expect(s.warnings.some((w) => /line 6: Connected Since timestamp 1926/.test(w))).toBe(true);
  });

  it('OpenVPN status: a TIME of 9999 is not the snapshot\'s time', () => {
    const s = parseOpenvpnStatus('TITLE,OpenVPN 2.6.8\nTIME,9999-11-20 09:20:02,253376446802\nEND\n', CTX);
    if ('error' in s) throw new Error(s.error);
    expect(s.updated).toBeNull();
  });

  it('conntrack: an entry whose start lies in 1926 is an error line, counted', () => {
    const line = 'ipv4     2 tcp      6 431999 ESTABLISHED src=192.0.2.10 dst=203.0.113.5 sport=993 dport=51234 packets=1 bytes=100 src=203.0.113.5 dst=192.0.2.10 sport=51234 dport=993 packets=2 bytes=200 [ASSURED] [start=Fri Nov 20 09:20:02 1926] mark=0 use=1';
    const r = conntrackSnapshot(`${line}\n`, null, { tz: 'UTC', ts: REF, localIps: ['192.0.2.10'] });
    expect(r.unparsedCount).toBe(1);
    expect(r.unparsed[0].reason).toMatch(/connection start: timestamp 1926-11-20T09:20:02.000Z outside/);
  });

  it('vnstat: a period dated 9999 or a fractional counter is left out and counted', () => {
    const doc = {
      vnstatversion: '2.10', jsonversion: '2',
      interfaces: [{ name: 'eth0', alias: '', traffic: {
        total: { rx: 300, tx: 600 },
        day: [
          { id: 1, date: { year: 2026, month: 11, day: 20 }, timestamp: Date.UTC(2026, 10, 20) / 1000, rx: 100, tx: 200 },
          { id: 2, date: { year: 9999, month: 11, day: 20 }, rx: 100, tx: 200 },
          { id: 3, date: { year: 2026, month: 11, day: 19 }, timestamp: Date.UTC(2026, 10, 19) / 1000, rx: 1.5, tx: 1e30 },
        ],
      } }],
    };
    const r = vnstatSnapshot(JSON.stringify(doc), { tz: 'UTC', fileTime: REF });
    expect(r.ifaceTotals.map((t) => t.start)).toEqual([Date.UTC(2026, 10, 20)]);
    expect(r.unparsedCount).toBe(2);
    expect(r.warnings).toContain('2 vnstat period(s) with an impossible date or counter left out');
  });

  it('pcap: packets stamped far from the file\'s time are skipped and counted', async () => {
    const pkt = ipv4({ src: '192.0.2.10', dst: '203.0.113.5', proto: 17, payload: udp({ sport: 53, dport: 40000, payload: 20 }) });
    const rec = (sec: number) => {
      const h = Buffer.alloc(16);
      h.writeUInt32LE(sec, 0); h.writeUInt32LE(0, 4); h.writeUInt32LE(pkt.length, 8); h.writeUInt32LE(pkt.length, 12);
      return Buffer.concat([h, Buffer.from(pkt)]);
    };
    const head = Buffer.alloc(24);
    head.writeUInt32LE(0xa1b2c3d4, 0); head.writeUInt16LE(2, 4); head.writeUInt16LE(4, 6); head.writeUInt32LE(65535, 16); head.writeUInt32LE(101, 20);
    const good = Math.floor(Date.UTC(2026, 10, 20, 9) / 1000);
    const bytes = Buffer.concat([head, rec(good), rec(Math.floor(Date.UTC(1926, 0, 1) / 1000) >>> 0), rec(4102444800), rec(good + 1)]);
    const seen: number[] = [];
    const sink: CaptureSink = { iface: () => 0, packet: (_h, _l, sec) => { seen.push(sec); } };
    async function* once() { yield new Uint8Array(bytes); }
    const r = await readCapture(once(), sink, { refTime: REF });
    expect(seen).toEqual([good, good + 1]);
    expect(r.badTimePackets).toBe(2);
    expect(r.warnings.some((w) => /^2 packet\(s\) skipped for a timestamp outside/.test(w))).toBe(true);
    // Without a reference time (live captures, aggregateFile), every packet passes.
    const all: number[] = [];
    await readCapture(once(), { iface: () => 0, packet: (_h, _l, sec) => { all.push(sec); } });
    expect(all).toHaveLength(4);
  });
});
