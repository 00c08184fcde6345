/**
 * One base error with a code, an exit code and a hint. `UserError`s are things the user can fix
 * (a bad flag, an unreadable file); anything else reaching the command base is a bug.
 * Only the command base turns an error into an exit code.
 */
export class BytetrailError extends Error {
  readonly code: string;
  readonly exitCode: number;
  readonly hint: string | null;
  constructor(message: string, opts: { code: string; exitCode?: number; hint?: string | null; cause?: unknown }) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = new.target.name;
    this.code = opts.code;
    this.exitCode = opts.exitCode ?? 1;
    this.hint = opts.hint ?? null;
  }
}

/**
 * Exit codes, one rule for every command (README "Exit codes"):
 * 2 what was typed is wrong (unknown command or flag, a bad flag value or argument);
 * 1 what was read or written failed (a file, a device, a script, nothing to act on);
 * 3 the database; 77 root or a capability is needed; 70 a bug.
 */
export const EXIT = { input: 1, usage: 2, store: 3, internal: 70, privilege: 77 } as const;

/** Something the user can fix; by default a usage error (a bad flag value or argument). */
export class UserError extends BytetrailError {
  constructor(message: string, opts: { code?: string; exitCode?: number; hint?: string | null; cause?: unknown } = {}) {
    super(message, { code: opts.code ?? 'E_USAGE', exitCode: opts.exitCode ?? EXIT.usage, hint: opts.hint, cause: opts.cause });
  }
}

/** Needs root or a capability (CAP_NET_RAW, CAP_NET_ADMIN) that this process lacks. */
export class PrivilegeError extends UserError {
  constructor(message: string, opts: { hint?: string | null; cause?: unknown } = {}) {
    super(message, { code: 'E_PRIVILEGE', exitCode: EXIT.privilege, ...opts });
  }
}

/** What was read or written failed: an unreadable file, a damaged one, nothing to act on. */
export class InputError extends UserError {
  constructor(message: string, opts: { hint?: string | null; cause?: unknown } = {}) {
    super(message, { code: 'E_INPUT', exitCode: EXIT.input, ...opts });
  }
}

export class StoreError extends BytetrailError {
  constructor(message: string, opts: { hint?: string | null; cause?: unknown } = {}) {
    super(message, { code: 'E_STORE', exitCode: EXIT.store, ...opts });
  }
}

/** One line for a filesystem error, e.g. "cannot read /var/log/mail.log: permission denied (EACCES)". */
export function describeFsError(path: string, err: unknown, verb = 'read'): string {
  const e = err as NodeJS.ErrnoException;
  const why: Record<string, string> = {
    ENOENT: 'no such file or directory', EACCES: 'permission denied', EPERM: 'operation not permitted',
    EISDIR: 'is a directory', ENOTDIR: 'not a directory', EMFILE: 'too many open files', EIO: 'I/O error',
    ENOSPC: 'no space left on device', EROFS: 'read-only file system',
  };
  const text = e?.code && why[e.code] ? `${why[e.code]} (${e.code})` : (e?.message ?? String(err));
  return `cannot ${verb} ${path}: ${text}`;
}
