/** Dovecot: IMAP and POP3 logins and logouts (with in=/out=), failed logins. */
import type { LogEvent } from '../../events.js';
import { dovecot as parser } from '../../parsers/dovecot.js';
import type { IdentityFact, LogSource } from '../types.js';
import { num, str } from '../util.js';

const SERVICES: Record<string, string> = { imap: 'imap', pop3: 'pop3', submission: 'submission', managesieve: 'sieve', sieve: 'sieve' };

/** The protocol of a login: its `service` attribute, else the program tag (`pop3-login`). */
function protocol(ev: LogEvent): string | null {
  return str(ev.attrs?.service) ?? (ev.program?.startsWith('pop3') ? 'pop3' : ev.program?.startsWith('imap') ? 'imap' : null);
}

/** A logout names its login by `<mpid><session>`; failing that, by the login process's pid and the user. */
function altKey(ev: LogEvent): string | null {
  const pid = num(ev.attrs?.pid);
  return pid === null ? null : String(pid);
}

export const source: LogSource = {
  name: 'dovecot',
  title: 'Dovecot',
  rank: 20,
  tags: ['dovecot', 'imap-login', 'pop3-login', 'imap', 'pop3', 'auth', 'lmtp', '…'],
  nativeStamps: ['tai64n'],
  parser,
  ports: [['imap', 143, ['tcp'], 'imap'], ['imaps', 993, ['tcp'], 'imap'], ['pop3', 110, ['tcp'], 'pop3'], ['pop3s', 995, ['tcp'], 'pop3']],
  groups: [{ name: 'imap', label: 'IMAP' }, { name: 'pop3', label: 'POP3' }],
  standardPaths: ['/var/log/mail.log', '/var/log/dovecot.log'],
  corpusDirs: ['dovecot'],
  fact(ev): IdentityFact | null {
    switch (ev.kind) {
      case 'login': return { fact: 'session-start', realm: 'mail', service: protocol(ev) ?? '', key: ev.session, altKey: altKey(ev) };
      case 'logout': case 'disconnect': return { fact: 'session-end', realm: 'mail', key: ev.session, altKey: altKey(ev) };
      case 'auth-fail': return { fact: 'auth-failure', service: source.service(ev) };
      default: return null;
    }
  },
  service: (ev) => SERVICES[str(ev.attrs?.service) ?? ''] ?? (ev.program?.startsWith('pop3') ? 'pop3' : ev.program?.startsWith('imap') ? 'imap' : 'dovecot'),
};
