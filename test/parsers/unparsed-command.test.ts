/**
 * The lines not understood can be seen: `ingest --json --print-unparsed` puts them in the JSON
 * (issue 14: the README's own example printed none), and `bytetrail unparsed` shows the stored
 * counts and samples later.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/cli.js';
import { validate } from '../render/json-schema.js';

const SCHEMAS = join(import.meta.dirname, '..', '..', 'schemas');

describe('unparsed lines, shown', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir('bytetrail-unparsed-')));
  afterEach(() => cleanup());

  it('ingest --json --print-unparsed lists every line not understood; unparsed shows them later', async () => {
    const f = join(dir, 'mail.log');
    writeFileSync(f, [
      'Nov 21 10:00:00 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.1]',
      'Nov 21 10:00:01 mx1 dovecot: imap(jan): Logged out in=1 out=99999999999999999999999',
      'not a log line',
      '',
    ].join('\n'));
    const db = join(dir, 'x.db');
    const { stdout } = await runCli(['ingest', '--db', db, '--json', '--print-unparsed', f]);
    const j = JSON.parse(stdout) as { unparsedLines: Array<{ path: string; line: number; source: string; reason: string; text: string }> };
    expect(j.unparsedLines.map((u) => [u.path, u.line, u.source])).toEqual([[f, 2, 'dovecot'], [f, 3, 'postfix']]);
    expect(j.unparsedLines[0].reason).toMatch(/bytes out .* not a counter/);
    expect(validate(JSON.parse(readFileSync(join(SCHEMAS, 'ingest.json'), 'utf8')), j)).toEqual([]);

    const later = await runCli(['unparsed', '--db', db, '--json']);
    const r = JSON.parse(later.stdout) as { counts: Record<string, number>; samples: Array<{ line: number; text: string }> };
    // A line with no timestamp counts against the source of the last line understood.
    expect(r.counts).toEqual({ dovecot: 1, postfix: 1 });
    expect(r.samples.map((s) => [s.line, s.text])).toEqual([[2, 'Nov 21 10:00:01 mx1 dovecot: imap(jan): Logged out in=1 out=99999999999999999999999'], [3, 'not a log line']]);
    expect(validate(JSON.parse(readFileSync(join(SCHEMAS, 'unparsed.json'), 'utf8')), r)).toEqual([]);

    const text = await runCli(['unparsed', '--db', db, '--source', 'dovecot', '--limit', '1']);
    expect(text.stdout).toBe([
      '2 line(s) not understood: dovecot 1, postfix 1.',
      '',
      'Samples kept (1 shown):',
      `${f}:2: [dovecot] bytes out unreadable or beyond 2^53-1: not a counter: Nov 21 10:00:01 mx1 dovecot: imap(jan): Logged out in=1 out=99999999999999999999999`,
      '',
    ].join('\n'));
  });
});
