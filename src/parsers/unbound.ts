import type { ParseContext, ParseResult } from '../events.js';
import { unparsed } from '../events.js';
import type { Envelope } from './syslog.js';
import type { SourceParser } from './types.js';
import { lineParser } from './line.js';

// Placeholder until the unbound parser lands: every line is counted as unparsed, none is lost.
export const unbound: SourceParser = {
  source: 'unbound',
  matchesProgram: (program: string) => program === 'unbound',
  parseMessage: (_env: Envelope, _ctx: ParseContext): ParseResult => unparsed('unbound parser not implemented yet'),
};

export const parseLine = lineParser(unbound);
