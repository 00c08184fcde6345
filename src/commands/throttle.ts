import { writeFileSync } from 'node:fs';
import { Args, Flags } from '@oclif/core';
import { BaseCommand, windowFlags } from '../base-command.js';
import { InputError, PrivilegeError, describeFsError } from '../errors.js';
import { info, warn } from '../output.js';
import { openSqliteReadStore, type SqliteReadStore } from '../store/sqlite-read.js';
import { type ApplyResult, type ThrottlePlan, planThrottle, runPlan } from '../throttle/index.js';
import { BACKENDS, DIRECTIONS } from '../throttle/plan.js';
import { humanRate } from '../throttle/validate.js';
import { resolveZone } from '../zone.js';

export default class Throttle extends BaseCommand {
  static override summary = 'Write a tested tc shaping plan that slows one client down instead of blocking it.';
  static override description = 'Prints a POSIX sh script (HTB plus a classifier) that throttles an account\'s addresses, an IP or a CIDR network. Re-running the script replaces its own rules; --undo prints the script that removes them. Nothing on this machine changes unless --apply is given.';
  static override examples = [
    '<%= config.bin %> throttle alice@example.com --rate 2mbit --ports imap,imaps --out throttle-alice.sh',
    '<%= config.bin %> throttle 198.51.100.23 --rate 500kbit --iface eth0 --backend u32',
    '<%= config.bin %> throttle 198.51.100.23 --rate 500kbit --iface eth0 --undo --apply',
  ];
  static override args = { target: Args.string({ required: true, description: 'account name, IP address or CIDR network' }) };
  static override flags = {
    rate: Flags.string({ required: true, description: 'rate for the client: 2mbit, 500kbit, 1gbit, 250kbps (bytes/s, as tc reads it)' }),
    ceil: Flags.string({ description: 'most the client may borrow up to when the line is idle (default: the rate)' }),
    iface: Flags.string({ description: 'server interface towards the client (default: the route to its first address)' }),
    direction: Flags.string({ options: [...DIRECTIONS], default: 'out', description: 'out: downloads (egress to the client); in: uploads (via IFB); both' }),
    ports: Flags.string({ description: 'only these server-side ports: imap,imaps,pop3s or 993,995' }),
    backend: Flags.string({ options: [...BACKENDS], default: 'nft', description: 'how packets are put in the class' }),
    // For an account: the window its addresses are taken from, as investigate reads it.
    ...windowFlags('24h'),
    'default-rate': Flags.string({ default: '10gbit', description: 'rate of the default class that carries all other traffic' }),
    out: Flags.string({ description: 'write the script to this file (mode 0755) instead of stdout' }),
    undo: Flags.boolean({ default: false, description: 'the script that removes the plan, instead of the one that applies it' }),
    apply: Flags.boolean({ default: false, description: 'as root: print the script, run it, and verify the result' }),
  };

  async run(): Promise<ThrottlePlan & { applied?: ApplyResult }> {
    const { args, flags } = await this.parse(Throttle);
    let store: SqliteReadStore | null = null;
    try {
      const plan = await planThrottle({
        target: args.target, rate: flags.rate, ceil: flags.ceil, defaultRate: flags['default-rate'], iface: flags.iface,
        direction: flags.direction, backend: flags.backend, ports: flags.ports, since: flags.since, until: flags.until, tz: resolveZone(flags.tz), nowMs: Date.now(),
      }, () => (store = openSqliteReadStore(flags.db)));
      for (const w of plan.warnings) warn(w);
      info(`plan ${plan.id}: ${plan.clients.map((c) => c.address).join(', ')} at ${humanRate(plan.rate)} on ${plan.iface} (${plan.direction}, ${plan.backend})`);
      if (flags.apply && process.getuid?.() !== 0) throw new PrivilegeError('--apply needs root', { hint: 'without --apply nothing changes: save the script with --out and run it as root' });
      const script = flags.undo ? plan.commands.undo : plan.commands.apply;
      if (flags.out) {
        try {
          writeFileSync(flags.out, script, { mode: 0o755 });
        } catch (err) {
          throw new InputError(describeFsError(flags.out, err, 'write'));
        }
        info(`wrote the ${flags.undo ? 'undo' : 'apply'} script to ${flags.out}`);
      }
      // The script is shown before anything runs; under --json it goes to stderr.
      if (flags.apply && this.jsonEnabled()) process.stderr.write(script);
      else if (!flags.out || flags.apply) this.log(script.trimEnd());
      if (!flags.apply) return plan;
      return { ...plan, applied: runPlan(plan, flags.undo ? 'undo' : 'apply') };
    } finally {
      await (store as SqliteReadStore | null)?.close();
    }
  }
}
