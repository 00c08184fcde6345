/**
 * The dispatcher: parse the syslog envelope once, pick the source by program tag (or, for
 * program-native files, by content), and hand the message to that source's parser.
 */
import type { ParseContext, ParseResult, Source } from '../events.js';
import { skip, unparsed } from '../events.js';
import { PARSERS } from '../sources/index.js';
import { isEnvelopeError, parseEnvelope } from './syslog.js';
import type { SourceParser } from './types.js';

/** The parsers of the registered sources, in the registry's order (src/sources/index.ts). */
export { PARSERS };

/** `other` covers lines from programs bytetrail does not read, and lines with no timestamp. */
export type DispatchSource = Source | 'other';

export interface Dispatched {
  source: DispatchSource;
  result: ParseResult;
}

const byProgram = new Map<string, SourceParser | null>();

function parserForProgram(program: string): SourceParser | null {
  let p = byProgram.get(program);
  if (p === undefined) {
    p = PARSERS.find((x) => x.matchesProgram(program)) ?? null;
    if (byProgram.size > 10_000) byProgram.clear();
    byProgram.set(program, p);
  }
  return p;
}

/**
 * Parse any line. `hint` is the source that recognised the previous native-format line of
 * the same file: OpenVPN's own log has lines that only make sense in context.
 */
export function parseAny(line: string, ctx: ParseContext, hint?: Source | null): Dispatched {
  const env = parseEnvelope(line, ctx);
  if (isEnvelopeError(env)) return { source: hint ?? 'other', result: unparsed(env.error) };
  if (env.program !== null) {
    const p = parserForProgram(env.program);
    if (p) return { source: p.source, result: p.parseMessage(env, ctx) };
    if (env.form !== 'native') return { source: 'other', result: skip(`program not read by bytetrail: ${env.program.slice(0, 40)}`) };
  }
  for (const p of PARSERS) {
    if (p.sniffNative && p.sniffNative(env.msg)) return { source: p.source, result: p.parseMessage(env, ctx) };
  }
  if (hint) {
    const p = PARSERS.find((x) => x.source === hint);
    if (p) return { source: hint, result: p.parseMessage(env, ctx) };
  }
  return { source: 'other', result: unparsed('no program tag and no source recognised the message') };
}

/**
 * The hint for the next line of the same file: the source that took this line, whether it
 * made an event or a deliberate skip (OpenVPN's own log has lines that only make sense in
 * context); a line that no source understood leaves the hint as it was.
 */
export function nextHint(d: Dispatched, hint: Source | null): Source | null {
  return d.source !== 'other' && d.result.type !== 'unparsed' ? d.source : hint;
}
