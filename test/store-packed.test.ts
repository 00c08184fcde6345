import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ParseContext } from '../src/events.js';
import { LinePipeline, type LineBatch } from '../src/ingest/lines.js';
import { forTransfer, openStore } from '../src/store/index.js';
import { tempDir } from './helpers/cli.js';

const CTX: ParseContext = { tz: 'UTC', refTime: Date.UTC(2026, 10, 21) };
const tmp = tempDir();
afterAll(() => tmp.cleanup());

const REJECT = 'Nov 20 09:14:58 mx1 postfix/smtpd[60803]: NOQUEUE: reject: RCPT from unknown[203.0.113.116]: 550 5.1.1 <nobody@example.com>: Recipient address rejected: ';

/** A batch of event and aggregate rows from `lines`, packed as the pipeline hands them out. */
function batchOf(lines: string[]): LineBatch {
  const pipe = new LinePipeline(CTX, 0, { fileId: 1 });
  pipe.push(Buffer.from(lines.join('\n') + '\n'));
  return pipe.take();
}

/** Store `b` in a fresh database, the rows first sent as the parse worker sends them when `transferred`; return what was stored. */
function stored(b: LineBatch, transferred: boolean, name: string): unknown[] {
  const store = openStore({ path: join(tmp.dir, `${name}.db`) });
  try {
    const f = store.createFile({ path: name, dev: null, ino: null, fpHash: name, fpLen: 1, kind: 'log', size: null, mtime: null });
    const send = (p: LineBatch['eventsPacked']) => (transferred ? structuredClone(p.map(forTransfer)) : p);
    store.commitBatch({
      fileId: f.id, expectOffset: 0, newOffset: b.bytes, newLines: b.lines, tailHash: null,
      events: [], aggs: [], eventsPacked: send(b.eventsPacked), aggsPacked: send(b.aggsPacked), stats: [], unparsed: [],
    });
    return [
      store.db.prepare('SELECT ts, source, host, program, kind, account, rip, session, hex(attrs), hex(raw), line FROM events ORDER BY id').raw().all(),
      store.db.prepare('SELECT minute, source, kind, rip, lport, detail, count, hex(sample_raw) FROM event_agg ORDER BY 1, 2, 3, 4, 5, 6').raw().all(),
    ];
  } finally {
    store.close();
  }
}

describe('packed rows sent to the writing thread as UTF-8 bytes', () => {
  const cases: Record<string, string[]> = {
    ASCII: [
      'Nov 20 00:00:01 mx1 postfix/smtpd[1]: connect from unknown[203.0.113.1]',
      'Nov 20 00:00:02 mx1 kernel: [UFW BLOCK] IN=eth0 OUT= MAC=52:54 SRC=203.0.113.9 DST=192.0.2.10 LEN=60 PROTO=TCP SPT=5000 DPT=25 WINDOW=1 RES=0x00 SYN URGP=0',
    ],
    'non-ASCII': [
      'Nov 20 00:00:01 mx1 dovecot: imap-login: Login: user=<jürgen@exämple.com>, method=PLAIN, rip=203.0.113.17, lip=192.0.2.10, mpid=10001, TLS, session=<ab😀cd>',
      'Nov 20 00:00:02 mx1 postfix/smtpd[1]: connect from ünknown[203.0.113.1]',
      'Nov 20 00:00:03 mx1 kernel: [UFW BLOCK] IN=eth0 OUT= MAC=52:54 SRC=203.0.113.9 DST=192.0.2.10 LEN=60 PROTO=TCP SPT=5000 DPT=25 WINDOW=1 RES=0x00 SYN URGP=0 ñ',
    ],
    // Raw text is cut at 4,096 characters, here between the two halves of an emoji.
    'a lone surrogate': [
      REJECT + 'x'.repeat(4095 - REJECT.length) + '😀 tail; from=<x@example.org> to=<nobody@example.com> proto=ESMTP helo=<example.org>',
      'Nov 20 00:00:02 mx1 postfix/smtpd[1]: connect from ünknown[203.0.113.1]',
    ],
  };
  for (const [name, lines] of Object.entries(cases)) {
    it(`stores the same rows as strings would (${name})`, () => {
      const b = batchOf(lines);
      const direct = stored(b, false, `${name}-direct`);
      expect((direct[0] as unknown[]).length + (direct[1] as unknown[]).length).toBe(lines.length);
      expect(stored(batchOf(lines), true, `${name}-transferred`)).toEqual(direct);
    });
  }
});
