import { Command, Flags } from '@oclif/core';
import { BytetrailError, UserError } from './errors.js';
import { escapeControls } from './output.js';
import { storeErrorFrom } from './store/safety.js';

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

  protected override async catch(thrown: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    // A damaged database is the user's to repair, wherever SQLite noticed it.
    const err = storeErrorFrom(thrown) ?? thrown;
    if (err instanceof BytetrailError) {
      // Messages name files, interfaces and accounts from the input: escaped, each stays one line.
      const hint = err.hint ? `\n  hint: ${escapeControls(err.hint)}` : '';
      process.stderr.write(`bytetrail: error: ${escapeControls(err.message)}${hint}\n`);
      process.exitCode = err.exitCode;
      return undefined;
    }
    // oclif's own parse errors (bad flag, missing argument) already read well.
    if (err.oclif || (err as { name?: string }).name === 'CLIError') return super.catch(err);
    if (process.env.BYTETRAIL_DEBUG) process.stderr.write(`${err.stack ?? String(err)}\n`);
    process.stderr.write(`bytetrail: internal error: ${escapeControls(err.message)} (this is a bug; rerun with BYTETRAIL_DEBUG=1 for details)\n`);
    process.exitCode = 70;
    return undefined;
  }

  protected userError(message: string, hint?: string): never {
    throw new UserError(message, { hint });
  }
}
