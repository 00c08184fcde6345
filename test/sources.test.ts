/**
 * The source registry: each source's declarations hold (its native stamps parse as native,
 * its parser says its name), and what used to be listed by hand is derived from it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type LogEvent, SOURCES } from '../src/events.js';
import { PARSERS } from '../src/parsers/index.js';
import { isEnvelopeError, parseEnvelope } from '../src/parsers/syslog.js';
import { CORPUS_DIRS, factOf, GROUP_LABELS, GROUP_OF_REALM, LOG_SOURCES, SOURCE_LOG_PATHS } from '../src/sources/index.js';
import { IDENTITY_KINDS, NATIVE_STAMPS } from '../src/sources/types.js';
import { goldenCases } from './helpers/golden.js';
import { STANDARD_LOGS } from '../src/correlate/run.js';

describe('source registry', () => {
  it('derives the source names and the parser order from the registrations', () => {
    expect(SOURCES).toEqual(LOG_SOURCES.map((s) => s.name));
    expect(PARSERS.map((p) => p.source)).toEqual([...SOURCES]);
    expect(new Set(SOURCES).size).toBe(SOURCES.length);
  });

  it('reads every native timestamp form a source declares as a native stamp', () => {
    for (const s of LOG_SOURCES) {
      for (const form of s.nativeStamps) {
        const env = parseEnvelope(NATIVE_STAMPS[form], { tz: 'UTC', refTime: Date.UTC(2026, 10, 21) });
        expect(isEnvelopeError(env), `${s.name}: ${form}`).toBe(false);
        if (!isEnvelopeError(env)) expect(env.form, `${s.name}: ${form}`).toBe('native');
      }
    }
  });

  it('reads each source\'s standard paths and corpus folders', () => {
    for (const p of SOURCE_LOG_PATHS) expect(STANDARD_LOGS).toContain(p);
    for (const s of LOG_SOURCES) for (const d of s.corpusDirs ?? []) expect(CORPUS_DIRS).toContain(d);
  });
});

describe('identity facts', () => {
  it('come from the indexed identity kinds, and a mail session starts with `login`, in every golden fixture', () => {
    let n = 0;
    for (const c of goldenCases()) {
      for (const row of readFileSync(c.expectedPath, 'utf8').split('\n')) {
        if (!row) continue;
        const r = JSON.parse(row) as { type: string; event?: LogEvent };
        if (r.type !== 'event' || !r.event) continue;
        const f = factOf(r.event);
        if (!f || !['session-start', 'session-end', 'lease', 'submission'].includes(f.fact)) continue;
        n++;
        expect(IDENTITY_KINDS as readonly string[], `${c.source}/${c.name}: ${r.event.kind}`).toContain(r.event.kind);
        if (f.fact === 'session-start' && f.realm === 'mail') expect(r.event.kind).toBe('login');
      }
    }
    expect(n).toBeGreaterThan(0);
  });
});

describe('realms', () => {
  it('name the groups correlation treats apart (a VPN, a webmail): declared, labelled groups', () => {
    expect(GROUP_OF_REALM).toEqual({ tunnel: 'vpn', web: 'webmail' });
    for (const g of Object.values(GROUP_OF_REALM)) expect(GROUP_LABELS[g], g).toBeDefined();
  });
});

describe('counter sources', () => {
  it('are the modules of src/sources/counters/, one each, named by their kind, in sniffing order', async () => {
    const { COUNTER_SOURCES } = await import('../src/sources/counters.js');
    const files = readdirSync(new URL('../src/sources/counters/', import.meta.url)).filter((f) => f.endsWith('.ts')).map((f) => f.replace(/\.ts$/, ''));
    expect(COUNTER_SOURCES.map((c) => c.kind).sort()).toEqual(files.sort());
    expect(COUNTER_SOURCES.map((c) => c.kind)).toEqual(['openvpn-status', 'wireguard', 'wireguard-config']);
  });

  it('are in the schemas\' enums, the flow sources and the file kinds', async () => {
    const { COUNTER_SOURCES, COUNTER_FLOW_SOURCES } = await import('../src/sources/counters.js');
    const { FLOW_SOURCES } = await import('../src/flows/query.js');
    const schema = (name: string) => readFileSync(new URL(`../schemas/${name}.json`, import.meta.url), 'utf8');
    const ingestKinds = /"kind": \{ "enum": (\[[^\]]*\])/.exec(schema('ingest'))![1];
    for (const c of COUNTER_SOURCES) expect(JSON.parse(ingestKinds), c.kind).toContain(c.kind);
    for (const k of COUNTER_FLOW_SOURCES) {
      expect(FLOW_SOURCES).toContain(k);
      expect(schema('flows')).toContain(`"${k}"`);
      expect(schema('investigate')).toContain(`"${k}"`);
    }
  });
});
