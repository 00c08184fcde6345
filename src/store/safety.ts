/**
 * The database file itself: checks before SQLite opens it (a symlink someone else can point
 * elsewhere, permissions that let others read the logs' personal data), and how a damaged
 * database or one from a newer bytetrail reaches the user: as a user error that says what to
 * do, never as an internal error, and never written to.
 */
import { chmodSync, closeSync, constants, existsSync, lstatSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { BytetrailError, StoreError } from '../errors.js';

/**
 * Refuse a database path that is a symlink in a directory anyone may write to (/tmp): another
 * user could point it at a file of ours, which we would then create, chmod or write, or at
 * a database of their making. This is what O_NOFOLLOW guards against, for the whole path's
 * last component; a symlink in a directory only its owners can write is followed as usual.
 */
export function refuseUnsafeLink(path: string): void {
  let st;
  try { st = lstatSync(path); } catch { return; }
  if (!st.isSymbolicLink()) return;
  const dir = dirname(path);
  let dirMode = 0;
  try { dirMode = statSync(dir).mode; } catch { return; }
  if (dirMode & 0o002) {
    throw new StoreError(`refusing to open database ${path}: it is a symbolic link in ${dir}, a directory anyone can write to`, {
      hint: 'pass the path it should point to with --db, or keep the database in a directory of its own',
    });
  }
}

/** Create an empty database file readable by its owner only, without following a symlink. */
export function createDbFile(path: string): void {
  try {
    closeSync(openSync(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW, 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/**
 * Logs hold personal data: a database others can read (0644, 0666, as a copy or an old umask
 * leaves it) is tightened to 0600 when it is ours, with its -wal and -shm, and reported;
 * someone else's is reported only.
 */
export function tightenMode(path: string, warn: (message: string) => void): void {
  let st;
  try { st = statSync(path); } catch { return; }
  const mode = st.mode & 0o777;
  if ((mode & 0o077) === 0) return;
  const octal = mode.toString(8).padStart(4, '0');
  if (process.getuid && st.uid !== process.getuid()) {
    warn(`database ${path} can be read by other users (mode ${octal}) and is not ours to change; its owner should run chmod 600 on it`);
    return;
  }
  for (const p of [path, `${path}-wal`, `${path}-shm`]) {
    if (!existsSync(p)) continue;
    try { chmodSync(p, 0o600); } catch { /* reported below as not tightened */ }
  }
  const now = statSync(path).mode & 0o777;
  if (now === 0o600) warn(`database ${path} could be read by other users (mode ${octal}); it is now 0600`);
  else warn(`database ${path} can be read by other users (mode ${octal}) and could not be changed`);
}

/** SQLITE_CORRUPT and its extended codes (CORRUPT_INDEX, CORRUPT_SEQUENCE, CORRUPT_VTAB). */
export function isCorruption(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_CORRUPT');
}

export function damagedError(path: string, detail: string, cause?: unknown): StoreError {
  return new StoreError(`database ${path} is damaged (${detail}); bytetrail will not read from or write to it`, {
    hint: `restore it from a backup, or save what is readable: sqlite3 ${path} ".recover" | sqlite3 ${path}.recovered, then use --db ${path}.recovered`,
    cause,
  });
}

export function newerError(path: string, found: number, known: number): StoreError {
  return new StoreError(`database ${path} was written by a newer bytetrail (schema version ${found}; this one knows up to ${known})`, {
    hint: 'upgrade bytetrail to use this database; it has not been changed',
  });
}

/** The database most recently opened: named by errors that reach the command base without it. */
let lastOpened: string | null = null;

export function noteOpened(path: string): void {
  lastOpened = path;
}

/** A user error for an SQLite error that is about the database file, not a bug: or null. */
export function storeErrorFrom(err: unknown): BytetrailError | null {
  if (err instanceof BytetrailError) return err;
  if (isCorruption(err)) return damagedError(lastOpened ?? 'bytetrail.db', (err as Error).message, err);
  return null;
}
