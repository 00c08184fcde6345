/**
 * Hostile bytes from the data never reach a terminal or an environment variable raw: every path
 * that prints text from logs, account names or capture interface names escapes control
 * characters (C0, C1, DEL) and bidi controls visibly, through one helper (escapeControls).
 * And a proposed throttle command targets the account it names, whatever the name, when pasted
 * into a shell as printed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { captureOutput } from '@oclif/test';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Throttle from '../src/commands/throttle.js';
import { baseEvent } from '../src/events.js';
import { aggregateCapture } from '../src/flows/aggregate.js';
import { PcapngWriter, ethernet, ipv4, IPPROTO, udp } from '../src/flows/pcap-write.js';
import type { FlowRecord } from '../src/flows/types.js';
import { escapeControls } from '../src/output.js';
import { renderInvestigationText } from '../src/render/investigation.js';
import { renderMarkdown } from '../src/render/markdown.js';
import { openStore, type Store } from '../src/store/index.js';
import { WatchStore } from '../src/store/watch.js';
import type { ThrottlePlan } from '../src/throttle/plan.js';
import { shellQuote, throttleCommandLine } from '../src/throttle/command.js';
import { type Alert, AlertEngine } from '../src/watch/alerts.js';
import { AlertSinks } from '../src/watch/sinks.js';
import { ROOT, spawnCli, tempDir } from './helpers/cli.js';
import { loadInvestigation } from './render/helpers.js';

/** Any control character but the line feeds that end our own lines. */
// eslint-disable-next-line no-control-regex
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
/** A terminal title, a screen clear, a C1 CSI, a right-to-left override and an isolate. */
const NASTY = '\x1b]0;pwned\x07\x1b[2J\x9b31m\u202etxt.exe\u2066\x7f';
const SHOWN = '\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202etxt.exe\\u2066\\x7f';

describe('escapeControls', () => {
  it('writes every control character visibly and leaves the rest alone', () => {
    expect(escapeControls(NASTY)).toBe(SHOWN);
    expect(escapeControls('a\tb\nc\rd\0e\u2028\u200f\u061c')).toBe('a\\tb\\nc\\rd\\x00e\\u2028\\u200f\\u061c');
    expect(escapeControls('jan@example.com Grüße 日本 \\x1b')).toBe('jan@example.com Grüße 日本 \\x1b');
  });
});

describe('on the terminal', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir('bytetrail-escapes-')));
  afterEach(() => cleanup());

  function hostileLog(): string {
    const f = join(dir, 'mail.log');
    // A line that no parser reads (unparsed, and sampled), with a carriage return inside it that
    // would otherwise overwrite the start of the printed line.
    writeFileSync(f, `Nov 21 10:00:00 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.1]\nhostile ${NASTY}\rbytetrail: forged\n`);
    return f;
  }

  it('ingest: the unparsed samples in the summary', () => {
    const r = spawnCli(['ingest', '--db', join(dir, 'x.db'), hostileLog()]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`hostile ${SHOWN}\\rbytetrail: forged`);
    expect(r.stdout).not.toMatch(RAW);
    expect(r.stderr).not.toMatch(RAW);
  });

  it('ingest --print-unparsed: every unparsed line', () => {
    const r = spawnCli(['ingest', '--db', join(dir, 'x.db'), '--print-unparsed', hostileLog()]);
    expect(r.status, r.stderr).toBe(0);
    const printed = r.stdout.split('\n').filter((l) => l.includes('hostile'));
    // Once by --print-unparsed, once among the summary's samples; each one line.
    expect(printed.length).toBeGreaterThanOrEqual(1);
    expect(printed[0]).toMatch(/mail\.log:2: .*hostile \\x1b\]0;pwned/);
    expect(r.stdout).not.toMatch(RAW);
  });

  it('ingest: a file name with control characters in its error', () => {
    const r = spawnCli(['ingest', '--db', join(dir, 'x.db'), join(dir, `nope\n${NASTY}.log`)]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`nope\\n${SHOWN}.log`);
    expect(r.stderr).not.toMatch(RAW);
  });
});

describe('watch alerts: a capture interface named to forge lines', () => {
  let dir: string;
  let cleanup: () => void;
  let store: Store;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir('bytetrail-escapes-'));
    store = openStore({ path: join(dir, 'bt.db') });
  });
  afterEach(() => {
    store.close();
    cleanup();
  });

  const MIN = 60_000;
  const END = Date.UTC(2026, 10, 21, 14, 30);
  const NOW = END + 20_000;
  const IFACE = `eth0\nbytetrail: ALERT forged by the capture${NASTY}`;

  /** Flow records read from a real pcapng whose interface (IDB if_name) is IFACE. */
  async function pcapngFlows(): Promise<FlowRecord[]> {
    const w = new PcapngWriter();
    const frame = ethernet(ipv4({ src: '192.0.2.10', dst: '198.51.100.7', proto: IPPROTO.UDP, payload: udp({ sport: 1194, dport: 50000, payload: 1400 }) }));
    const parts = [w.section(), w.interface({ linkType: 1, name: IFACE })];
    for (let m = END - 5 * MIN; m < END; m += MIN) {
      for (let i = 0; i < 100; i++) parts.push(w.packet(0, BigInt(m + i * 100) * 1_000_000n, frame));
    }
    const bytes = Buffer.concat(parts);
    const r = await aggregateCapture((async function* () { yield bytes; })(), { localIps: ['192.0.2.10'] });
    expect([...new Set(r.flows.map((f) => f.iface))]).toEqual([IFACE]);
    return r.flows;
  }

  it('the ALERT and RESOLVED lines, the hook\'s BYTETRAIL_INCIDENT and status\'s last alert stay one harmless line each', async () => {
    store.addFlows('pcap', await pcapngFlows());
    const lines: string[] = [];
    const envFile = join(dir, 'env');
    const ws = new WatchStore(store);
    const sinks = new AlertSinks(ws, {
      execTimeoutMs: 60_000, notice: (m) => lines.push(`notice ${m}`), write: (l) => lines.push(l),
      exec: `printf '%s|%s\\n' "$BYTETRAIL_ALERT_TYPE" "$BYTETRAIL_INCIDENT" >> '${envFile}'`,
    });
    const engine = new AlertEngine(store, ws, sinks, {
      windowMs: 5 * MIN, alertAboveBps: 1000, multiple: 3, minBps: 100_000, repeatMs: 30 * MIN, clock: 'wall', settleMs: 20_000, host: 'mx1',
    });
    await engine.tick(NOW, false);
    // Five minutes later, without traffic: resolved.
    await engine.tick(NOW + 6 * MIN, false);
    await sinks.drain();

    expect(lines.map((l) => l.split(' ')[1])).toEqual(['ALERT', 'RESOLVED']);
    for (const l of lines) {
      expect(l.endsWith('\n') && l.indexOf('\n') === l.length - 1, JSON.stringify(l)).toBe(true);
      expect(l.slice(0, -1)).not.toMatch(RAW);
      expect(l).toContain(`eth0\\nbytetrail: ALERT forged by the capture${SHOWN}`);
    }
    const env = readFileSync(envFile, 'utf8').split('\n').filter(Boolean);
    expect(env).toHaveLength(2);
    for (const e of env) {
      expect(e).not.toMatch(RAW);
      expect(e).toContain(`eth0\\nbytetrail: ALERT forged by the capture${SHOWN}`);
    }

    store.close();
    const st = spawnCli(['status', '--db', join(dir, 'bt.db')]);
    store = openStore({ path: join(dir, 'bt.db') });
    expect(st.status, st.stderr).toBe(0);
    expect(st.stdout).toMatch(/last alert \(2 in all\): .*RESOLVED .*eth0\\nbytetrail: ALERT forged/);
    expect(st.stdout).not.toMatch(RAW);
  });
});

describe('investigate reports: account names and evidence lines', () => {
  function hostile() {
    const inv = loadInvestigation();
    const name = `mallory${NASTY}@example.com`;
    inv.suspects[0].account = name;
    inv.findings[0].subject = name;
    inv.findings[0].evidence.lines[0].text = `Nov 20 09:02:11 mail dovecot: imap-login: Login: user=<${name}>, rip=198.51.100.23 ${NASTY}`;
    inv.verdict = `${name} (IMAP) caused 80% of outbound traffic`;
    return inv;
  }

  it('text: escaped, in colour or not', () => {
    for (const color of [false, true]) {
      // eslint-disable-next-line no-control-regex
      const out = renderInvestigationText(hostile(), { color, width: 300 }).replace(/\x1b\[[0-9;]*m/g, '');
      expect(out).not.toMatch(RAW);
      expect(out).toContain(`mallory${SHOWN}@example.com`);
      expect(out).toContain(`user=<mallory${SHOWN}@example.com>`);
    }
  });

  it('Markdown: escaped', () => {
    const md = renderMarkdown(hostile());
    expect(md).not.toMatch(RAW);
    expect(md).toContain('\\u202etxt.exe\\u2066');
  });
});

describe('the proposed throttle command', () => {
  let dir: string;
  let cleanup: () => void;
  let db: string;
  const NAMES = ['--apply', '-h', "o'brien $(touch /tmp/pwned) `id`", `tab\there\u202e`, 'alice@example.com'];
  beforeEach(() => {
    ({ dir, cleanup } = tempDir('bytetrail-escapes-'));
    db = join(dir, 'bt.db');
    const store = openStore({ path: db });
    const file = store.createFile({ path: '/var/log/mail.log', dev: 1, ino: 1, fpHash: 'x', fpLen: 1, kind: 'log', size: 100, mtime: 0 });
    const now = Date.now();
    store.commitBatch({
      fileId: file.id, expectOffset: 0, newOffset: 100, newLines: NAMES.length, tailHash: null, aggs: [], stats: [], unparsed: [],
      events: NAMES.map((account, i) => ({ ev: { ...baseEvent('dovecot', now - 60_000, 'mx1', 'dovecot', 'login'), account, rip: `198.51.100.${10 + i}`, rport: 50000, lip: '192.0.2.1', lport: 993 }, line: i + 1, raw: 'raw' })),
    });
    store.close();
  });
  afterEach(() => cleanup());

  /** The words bash makes of a printed command line (bytetrail itself stubbed out). */
  function shellWords(line: string): string[] {
    const out = execFileSync('bash', ['-c', `bytetrail() { printf '%s\\0' "$@"; }\n${line}`]);
    return out.toString('utf8').split('\0').slice(0, -1);
  }

  it.each(NAMES.map((n, i) => [n, i] as const))('targets the account %j when run as printed', async (name, i) => {
    const line = throttleCommandLine({ target: name, rate: '3mbit', direction: 'out', ports: [143, 993] });
    expect(line).not.toMatch(RAW);
    const words = shellWords(line);
    expect(words[0]).toBe('throttle');
    expect(words.at(-1)).toBe(name);
    // Through oclif's parser, as the CLI runs it (the database and interface given up front).
    process.exitCode = undefined;
    const r = await captureOutput<ThrottlePlan & { applied?: unknown }>(() => Throttle.run(['--db', db, '--iface', 'eth0', ...words.slice(1)], ROOT));
    process.exitCode = undefined;
    expect(r.error).toBeUndefined();
    expect(r.result?.target).toMatchObject({ kind: 'account', name });
    expect(r.result?.clients.map((c) => c.address)).toEqual([`198.51.100.${10 + i}`]);
    expect(r.result?.applied).toBeUndefined();
    expect(r.stdout.startsWith('#!/bin/sh\n')).toBe(true);
  });

  it('quotes only what needs it', () => {
    expect(throttleCommandLine({ target: 'jan@example.com', rate: '3mbit', direction: 'out', ports: [143, 993] }))
      .toBe('bytetrail throttle --rate 3mbit --direction out --ports 143,993 -- jan@example.com');
    expect(shellQuote('--apply')).toBe('--apply');
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote('a\x1bb\\c\'d\u202e')).toBe("$'a\\x1bb\\\\c\\'d\\u202e'");
    expect(spawnSync('bash', ['-c', `printf %s ${shellQuote('a\x1bb\\c\'d\u202e')}`]).stdout.toString()).toBe('a\x1bb\\c\'d\u202e');
  });
});
