import type { ParseContext, ParseResult } from '../events.js';
import { unparsed } from '../events.js';
import { checked, trimLineEnd } from './check.js';
import { isEnvelopeError, parseEnvelope } from './syslog.js';
import type { SourceParser } from './types.js';

/** `parseLine(line, ctx)` for one source: envelope first, then the source's message parser. */
export function lineParser(p: SourceParser): (line: string, ctx: ParseContext) => ParseResult {
  return (line, ctx) => {
    const env = parseEnvelope(trimLineEnd(line), ctx);
    if (isEnvelopeError(env)) return unparsed(env.error);
    return checked(p.parseMessage(env, ctx), ctx);
  };
}
