import type { ParseContext, ParseResult } from '../events.js';
import { unparsed } from '../events.js';
import type { Envelope } from './syslog.js';
import type { SourceParser } from './types.js';
import { lineParser } from './line.js';

// Placeholder until the openvpn parser lands: every line is counted as unparsed, none is lost.
export const openvpn: SourceParser = {
  source: 'openvpn',
  matchesProgram: (program: string) => program === 'openvpn',
  parseMessage: (_env: Envelope, _ctx: ParseContext): ParseResult => unparsed('openvpn parser not implemented yet'),
};

export const parseLine = lineParser(openvpn);
