/**
 * The enums of schemas/*.json that name sources, file kinds and service groups, derived from the
 * source declarations (src/sources/): a source that brings a new group or counter kind changes
 * them by `npm run schemas`, not by hand. test/schema-enums.test.ts fails when a committed
 * schema is stale. Enum order carries no meaning: a schema whose values are already the derived
 * ones is left as it is.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FLOW_SOURCES } from './flows/query.js';
import { COUNTER_SOURCES } from './sources/counters.js';
import { GROUP_LABELS } from './sources/index.js';

export interface SchemaEnum {
  /** schemas/<file>.json */
  file: string;
  /** Property names from the schema's root down to the object holding `enum`. */
  path: readonly string[];
  values: readonly string[];
}

export function schemaEnums(): SchemaEnum[] {
  return [
    { file: 'investigate', path: ['$defs', 'serviceGroup'], values: Object.keys(GROUP_LABELS) },
    { file: 'investigate', path: ['$defs', 'flowSource'], values: [...FLOW_SOURCES, 'log-counters', 'none'] },
    { file: 'flows', path: ['properties', 'source', 'anyOf', '0'], values: FLOW_SOURCES },
    { file: 'ingest', path: ['properties', 'perFile', 'items', 'properties', 'kind'], values: ['log', 'pcap', ...COUNTER_SOURCES.map((c) => c.kind), 'conntrack', 'vnstat', 'binary', 'empty', 'error'] },
  ];
}

/** The enum a schema holds now at `path`. */
export function enumAt(schema: unknown, path: readonly string[]): string[] | null {
  let o = schema as Record<string, unknown> | undefined;
  for (const k of path) o = o?.[k] as Record<string, unknown> | undefined;
  return Array.isArray(o?.enum) ? (o.enum as string[]) : null;
}

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x) => b.includes(x));
/** How the schemas write an enum: `["a", "b"]` on one line. */
const written = (v: readonly string[]) => '[' + v.map((x) => JSON.stringify(x)).join(', ') + ']';

/** Rewrite the stale enums of the schemas in `dir`; returns the files changed. */
export function writeSchemaEnums(dir: string): string[] {
  const changed = new Set<string>();
  for (const e of schemaEnums()) {
    const path = `${dir}/${e.file}.json`;
    const text = readFileSync(path, 'utf8');
    const now = enumAt(JSON.parse(text), e.path);
    if (!now) throw new Error(`${path}: no enum at ${e.path.join('/')}`);
    if (sameSet(now, e.values)) continue;
    const old = written(now);
    if (text.split(old).length !== 2) throw new Error(`${path}: the enum ${old} is not written once on one line`);
    writeFileSync(path, text.replace(old, written(e.values)));
    changed.add(path);
  }
  return [...changed];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = fileURLToPath(new URL('../schemas', import.meta.url));
  for (const f of writeSchemaEnums(dir)) process.stderr.write(`updated ${f}\n`);
}
