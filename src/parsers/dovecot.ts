import type { ParseContext, ParseResult } from '../events.js';
import { unparsed } from '../events.js';
import type { Envelope } from './syslog.js';
import type { SourceParser } from './types.js';
import { lineParser } from './line.js';

// Placeholder until the dovecot parser lands: every line is counted as unparsed, none is lost.
export const dovecot: SourceParser = {
  source: 'dovecot',
  matchesProgram: (program: string) => program === 'dovecot',
  parseMessage: (_env: Envelope, _ctx: ParseContext): ParseResult => unparsed('dovecot parser not implemented yet'),
};

export const parseLine = lineParser(dovecot);
