/**
 * Spam relay through an Exim SASL account: the same traffic as the Postfix incident (same
 * seed, byte-identical capture), with Exim's main log instead of Postfix's lines. bytetrail
 * must reach the same answer through the same identity facts: the same account, service,
 * finding, confidence and bytes.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { eximSpamRelay } from '../src/demo/exim.js';
import { INCIDENTS, type Incident } from '../src/demo/incidents.js';
import { investigateIncident } from './helpers/incident.js';

const dirs: Array<() => void> = [];
afterAll(() => { for (const d of dirs) d(); });

const investigate = (inc: Incident) => investigateIncident(inc, dirs);

describe('spam relay via Exim', () => {
  it('names the same account with the same finding and bytes as through Postfix', async () => {
    const postfix = await investigate(INCIDENTS.spamRelay(12));
    const exim = await investigate(eximSpamRelay(12));
    // Every line of the Exim main log is read.
    expect(exim.ingest.unparsed).toEqual({});
    const want = postfix.inv.suspects[0];
    const top = exim.inv.suspects[0];
    expect(want).toMatchObject({ account: 'sales@example.com', finding: 'spam-relay' });
    const pick = (s: typeof top) => ({
      account: s.account, service: s.service, finding: s.finding, confidence: s.confidence, direction: s.direction,
      bytesIn: s.bytesIn, bytesOut: s.bytesOut, ips: s.ips, sessions: s.sessions, split: s.split,
    });
    expect(pick(top)).toEqual(pick(want));
    expect(exim.inv.findings.map((f) => [f.kind, f.subject])).toEqual(postfix.inv.findings.map((f) => [f.kind, f.subject]));
    expect(exim.inv.totals).toEqual(postfix.inv.totals);
    // The same facts: submissions, client networks, recipients, deliveries and their failures.
    expect(top.evidence.facts).toEqual(want.evidence.facts);
    expect(top.evidence.lines.some((l) => / <= sales@example\.com .* A=dovecot_plain:sales@example\.com /.test(l.text))).toBe(true);
    expect(exim.inv.throttle?.command).toBe(postfix.inv.throttle?.command);
  }, 120_000);
});
