/**
 * The source registry: every log source bytetrail reads, found in src/sources/logs/ (one module
 * each, exporting `source`). Everything that used to list sources by hand is derived from here:
 * the parser list and its order, the names events carry (events.ts `SOURCES`), the sources' own
 * timestamp readers, aggregated lines, service ports and groups, standard log paths, corpus
 * folders, and the facts correlation joins. Adding a source is adding its module (and its
 * fixtures): no list here or elsewhere names it.
 *
 * The modules are imported at load, before this module's exports are set (a top-level await):
 * ESM has no synchronous import of a folder. A module in logs/ must therefore not import this
 * registry, directly or through what it imports (correlate, flows/services, the store): the two
 * would wait on each other and node would exit with code 13 (unsettled top-level await).
 * test/sources.test.ts loads every module.
 */
import { registerSourceName, type LogEvent } from '../events.js';
import { registerStampReader } from '../parsers/syslog.js';
import { loadSourceModules } from './load.js';
import type { SourceParser } from '../parsers/types.js';
import { NATIVE_STAMPS, type AggregateFact, type FactName, type IdentityFact, type LogSource, type ServicePort } from './types.js';

/** The log source modules, in parser order. */
async function loadModules(): Promise<LogSource[]> {
  return (await loadSourceModules<LogSource>(new URL('./logs/', import.meta.url))).sort((a, b) => a.rank - b.rank);
}

const registry: LogSource[] = [];
const byName = new Map<string, LogSource>();

function register(s: LogSource): void {
  if (byName.has(s.name)) throw new Error(`source ${s.name} registered twice`);
  if (s.parser.source !== s.name) throw new Error(`source ${s.name}: its parser says it is ${s.parser.source}`);
  const prev = registry[registry.length - 1];
  if (prev && prev.rank === s.rank) throw new Error(`sources ${prev.name} and ${s.name} have the same rank ${s.rank}`);
  for (const r of s.stampReaders ?? []) {
    if (r.name in NATIVE_STAMPS) throw new Error(`source ${s.name}: stamp form ${r.name} is read elsewhere already`);
    NATIVE_STAMPS[r.name] = r.example;
    registerStampReader(r);
  }
  registry.push(s);
  byName.set(s.name, s);
  registerSourceName(s.name);
}

for (const s of await loadModules()) register(s);

export const LOG_SOURCES: readonly LogSource[] = registry;

export function sourceNamed(name: string): LogSource | undefined {
  return byName.get(name);
}

/** The parsers, in registration order. */
export const PARSERS: readonly SourceParser[] = registry.map((s) => s.parser);

/** Where the standard logs of every source live, each path once, in registration order. */
export const SOURCE_LOG_PATHS: readonly string[] = [...new Set(registry.flatMap((s) => s.standardPaths ?? []))];

/** Every source's service ports. */
export const SOURCE_PORTS: readonly ServicePort[] = registry.flatMap((s) => s.ports ?? []);

/**
 * The service groups the sources name, with their labels (`imap` → `IMAP`), then `other`. A
 * group two sources declare must have one label.
 */
export const GROUP_LABELS: Readonly<Record<string, string>> = (() => {
  const out: Record<string, string> = {};
  for (const s of registry) {
    for (const g of s.groups ?? []) {
      if (out[g.name] !== undefined && out[g.name] !== g.label) throw new Error(`source ${s.name}: group ${g.name} is labelled ${out[g.name]} elsewhere`);
      out[g.name] = g.label;
    }
  }
  out.other = 'other';
  return out;
})();

/**
 * The group each non-mail realm's traffic is attributed under, as the sources declare it
 * (`tunnel` → `vpn`, `web` → `webmail`); a realm no source declares is its own name, which no
 * flow carries.
 */
export const GROUP_OF_REALM: Readonly<Record<'tunnel' | 'web', string>> = (() => {
  const out: Partial<Record<'tunnel' | 'web', string>> = {};
  for (const s of registry) {
    for (const g of s.groups ?? []) {
      if (!g.realm) continue;
      if (out[g.realm] !== undefined && out[g.realm] !== g.name) throw new Error(`source ${s.name}: realm ${g.realm} is group ${out[g.realm]} elsewhere, not ${g.name}`);
      out[g.realm] = g.name;
    }
  }
  return { tunnel: out.tunnel ?? 'tunnel', web: out.web ?? 'web' };
})();

/** Corpus folders with real-world lines of some source, sorted. */
export const CORPUS_DIRS: readonly string[] = [...new Set(registry.flatMap((s) => s.corpusDirs ?? []))].sort();

/** The per-minute aggregate detail of a high-volume line, or null for a line kept as an event. */
export function aggregateDetail(ev: LogEvent): string | null {
  const s = byName.get(ev.source);
  return s?.aggregate ? s.aggregate(ev) : null;
}

/** What an aggregated row (source, kind) stands for. */
export function aggregateFact(source: string, kind: string): AggregateFact | null {
  return byName.get(source)?.aggregateFact?.(kind) ?? null;
}

/** What an event means to correlation, or null (unknown source, or nothing to join on). */
export function factOf(ev: LogEvent): IdentityFact | null {
  return byName.get(ev.source)?.fact(ev) ?? null;
}

export function hasFact(ev: LogEvent, ...facts: FactName[]): boolean {
  const f = factOf(ev);
  return f !== null && facts.includes(f.fact);
}

/** The service an event was for, as whois lists it; a source without one is its own name. */
export function serviceOf(ev: LogEvent): string {
  return byName.get(ev.source)?.service(ev) ?? ev.source;
}

/** Sources whose sessions last days (VPNs): investigate looks a week back for their identity events. */
export const LONG_SESSION_SOURCES: readonly string[] = registry.filter((s) => s.longSessions).map((s) => s.name);
