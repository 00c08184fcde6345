import type { ParseContext, ParseResult, Source } from '../events.js';
import type { Envelope } from './syslog.js';

/** One log source. Pure: no clock, no zone, no I/O. */
export interface SourceParser {
  source: Source;
  /** Does this syslog program tag (e.g. `postfix/submission/smtpd`, `imap-login`) belong to this source? */
  matchesProgram(program: string): boolean;
  /**
   * For lines in a program's own file format, which carry no program tag (OpenVPN's
   * `2026-11-20 09:20:02 msg`, BIND's `20-Nov-2026 ...`, rspamd's `... #1234(normal) ...`):
   * does this message look like ours? Must be cheap.
   */
  sniffNative?(msg: string): boolean;
  /** Parse the message of a line whose envelope is already parsed. */
  parseMessage(env: Envelope, ctx: ParseContext): ParseResult;
}
