import { Command, Flags } from '@oclif/core';
import { BytetrailError, UserError } from './errors.js';

/**
 * --since and --until as every windowed command takes them (src/correlate/window.ts reads them).
 * A date without an offset is read in --tz, as the logs are.
 */
export function windowFlags(defaultSince: string) {
  return {
    since: Flags.string({ description: 'start of the window: a duration back from --until (2h, 30m, 1d12h), a date (2026-11-20 09:00, 2026-11-20T09:00Z) or a date without a year (Nov 20, Nov 20 09:00: the most recent one)', default: defaultSince }),
    until: Flags.string({ description: 'end of the window, a date as for --since (default: now)' }),
  };
}

/**
 * Shared flags and the one place where errors become exit codes and one-line messages.
 * Nothing else calls process.exit.
 */
export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true;

  static override baseFlags = {
    db: Flags.string({ description: 'database file (default: $BYTETRAIL_DB, else $XDG_DATA_HOME/bytetrail/bytetrail.db, or /var/lib/bytetrail/bytetrail.db as root)', env: 'BYTETRAIL_DB', helpGroup: 'GLOBAL' }),
    tz: Flags.string({ description: 'zone in which log times without an offset are read (default: $TZ, else the system zone)', helpGroup: 'GLOBAL' }),
  };

  protected override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    if (err instanceof BytetrailError) {
      const hint = err.hint ? `\n  hint: ${err.hint}` : '';
      process.stderr.write(`bytetrail: error: ${err.message}${hint}\n`);
      process.exitCode = err.exitCode;
      return undefined;
    }
    // oclif's own parse errors (bad flag, missing argument) already read well.
    if (err.oclif || (err as { name?: string }).name === 'CLIError') return super.catch(err);
    if (process.env.BYTETRAIL_DEBUG) process.stderr.write(`${err.stack ?? String(err)}\n`);
    process.stderr.write(`bytetrail: internal error: ${err.message} (this is a bug; rerun with BYTETRAIL_DEBUG=1 for details)\n`);
    process.exitCode = 70;
    return undefined;
  }

  protected userError(message: string, hint?: string): never {
    throw new UserError(message, { hint });
  }
}
