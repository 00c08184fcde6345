/**
 * A webmail re-fetch loop (issue 10 §4): maria's Roundcube tab re-downloads her mailbox over
 * HTTPS, and Roundcube's own IMAP sessions over loopback carry the same mail again in Dovecot's
 * log. bytetrail must name her, on the webmail, with her HTTPS bytes: from a capture within 2% of
 * the wire, and from the logs alone (nginx's access log, estimated) within 5%. The loopback IMAP
 * sessions are never counted as interface traffic.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Investigation, Suspect } from '../src/correlate/types.js';
import type { Incident } from '../src/demo/incidents.js';
import type { EvidenceMode } from '../src/demo/scenario.js';
import { webmailRefetch } from '../src/demo/webmail.js';
import { investigateIncident } from './helpers/incident.js';

const dirs: Array<() => void> = [];
afterAll(() => { for (const d of dirs) d(); });

const run = (inc: Incident, mode: EvidenceMode) => investigateIncident(inc, dirs, mode);

const bytes = (s: Pick<Suspect, 'bytesIn' | 'bytesOut'>) => s.bytesIn + s.bytesOut;
const rel = (got: number, want: number) => (got - want) / want;

function expectNoLoopbackCounted(inv: Investigation): void {
  // Roundcube's IMAP sessions on 127.0.0.1 are in Dovecot's log with out= of ~190 MB: none of it is eth0 traffic.
  for (const s of inv.suspects) expect(s.ips).not.toContain('127.0.0.1');
  expect(inv.suspects.filter((s) => s.account === 'maria@example.com' && s.service === 'imap')).toEqual([]);
}

describe('webmail re-fetch loop', () => {
  const inc = webmailRefetch();
  const truth = inc.writer.truth(inc.culprit, inc.from, inc.to);
  const other = inc.writer.truth('tom@example.com', inc.from, inc.to);

  it('from a capture: names the webmail user, with her HTTPS bytes within 2%', async () => {
    const { inv, ingest } = await run(inc, 'capture');
    expect(ingest.unparsed).toEqual({});
    const top = inv.suspects[0];
    expect(top).toMatchObject({ account: 'maria@example.com', service: 'webmail', finding: 'webmail-refetch', direction: 'out', confidence: 'exact' });
    expect(top.ips).toEqual(['198.51.100.41']);
    expect(Math.abs(rel(bytes(top), bytes(truth)))).toBeLessThanOrEqual(0.02);
    expect(top.estimated.bytesIn + top.estimated.bytesOut).toBe(0);
    expect(top.evidence.facts.join(' ')).toMatch(/7 IMAP session\(s\) the webmail opened over loopback .*not counted/);
    expect(inv.verdict).toMatch(/^maria@example\.com \(webmail, 198\.51\.100\.41\) caused/);
    // Another webmail user on a neighbouring address keeps her own bytes.
    const tom = inv.suspects.find((s) => s.account === 'tom@example.com');
    expect(tom).toMatchObject({ service: 'webmail', finding: 'normal-use' });
    expect(Math.abs(rel(bytes(tom!), bytes(other)))).toBeLessThanOrEqual(0.02);
    expectNoLoopbackCounted(inv);
  }, 180_000);

  // A conntrack listing taken at the alert has none of her closed connections: the access log fills in the same way.
  for (const mode of ['logs', 'listing', 'listing-ts'] as const) {
    it(`from the logs alone (${mode}): the access log's bytes as an estimate, within 5%`, async () => {
      const { inv } = await run(inc, mode);
      const top = inv.suspects[0];
      expect(top).toMatchObject({ account: 'maria@example.com', service: 'webmail', finding: 'webmail-refetch', direction: 'out', confidence: 'estimated' });
      expect(top.estimated.methods).toEqual(['web server access log: body bytes sent + HTTP headers, TLS records and TCP framing']);
      // Bound: the estimate models one ACK per two segments, the generator (and many stacks) sends one per segment: about 2% low.
      const r = rel(bytes(top), bytes(truth));
      expect(r).toBeGreaterThanOrEqual(-0.05);
      expect(r).toBeLessThanOrEqual(0.05);
      expectNoLoopbackCounted(inv);
    }, 180_000);
  }

  it('a webmail login from before the window still names the account', async () => {
    // maria logged in at 08:02; the window starts at 08:30.
    const { inv } = await run({ ...inc, from: inc.from + 30 * 60_000 }, 'capture');
    expect(inv.suspects[0]).toMatchObject({ account: 'maria@example.com', service: 'webmail', finding: 'webmail-refetch', confidence: 'exact' });
  }, 180_000);
});
