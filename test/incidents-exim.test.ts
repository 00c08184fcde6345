/**
 * Spam relay through an Exim SASL account: the same traffic as the Postfix incident (same
 * seed, byte-identical capture), with Exim's main log instead of Postfix's lines. bytetrail
 * must reach the same answer through the same identity facts: the same account, service,
 * finding, confidence and bytes.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Investigation } from '../src/correlate/types.js';
import { eximSpamRelay } from '../src/demo/exim.js';
import { INCIDENTS, type Incident } from '../src/demo/incidents.js';
import type { IngestSummary } from '../src/ingest/index.js';
import { runCli, tempDir } from './helpers/cli.js';

const dirs: Array<() => void> = [];
afterAll(() => { for (const d of dirs) d(); });

async function investigate(inc: Incident): Promise<{ inv: Investigation; ingest: IngestSummary }> {
  const { dir, cleanup } = tempDir('bytetrail-exim-');
  dirs.push(cleanup);
  const { files } = inc.writer.write(join(dir, 'logs'));
  const db = join(dir, 'bt.db');
  const ing = await runCli<IngestSummary>(['ingest', '--db', db, ...files]);
  expect(ing.error?.message).toBeUndefined();
  const r = await runCli<Investigation>(['investigate', '--db', db, '--no-ingest', '--json', '--since', new Date(inc.from).toISOString(), '--until', new Date(inc.to).toISOString()]);
  expect(r.error?.message).toBeUndefined();
  return { inv: JSON.parse(r.stdout) as Investigation, ingest: ing.result! };
}

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
