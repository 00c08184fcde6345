import { Command, Flags } from '@oclif/core';
import { BytetrailError, EXIT, UserError } from './errors.js';
import { escapeControls } from './output.js';
import { storeErrorFrom } from './store/safety.js';

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
 * --store and --server as every reading command takes them (src/store/open.ts reads them): a
 * fleet store instead of the local database, and some of its servers.
 */
export function storeFlags() {
  return {
    store: Flags.string({ description: 'read this store instead of the database file: clickhouse://[user@]host[:port]/database (clickhouses:// for HTTPS; the password from $BYTETRAIL_CLICKHOUSE_PASSWORD)', env: 'BYTETRAIL_STORE' }),
    server: Flags.string({ description: 'only this server\'s data (repeat for several; default: every server the store holds)', multiple: true, multipleNonGreedy: true }),
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

  /**
   * Every failure ends here: one line on stderr (`bytetrail: error: ...` and a hint) and, with
   * --json, the same as `{"error": {code, message, hint, exitCode}}` on stdout, so that a script
   * reading stdout always gets JSON. Exit codes follow EXIT (src/errors.ts). Messages name files,
   * interfaces and accounts from the input: they are escaped, so each stays one line.
   */
  protected override async catch(thrown: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    // this.exit() is not a failure: oclif ends the process with its code.
    if ((thrown as { code?: unknown }).code === 'EEXIT') return super.catch(thrown);
    // A damaged database is the user's to repair, wherever SQLite noticed it.
    const err = storeErrorFrom(thrown) ?? thrown;
    let e: BytetrailError;
    if (err instanceof BytetrailError) e = err;
    else if (err.oclif || (err as { name?: string }).name === 'CLIError') {
      // oclif's own parse errors (unknown flag, missing argument) already read well, with the usage.
      if (!this.jsonEnabled()) return super.catch(err);
      e = new UserError(err.message.replace(/\n.*$/s, ''), { hint: `see: ${this.config.bin} ${this.id ?? ''} --help`.replace(/ +--/, ' --') });
    } else {
      if (process.env.BYTETRAIL_DEBUG) process.stderr.write(`${err.stack ?? String(err)}\n`);
      e = new BytetrailError(`internal error: ${err.message} (this is a bug; rerun with BYTETRAIL_DEBUG=1 for details)`, { code: 'E_INTERNAL', exitCode: EXIT.internal });
    }
    process.stderr.write(`bytetrail: ${e.code === 'E_INTERNAL' ? '' : 'error: '}${escapeControls(e.message)}${e.hint ? `\n  hint: ${escapeControls(e.hint)}` : ''}\n`);
    if (this.jsonEnabled()) process.stdout.write(`${JSON.stringify({ error: { code: e.code, message: e.message, hint: e.hint, exitCode: e.exitCode } }, null, 2)}\n`);
    process.exitCode = e.exitCode;
    return undefined;
  }

  protected userError(message: string, hint?: string): never {
    throw new UserError(message, { hint });
  }
}
