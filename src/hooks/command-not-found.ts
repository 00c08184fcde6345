/**
 * `bytetrail invesigate` → "did you mean investigate?". Written here rather than taken from
 * @oclif/plugin-not-found, which suggests only on a terminal and then runs its guess when Enter
 * is pressed: `bytetrail throtle alice --rate 1mbit --apply` would shape traffic on a typo.
 * This one suggests everywhere (scripts, ssh -T, cron mail) and never runs anything.
 */
import type { Hook } from '@oclif/core';
import { closest, distance } from 'fastest-levenshtein';
import { EXIT } from '../errors.js';

const hook: Hook<'command_not_found'> = async function (opts) {
  const ids = opts.config.commands.filter((c) => !c.hidden).map((c) => c.id);
  // With spaces as topic separators oclif hands over `thrtle:alice` for `thrtle alice`; no
  // command has a topic, so the first word is the command typed.
  const typed = opts.id.split(':')[0];
  const best = ids.length ? closest(typed, ids) : '';
  // Near enough to be a typo of it (two edits, or a third of the word), else no guess.
  const near = best !== '' && distance(typed, best) <= Math.max(2, Math.floor(typed.length / 3));
  const message = `${JSON.stringify(typed)} is not a ${opts.config.bin} command`;
  const hint = near ? `did you mean ${opts.config.bin} ${best}? (all commands: ${opts.config.bin} --help)` : `the commands are: ${ids.sort().join(', ')}`;
  process.stderr.write(`${opts.config.bin}: error: ${message}\n  hint: ${hint}\n`);
  if (opts.argv?.includes('--json')) process.stdout.write(`${JSON.stringify({ error: { code: 'E_USAGE', message, hint, exitCode: EXIT.usage } }, null, 2)}\n`);
  this.exit(EXIT.usage);
};

export default hook;
