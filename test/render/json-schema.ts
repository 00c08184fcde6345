/**
 * A small JSON Schema (draft 2020-12) validator for the keywords our schemas use. An unknown
 * keyword is an error, so a schema cannot rely on something this validator would skip.
 */
type Schema = Record<string, unknown>;

const KNOWN = new Set([
  '$schema', '$id', '$defs', 'title', 'description', 'type', 'properties', 'required', 'additionalProperties', 'items',
  'enum', 'const', '$ref', 'anyOf', 'oneOf', 'minimum', 'maximum', 'pattern', 'format',
]);

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function typeOk(t: string, v: unknown): boolean {
  switch (t) {
    case 'null': return v === null;
    case 'boolean': return typeof v === 'boolean';
    case 'string': return typeof v === 'string';
    case 'number': return typeof v === 'number' && Number.isFinite(v);
    case 'integer': return typeof v === 'number' && Number.isInteger(v);
    case 'array': return Array.isArray(v);
    case 'object': return typeof v === 'object' && v !== null && !Array.isArray(v);
    default: throw new Error(`unknown type ${t}`);
  }
}

/** Every error as `path: message`; empty when `value` is valid. */
export function validate(root: Schema, value: unknown): string[] {
  const errors: string[] = [];
  const resolve = (ref: string): Schema => {
    const m = /^#\/\$defs\/([A-Za-z0-9_-]+)$/.exec(ref);
    const defs = root.$defs as Record<string, Schema> | undefined;
    if (!m || !defs?.[m[1]]) throw new Error(`unresolvable $ref ${ref}`);
    return defs[m[1]];
  };
  const check = (s: Schema, v: unknown, path: string, out: string[]): void => {
    for (const k of Object.keys(s)) if (!KNOWN.has(k)) throw new Error(`${path}: schema keyword ${k} is not supported by this validator`);
    if (s.$ref) check(resolve(s.$ref as string), v, path, out);
    if (s.type !== undefined) {
      const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
      if (!types.some((t) => typeOk(t, v))) { out.push(`${path}: expected ${types.join(' or ')}, got ${JSON.stringify(v)?.slice(0, 60)}`); return; }
    }
    if (s.enum && !(s.enum as unknown[]).includes(v)) out.push(`${path}: ${JSON.stringify(v)} is not one of ${JSON.stringify(s.enum)}`);
    if ('const' in s && s.const !== v) out.push(`${path}: expected ${JSON.stringify(s.const)}`);
    if (typeof v === 'number') {
      if (typeof s.minimum === 'number' && v < s.minimum) out.push(`${path}: ${v} < ${s.minimum}`);
      if (typeof s.maximum === 'number' && v > s.maximum) out.push(`${path}: ${v} > ${s.maximum}`);
    }
    if (typeof v === 'string') {
      if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(v)) out.push(`${path}: ${JSON.stringify(v)} does not match ${s.pattern}`);
      if (s.format === 'date-time' && !(ISO.test(v) && !Number.isNaN(Date.parse(v)))) out.push(`${path}: ${JSON.stringify(v)} is not an RFC 3339 date-time`);
    }
    for (const [key, many] of [['anyOf', false], ['oneOf', true]] as const) {
      if (!s[key]) continue;
      const results = (s[key] as Schema[]).map((sub) => { const e: string[] = []; check(sub, v, path, e); return e; });
      const ok = results.filter((e) => e.length === 0).length;
      if (ok === 0) out.push(`${path}: matches none of ${key}: ${results.map((e) => e.join('; ')).join(' | ')}`);
      else if (many && ok > 1) out.push(`${path}: matches ${ok} branches of oneOf`);
    }
    if (Array.isArray(v) && s.items) v.forEach((x, i) => check(s.items as Schema, x, `${path}[${i}]`, out));
    if (typeOk('object', v) && (s.properties || s.required || 'additionalProperties' in s)) {
      const o = v as Record<string, unknown>;
      const props = (s.properties ?? {}) as Record<string, Schema>;
      for (const r of (s.required ?? []) as string[]) if (!(r in o)) out.push(`${path}: missing ${r}`);
      for (const [k, x] of Object.entries(o)) {
        if (props[k]) check(props[k], x, `${path}.${k}`, out);
        else if (s.additionalProperties === false) out.push(`${path}: unexpected property ${k}`);
        else if (typeof s.additionalProperties === 'object') check(s.additionalProperties as Schema, x, `${path}.${k}`, out);
      }
    }
  };
  check(root, value, '$', errors);
  return errors;
}
