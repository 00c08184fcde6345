import type { ParseContext, ParseResult } from '../events.js';
import { unparsed } from '../events.js';
import type { Envelope } from './syslog.js';
import type { SourceParser } from './types.js';
import { lineParser } from './line.js';

// Placeholder until the netfilter parser lands: every line is counted as unparsed, none is lost.
export const netfilter: SourceParser = {
  source: 'netfilter',
  matchesProgram: (program: string) => program === 'netfilter',
  parseMessage: (_env: Envelope, _ctx: ParseContext): ParseResult => unparsed('netfilter parser not implemented yet'),
};

export const parseLine = lineParser(netfilter);
