import { UserError } from './errors.js';
import { isValidZone } from './time.js';

/** The zone for local timestamps: --tz, else $TZ, else the system's zone. Read here, never in parsers. */
export function resolveZone(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) {
    if (!isValidZone(flag)) throw new UserError(`unknown time zone: ${flag}`, { hint: 'use an IANA name such as UTC or Europe/Berlin' });
    return flag;
  }
  const tz = env.TZ?.replace(/^:/, '');
  if (tz && isValidZone(tz)) return tz;
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}
