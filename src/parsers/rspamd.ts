import type { ParseContext, ParseResult } from '../events.js';
import { unparsed } from '../events.js';
import type { Envelope } from './syslog.js';
import type { SourceParser } from './types.js';
import { lineParser } from './line.js';

// Placeholder until the rspamd parser lands: every line is counted as unparsed, none is lost.
export const rspamd: SourceParser = {
  source: 'rspamd',
  matchesProgram: (program: string) => program === 'rspamd',
  parseMessage: (_env: Envelope, _ctx: ParseContext): ParseResult => unparsed('rspamd parser not implemented yet'),
};

export const parseLine = lineParser(rspamd);
