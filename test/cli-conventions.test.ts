/**
 * What every admin tool is expected to do: -h, a suggestion for a typo, one exit-code rule,
 * JSON errors under --json, no colour where it cannot show, tables that stay in line with
 * wide characters, and a man page in step with the flags.
 */
import { Config } from '@oclif/core';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import stringWidth from 'string-width';
import { afterAll, describe, expect, it } from 'vitest';
import { noStandardLogs, STANDARD_LOGS } from '../src/correlate/run.js';
import { renderManPage } from '../src/man.js';
import { colorAllowed } from '../src/output.js';
import { textTable, truncate } from '../src/render/format.js';
import { ROOT, spawnCli, tempDir } from './helpers/cli.js';
import { loadSchema } from './render/helpers.js';
import { validate } from './render/json-schema.js';

const ERROR_SCHEMA = loadSchema('error');

const t = tempDir();
const db = join(t.dir, 'bytetrail.db');
afterAll(() => t.cleanup());

describe('-h', () => {
  it.each(['investigate', 'throttle', 'ingest', 'whois-user'])('%s -h prints the help', (cmd) => {
    const r = spawnCli([cmd, '-h']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`$ bytetrail ${cmd}`);
  });
});

describe('a misspelled command', () => {
  it('gets a suggestion, off a terminal too, and runs nothing', () => {
    const r = spawnCli(['thrtle', 'alice', '--rate', '1mbit', '--apply']);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('bytetrail: error: "thrtle" is not a bytetrail command\n  hint: did you mean bytetrail throttle? (all commands: bytetrail --help)\n');
  });
  it('far from every command, lists them', () => {
    expect(spawnCli(['frobnicate']).stderr).toMatch(/hint: the commands are: .*investigate, .*throttle/);
  });
});

describe('exit codes and JSON errors', () => {
  // One row per class: usage 2, input 1, store 3 (EXIT in src/errors.ts).
  const cases: Array<[string, string[], number, string]> = [
    ['unknown flag', ['investigate', '--bogus', '--db', db], 2, 'E_USAGE'],
    ['bad --since', ['investigate', '--since', '20', '--no-ingest', '--db', db], 2, 'E_USAGE'],
    ['bad --rate', ['throttle', '198.51.100.7', '--rate', 'fast', '--iface', 'eth0', '--db', db], 2, 'E_USAGE'],
    ['bad IP argument', ['whois-user', 'mail.example.com', '--db', db], 2, 'E_USAGE'],
    ['unwritable --out', ['throttle', '198.51.100.7', '--rate', '1mbit', '--iface', 'eth0', '--out', join(t.dir, 'no', 'x.sh')], 1, 'E_INPUT'],
    ['unreadable --geoip-db', ['whois-user', '198.51.100.7', '--geoip-db', join(t.dir, 'missing.mmdb'), '--db', db], 1, 'E_INPUT'],
    ['no database', ['flows', '--db', join(t.dir, 'missing', 'x.db')], 3, 'E_STORE'],
  ];
  it.each(cases)('%s: exit code', (_, args, code) => {
    const r = spawnCli(args);
    expect(r.status, r.stderr).toBe(code);
    expect(r.stdout).toBe('');
    // oclif's own parse errors keep its wording, with the usage under it.
    expect(r.stderr).toMatch(/^bytetrail: error: | › {3}Error: /m);
  });
  it.each(cases)('%s: with --json, {error} on stdout and the line on stderr', (_, args, code, errCode) => {
    const r = spawnCli([...args, '--json']);
    expect(r.status).toBe(code);
    const out = JSON.parse(r.stdout) as { error: { code: string; message: string; hint: string | null; exitCode: number } };
    expect(validate(ERROR_SCHEMA, out)).toEqual([]);
    const { error } = out;
    expect(error).toMatchObject({ code: errCode, exitCode: code });
    expect(r.stderr).toContain(`bytetrail: error: ${error.message}\n`);
  });
});

describe('colour', () => {
  it('only on a terminal that is not dumb, without NO_COLOR', () => {
    expect(colorAllowed({ TERM: 'xterm-256color' }, true)).toBe(true);
    expect(colorAllowed({ TERM: 'dumb' }, true)).toBe(false);
    expect(colorAllowed({ TERM: 'xterm', NO_COLOR: '1' }, true)).toBe(false);
    expect(colorAllowed({ TERM: 'xterm', NO_COLOR: '' }, true)).toBe(true);
    expect(colorAllowed({ TERM: 'xterm' }, false)).toBe(false);
  });
});

describe('tables', () => {
  it('count display columns, so CJK and emoji names stay in line', () => {
    const rows = [['alice@example.com', '1.2 GB'], ['山田太郎@example.jp', '830 MB'], ['👩‍💻 dev@example.com', '12 MB'], ['é-combining e\u0301', '1 MB']];
    const lines = textTable([{ title: 'account' }, { title: 'bytes', align: 'right' }], rows, { width: 80 });
    const widths = new Set(lines.map((l) => stringWidth(l)));
    expect(widths.size).toBe(1);
  });
  it('cut to a number of columns, never inside a character', () => {
    expect(truncate('山田太郎@example.jp', 6)).toBe('山田…');
    expect(stringWidth(truncate('山田太郎@example.jp', 6))).toBeLessThanOrEqual(6);
    expect(truncate('👩‍💻👩‍💻👩‍💻', 4)).toBe('👩‍💻…');
    const lines = textTable([{ title: 'account', shrink: true, min: 4 }, { title: 'bytes', align: 'right' }], [['山田太郎山田太郎山田太郎', '1 GB'], ['bob', '2 GB']], { width: 20 });
    expect(lines.map((l) => stringWidth(l)).every((w) => w <= 20)).toBe(true);
    expect(new Set(lines.map((l) => stringWidth(l))).size).toBe(1);
  });
});

describe('the man page', () => {
  it('is in step with the commands and their flags (npm run man rewrites it)', async () => {
    const page = renderManPage(await Config.load(ROOT));
    expect(readFileSync(join(ROOT, 'man', 'bytetrail.1'), 'utf8')).toBe(page);
    expect(page).toContain('\\fB\\-\\-until\\fR \\fIvalue\\fR');
    expect(page).toContain('.SS "bytetrail throttle \\fItarget\\fR"');
  });
});

describe('a journald-only machine', () => {
  it('names what it looked for and how to feed the journal in', () => {
    expect(noStandardLogs(Date.UTC(2026, 10, 20, 8))).toContain('journalctl -o json --since @1795161600 | bytetrail ingest -');
  });
  it.skipIf(STANDARD_LOGS.some((p) => existsSync(p)))('investigate says so on stderr', () => {
    const r = spawnCli(['investigate', '--db', db, '--since', '2h']);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('bytetrail: warning: none of the standard log locations exists here (looked for ');
    expect(r.stderr).toMatch(/looked for [^)]*\/var\/log\/mail\.log/);
  });
});
