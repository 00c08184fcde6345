/**
 * The spam-relay incident on an Exim server: the same traffic, from the same seed, as the
 * Postfix one in incidents.ts, with Exim's main log in place of Postfix's submission and
 * delivery lines. Its investigation must name the same account with the same finding.
 */
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Incident, spamRelay } from './incidents.js';
import { SERVER, ScenarioWriter } from './scenario.js';

const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function base62(n: number, width: number): string {
  let s = '';
  for (let i = 0; i < width; i++) { s = B62[n % 62] + s; n = Math.floor(n / 62); }
  return s;
}

/**
 * Writes Exim's main log (`/var/log/exim4/mainlog`) with the log_selector docs/pending/registry.md
 * recommends: `+subsecond +incoming_interface +outgoing_port +delivery_size +received_recipients`.
 */
export class EximScenarioWriter extends ScenarioWriter {
  readonly exim: Array<[number, string]> = [];

  /** `2026-11-20 08:02:00.123 msg`, Exim's own stamp with +subsecond. */
  eximLog(t: number, msg: string): void {
    this.exim.push([t, `${new Date(t).toISOString().slice(0, 23).replace('T', ' ')} ${msg}`]);
  }

  /** A message submitted with SMTP AUTH and delivered to remote MTAs; returns its message id. */
  override submit(t: number, user: string, cip: string, o: { size: number; rcpts: string[]; relays: Array<[ip: string, host: string]>; status?: string; port?: 587 | 465 }): string {
    // The same draws from the seed as the Postfix writer: the capture comes out byte for byte the same.
    const q = this.qid(), p = this.nextPid();
    const id = `${base62(Math.floor(t / 1000), 6)}-${base62(p, 6)}-${q.slice(0, 2)}`;
    const port = o.port ?? 587;
    this.eximLog(t + 400, `${id} <= ${user} H=(client) [${cip}] I=[${SERVER}]:${port} P=esmtpsa X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no A=dovecot_plain:${user} S=${o.size} id=${q}.${p}@example.com for ${o.rcpts.join(' ')}`);
    const status = o.status ?? 'sent';
    o.rcpts.forEach((rc, i) => {
      const [ip, host] = o.relays[i % o.relays.length];
      const tt = t + 1500 + (i % o.relays.length) * 1500;
      const relay = `H=${host} [${ip}]:25${i >= o.relays.length ? '*' : ''}`;
      if (status === 'sent') this.eximLog(tt, `${id} ${i >= o.relays.length ? '->' : '=>'} ${rc} R=dnslookup T=remote_smtp ${relay} X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes C="250 2.0.0 Ok: queued as 4XyZ1" S=${o.size + 600}`);
      else if (status === 'deferred') this.eximLog(tt, `${id} == ${rc} R=dnslookup T=remote_smtp defer (-46) ${relay}: SMTP error from remote mail server after end of data: 450 4.7.1 Service unavailable, try again later`);
      else this.eximLog(tt, `${id} ** ${rc} R=dnslookup T=remote_smtp ${relay}: SMTP error from remote mail server after end of data: 550 5.7.1 Message rejected as spam`);
    });
    if (status !== 'deferred') this.eximLog(t + 1600 + o.relays.length * 1500, `${id} Completed`);
    return id;
  }

  override write(dir: string, o: Parameters<ScenarioWriter['write']>[1] = {}): ReturnType<ScenarioWriter['write']> {
    const r = super.write(dir, o);
    if (!this.exim.length) return r;
    const lines = this.exim.sort((a, b) => a[0] - b[0]);
    const p = join(dir, 'mainlog');
    writeFileSync(p, lines.map(([, l]) => l).join('\n') + '\n');
    const when = new Date(lines[lines.length - 1][0] + 1000);
    utimesSync(p, when, when);
    // Logs before the capture, as the other writers order them.
    return { ...r, files: [p, ...r.files] };
  }
}

/** spamRelay with its submissions and deliveries in Exim's main log. */
export function eximSpamRelay(seed = 12): Incident {
  return { ...spamRelay(seed, new EximScenarioWriter(seed)), name: 'spam-relay-exim' };
}
