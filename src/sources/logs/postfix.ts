/** Postfix: SASL submissions, queued sizes, deliveries to relays, bounces, failed SASL logins. */
import { postfix as parser } from '../../parsers/postfix.js';
import type { IdentityFact, LogSource } from '../types.js';
import { num, str } from '../util.js';

export const source: LogSource = {
  name: 'postfix',
  title: 'Postfix',
  rank: 10,
  tags: ['postfix/smtpd', 'postfix/submission/smtpd', 'postfix/qmgr', 'postfix/smtp', 'postfix/cleanup', '…'],
  nativeStamps: [],
  parser,
  ports: [['smtp', 25, ['tcp'], 'smtp'], ['submission', 587, ['tcp'], 'submission'], ['smtps', 465, ['tcp'], 'submission']],
  groups: [{ name: 'smtp', label: 'SMTP' }, { name: 'submission', label: 'submission' }],
  standardPaths: ['/var/log/mail.log', '/var/log/mail.log.1'],
  corpusDirs: ['postfix'],
  fact(ev): IdentityFact | null {
    const qid = ev.session;
    switch (ev.kind) {
      case 'sasl-login': return ev.account ? { fact: 'submission', service: source.service(ev), qid, size: null, nrcpt: null } : null;
      // `qid: client=host[ip]`: smtpd took a message from that client.
      case 'client': return qid ? { fact: 'arrival', qid } : null;
      case 'queued': return qid ? { fact: 'message', qid, size: num(ev.attrs?.size), nrcpt: num(ev.attrs?.nrcpt) } : null;
      case 'bounce': {
        // The non-delivery notice travels under a new queue id; it is still the sender's traffic.
        const newQid = str(ev.attrs?.bounceQueueId);
        return qid && newQid ? { fact: 'requeue', qid, newQid } : null;
      }
      case 'delivery': return qid ? { fact: 'delivery', qid, status: str(ev.attrs?.status) ?? 'unknown', size: null } : null;
      case 'sasl-fail': return { fact: 'auth-failure', service: source.service(ev) };
      default: return null;
    }
  },
  // Postfix names the master.cf service: smtp (port 25), submission, smtps or a custom name.
  service: (ev) => (typeof ev.attrs?.service === 'string' ? ev.attrs.service : '').toLowerCase().replace(/[^a-z0-9-]/g, '') || 'smtp',
};
