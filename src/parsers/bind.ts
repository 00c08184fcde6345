import type { ParseContext, ParseResult } from '../events.js';
import { unparsed } from '../events.js';
import type { Envelope } from './syslog.js';
import type { SourceParser } from './types.js';
import { lineParser } from './line.js';

// Placeholder until the bind parser lands: every line is counted as unparsed, none is lost.
export const bind: SourceParser = {
  source: 'bind',
  matchesProgram: (program: string) => program === 'bind',
  parseMessage: (_env: Envelope, _ctx: ParseContext): ParseResult => unparsed('bind parser not implemented yet'),
};

export const parseLine = lineParser(bind);
