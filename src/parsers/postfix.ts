import type { ParseContext, ParseResult } from '../events.js';
import { unparsed } from '../events.js';
import type { Envelope } from './syslog.js';
import type { SourceParser } from './types.js';
import { lineParser } from './line.js';

// Placeholder until the postfix parser lands: every line is counted as unparsed, none is lost.
export const postfix: SourceParser = {
  source: 'postfix',
  matchesProgram: (program: string) => program === 'postfix',
  parseMessage: (_env: Envelope, _ctx: ParseContext): ParseResult => unparsed('postfix parser not implemented yet'),
};

export const parseLine = lineParser(postfix);
