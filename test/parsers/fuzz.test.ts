/**
 * Every parser and the envelope, fed deterministic damage of every golden fixture line: cut,
 * bytes flipped, digit runs lengthened, \xff and NUL bytes, huge numbers, trailing spaces and
 * CRs. Whatever comes in, nothing throws and no event carries a value no log can mean (see
 * src/parsers/check.ts); trailing whitespace never changes a result. And at the ingest level, a
 * file with one damaged line stores every other line.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rng } from '../../src/bench/generate.js';
import type { ParseContext, ParseResult, Source } from '../../src/events.js';
import { ingestPaths } from '../../src/ingest/index.js';
import { tsWindow } from '../../src/parsers/check.js';
import { normalizeIp } from '../../src/parsers/common.js';
import { nextHint, parseAny } from '../../src/parsers/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { conntrackSnapshot, vnstatSnapshot } from '../../src/flows/snapshots.js';
import { parseOpenvpnStatus } from '../../src/parsers/openvpn-status.js';
import { tempDir } from '../helpers/cli.js';
import { ctxFor, goldenCases } from '../helpers/golden.js';

const HUGE = ['99999999999999999999999', '4294967296', '18446744073709551616', '9007199254740993', '1e999', '-1'];

/** Deterministic damage of one line: `n` variants drawn from `rand`. */
function mutations(line: string, rand: () => number, n: number): string[] {
  const out: string[] = [];
  const bytes = Buffer.from(line, 'utf8');
  const pos = (len: number) => Math.floor(rand() * (len + 1));
  const digitRuns = [...line.matchAll(/\d+/g)];
  for (let k = 0; k < n; k++) {
    const what = k % 8;
    if (what === 0) out.push(line.slice(0, pos(line.length)));
    else if (what === 1) {
      const b = Buffer.from(bytes);
      if (b.length) b[Math.min(b.length - 1, pos(b.length - 1))] = Math.floor(rand() * 256);
      out.push(b.toString('utf8'));
    } else if (what === 2 && digitRuns.length) {
      const m = digitRuns[Math.floor(rand() * digitRuns.length)];
      const i = m.index!;
      out.push(line.slice(0, i) + m[0].repeat(2 + Math.floor(rand() * 6)) + line.slice(i + m[0].length));
    } else if (what === 3) {
      const p = pos(bytes.length);
      out.push(Buffer.concat([bytes.subarray(0, p), Buffer.from([0xff]), bytes.subarray(p + (rand() < 0.5 ? 1 : 0))]).toString('utf8'));
    } else if (what === 4) {
      const p = pos(line.length);
      out.push(line.slice(0, p) + '\u0000' + line.slice(p + 1));
    } else if (what === 5 && digitRuns.length) {
      const m = digitRuns[Math.floor(rand() * digitRuns.length)];
      const i = m.index!;
      out.push(line.slice(0, i) + HUGE[Math.floor(rand() * HUGE.length)] + line.slice(i + m[0].length));
    } else if (what === 6) {
      out.push(line.slice(pos(line.length)));
    } else {
      // Two damages at once: a digit run replaced and the line cut.
      const m = digitRuns.length ? digitRuns[Math.floor(rand() * digitRuns.length)] : null;
      const hurt = m ? line.slice(0, m.index!) + '0'.repeat(1 + Math.floor(rand() * 20)) + line.slice(m.index! + m[0].length) : line;
      out.push(hurt.slice(0, Math.max(0, hurt.length - Math.floor(rand() * 10))));
    }
  }
  return out;
}

/** What no event may carry. Returns the problems found (empty: fine). */
function problems(r: ParseResult, ctx: ParseContext): string[] {
  if (r.type !== 'event') return r.reason.length > 0 ? [] : ['a miss without a reason'];
  const e = r.event;
  const w = tsWindow(ctx.refTime);
  const p: string[] = [];
  if (!Number.isInteger(e.ts) || e.ts < w.from || e.ts > w.to) p.push(`ts ${e.ts}`);
  for (const [k, v] of [['bytesIn', e.bytesIn], ['bytesOut', e.bytesOut]] as const) {
    if (v !== null && !(Number.isSafeInteger(v) && v >= 0)) p.push(`${k} ${v}`);
  }
  for (const [k, v] of [['rport', e.rport], ['lport', e.lport]] as const) {
    if (v !== null && !(Number.isInteger(v) && v >= 0 && v <= 65535)) p.push(`${k} ${v}`);
  }
  for (const [k, v] of [['rip', e.rip], ['lip', e.lip]] as const) {
    if (v !== null && normalizeIp(v) !== v) p.push(`${k} ${v}`);
  }
  for (const [k, v] of Object.entries(e.attrs ?? {})) if (typeof v === 'number' && !Number.isFinite(v)) p.push(`attrs.${k} ${v}`);
  return p;
}

const cases = goldenCases();

describe('fuzz: damaged golden lines through the dispatcher', () => {
  it('covers every source', () => {
    expect(new Set(cases.map((c) => c.source)).size).toBeGreaterThanOrEqual(7);
  });

  for (const c of cases) {
    it(`${c.source}/${c.name}: nothing throws, no impossible value comes out`, () => {
      const ctx = ctxFor(c.dir);
      const rand = rng(0x5eed ^ c.name.length ^ (c.source.charCodeAt(0) << 8));
      const bad: string[] = [];
      const lines = readFileSync(c.logPath, 'utf8').split('\n').filter((l) => l !== '');
      let hint: Source | null = null;
      let tried = 0;
      for (const line of lines) {
        for (const m of mutations(line, rand, 24)) {
          let r: ParseResult;
          try {
            r = parseAny(m, ctx, hint).result;
          } catch (err) {
            bad.push(`threw ${(err as Error).message} on ${JSON.stringify(m)}`);
            continue;
          }
          tried++;
          for (const p of problems(r, ctx)) bad.push(`${p} from ${JSON.stringify(m)}`);
        }
        hint = nextHint(parseAny(line, ctx, hint), hint);
      }
      expect(bad.slice(0, 10)).toEqual([]);
      expect(tried).toBeGreaterThan(0);
    });

    it(`${c.source}/${c.name}: trailing spaces, tabs and CRs change nothing`, () => {
      const ctx = ctxFor(c.dir);
      const lines = readFileSync(c.logPath, 'utf8').split('\n').filter((l) => l !== '');
      let hint: Source | null = null;
      const differ: string[] = [];
      for (const line of lines) {
        const want = parseAny(line, ctx, hint);
        for (const tail of [' ', '  ', '\t', '\r', ' \r', '\t \r']) {
          const got = parseAny(line + tail, ctx, hint);
          if (JSON.stringify(got) !== JSON.stringify(want)) differ.push(`${JSON.stringify(line + tail)}: ${JSON.stringify(got.result).slice(0, 200)}`);
        }
        hint = nextHint(want, hint);
      }
      expect(differ.slice(0, 5)).toEqual([]);
    });
  }
});

describe('fuzz: counter snapshots (conntrack, OpenVPN status, vnstat)', () => {
  const FIX = join(import.meta.dirname, '..', '..', 'fixtures');
  const REF = Date.UTC(2026, 10, 21);
  const w = tsWindow(REF);
  const inWindow = (t: number | null) => t === null || (Number.isFinite(t) && t >= w.from && t <= w.to);
  const counter = (v: number | null) => v === null || (Number.isSafeInteger(v) && v >= 0);

  /** The text with line `i` replaced by each of its mutations. */
  function* damaged(text: string, seed: number, per: number): Generator<string> {
    const rand = rng(seed);
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (lines[i] === '') continue;
      for (const m of mutations(lines[i], rand, per)) yield [...lines.slice(0, i), m, ...lines.slice(i + 1)].join('\n');
    }
  }

  it('conntrack listings: nothing throws, flows carry counters within 2^53', () => {
    const bad: string[] = [];
    for (const f of ['snapshot-1.txt', 'snapshot-2.txt', 'proc-nf_conntrack.txt']) {
      for (const text of damaged(readFileSync(join(FIX, 'conntrack', f), 'utf8'), 0xc0 ^ f.length, 16)) {
        try {
          const r = conntrackSnapshot(text, null, { tz: 'UTC', ts: REF, localIps: ['192.0.2.10'] });
          for (const x of r.flows) if (![x.bytesIn, x.bytesOut, x.packetsIn, x.packetsOut].every(counter) || !inWindow(x.minute)) bad.push(JSON.stringify(x));
        } catch (err) {
          bad.push(`threw ${(err as Error).message}`);
        }
      }
    }
    expect(bad.slice(0, 5)).toEqual([]);
  });

  it('OpenVPN status files: nothing throws, clients carry counters within 2^53 and plausible times', () => {
    const bad: string[] = [];
    for (const f of ['v1.status', 'v2.status', 'v3.status']) {
      for (const text of damaged(readFileSync(join(FIX, 'openvpn-status', f), 'utf8'), 0x0f ^ f.length, 16)) {
        const s = parseOpenvpnStatus(text, { tz: 'UTC', refTime: REF });
        if ('error' in s) continue;
        if (!inWindow(s.updated)) bad.push(`updated ${s.updated}`);
        for (const c of s.clients) if (!counter(c.bytesIn) || !counter(c.bytesOut) || !inWindow(c.connectedSince)) bad.push(JSON.stringify(c));
        for (const r of s.routes) if (!inWindow(r.lastRef)) bad.push(JSON.stringify(r));
      }
    }
    expect(bad.slice(0, 5)).toEqual([]);
  });

  it('vnstat exports: nothing throws, totals are counters within 2^53 in the window', () => {
    const bad: string[] = [];
    const rand = rng(0x7a57);
    for (const f of ['v1-1.18.json', 'v2-2.10.json', 'v2-2.6-no-timestamps.json']) {
      const text = readFileSync(join(FIX, 'vnstat', f), 'utf8');
      const runs = [...text.matchAll(/\d+/g)];
      for (let k = 0; k < 200; k++) {
        const m = runs[Math.floor(rand() * runs.length)];
        const repl = k % 3 === 0 ? HUGE[Math.floor(rand() * HUGE.length)] : k % 3 === 1 ? m[0].repeat(2 + Math.floor(rand() * 4)) : String(Math.floor(rand() * 10000));
        const t = text.slice(0, m.index!) + repl + text.slice(m.index! + m[0].length);
        try {
          const r = vnstatSnapshot(t, { tz: 'UTC', fileTime: REF });
          for (const x of r.ifaceTotals) if (!counter(x.rx) || !counter(x.tx) || !inWindow(x.start)) bad.push(JSON.stringify(x));
        } catch (err) {
          bad.push(`threw ${(err as Error).message}`);
        }
      }
    }
    expect(bad.slice(0, 5)).toEqual([]);
  });
});

describe('ingest: one damaged line does not lose its file', () => {
  let dir: string;
  let cleanup: () => void;
  let store: Store;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir('bytetrail-fuzz-'));
    store = openStore({ path: join(dir, 'bt.db') });
  });
  afterEach(() => {
    store.close();
    cleanup();
  });

  it('a BIND file with a damaged year and a Dovecot file with a 23-digit counter store every other line, on every run', async () => {
    const q = (i: number) => `20-Nov-2026 09:31:${String(i).padStart(2, '0')}.001 queries: info: client @0x7f3a5c0a1b20 192.0.2.${30 + i}#5000${i} (www.example.com): query: www.example.com IN A +E(0)K (198.51.100.53)`;
    const bind = Buffer.concat([
      Buffer.from([q(1), q(2), q(3)].join('\n') + '\n'),
      Buffer.from('20-Nov-'), Buffer.from([0xff]), Buffer.from(q(4).slice(8) + '\n'),
      Buffer.from([q(5), q(6)].join('\n') + '\n'),
    ]);
    const bindPath = join(dir, 'named.log');
    writeFileSync(bindPath, bind);
    const dove = [
      'Nov 20 09:20:02 mail dovecot: imap-login: Login: user=<jan@example.org>, method=PLAIN, rip=198.51.100.23, lip=192.0.2.10, mpid=40211, TLS, session=<k2Zb1zFqXsDGM2QX>',
      'Nov 20 09:21:40 mail dovecot: imap(jan@example.org)<40211><k2Zb1zFqXsDGM2QX>: Disconnected: Logged out in=1437 out=99999999999999999999999',
      'Nov 20 09:22:02 mail dovecot: imap-login: Login: user=<eva@example.org>, method=PLAIN, rip=198.51.100.24, lip=192.0.2.10, mpid=40212, TLS, session=<k2Zb1zFqXsDGM2QY>',
      'Nov 20 09:23:40 mail dovecot: imap(eva@example.org)<40212><k2Zb1zFqXsDGM2QY>: Disconnected: Logged out in=10 out=20',
    ].join('\n') + '\n';
    const dovePath = join(dir, 'mail.log');
    writeFileSync(dovePath, dove);
    const opts = { tz: 'UTC', now: Date.UTC(2026, 10, 21), settleMs: 0 };
    const s1 = await ingestPaths(store, [bindPath, dovePath], opts);
    expect(s1.lines).toBe(10);
    expect(s1.unparsed).toEqual({ bind: 1, dovecot: 1 });
    expect(store.counts().events + store.counts().aggregated).toBeGreaterThan(0);
    const stored = store.db.prepare('SELECT source, COUNT(*) AS n FROM events GROUP BY source ORDER BY source').all();
    const aggregated = store.db.prepare("SELECT COALESCE(SUM(count), 0) AS n FROM event_agg WHERE source = 'bind'").get() as { n: number };
    expect(stored.filter((r) => (r as { source: string }).source === 'dovecot')).toEqual([{ source: 'dovecot', n: 3 }]);
    expect(aggregated.n).toBe(5);
    const s2 = await ingestPaths(store, [bindPath, dovePath], opts);
    expect(s2.lines).toBe(0);
    const samples = store.unparsedSamples([1, 2]).map((u) => [u.source, u.line, u.reason]);
    expect(samples).toEqual([
      ['bind', 4, 'timestamp unreadable (damaged date)'],
      ['dovecot', 2, 'bytes out unreadable or beyond 2^53-1: not a counter'],
    ]);
  });
});
