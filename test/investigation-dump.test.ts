/**
 * Dumps the investigation JSON of every end-to-end incident (the ones test/incidents.test.ts
 * runs, and `investigate --demo`) to the file named by DUMP_INVESTIGATIONS, with temporary
 * paths replaced by `<dir>`. Run it on two commits and compare the files to show that a
 * refactoring changed no investigation byte; skipped without the variable.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { INCIDENTS, type Incident } from '../src/demo/incidents.js';
import { eximSpamRelay } from '../src/demo/exim.js';
import { SERVER } from '../src/demo/scenario.js';
import { webmailRefetch } from '../src/demo/webmail.js';
import { wireguardHeavy } from '../src/demo/wireguard.js';
import { runCli, tempDir } from './helpers/cli.js';

const OUT = process.env.DUMP_INVESTIGATIONS;

async function dump(inc: Incident, extra: string[] = []): Promise<string> {
  const { dir, cleanup } = tempDir('bytetrail-dump-');
  try {
    const { files } = inc.writer.write(join(dir, 'logs'), { capture: !inc.listings, listings: inc.listings });
    const db = join(dir, 'bt.db');
    const ing = await runCli(['ingest', '--db', db, ...extra, ...files]);
    expect(ing.error?.message).toBeUndefined();
    const r = await runCli(['investigate', '--db', db, '--no-ingest', '--json', '--since', new Date(inc.from).toISOString(), '--until', new Date(inc.to).toISOString()]);
    expect(r.error?.message).toBeUndefined();
    return r.stdout.split(dir).join('<dir>');
  } finally {
    cleanup();
  }
}

describe.skipIf(!OUT)('investigation dump', () => {
  it('writes every incident investigation', async () => {
    const out: Record<string, string> = {};
    out.imapResync = await dump(INCIDENTS.imapResync());
    out.spamRelay = await dump(INCIDENTS.spamRelay());
    out.vpnHeavy = await dump(INCIDENTS.vpnHeavy());
    out.dnsAmplification = await dump(INCIDENTS.dnsAmplification());
    out.scanAndBruteforce = await dump(INCIDENTS.scanAndBruteforce());
    out.sharedIp = await dump(INCIDENTS.sharedIp());
    out.imapResyncLocal = await dump(INCIDENTS.imapResync(31), ['--local', SERVER]);
    out.vpnConntrackTs = await dump(INCIDENTS.vpnHeavyConntrack(13, { timestamps: true }));
    out.vpnConntrackNoTs = await dump(INCIDENTS.vpnHeavyConntrack(13, { timestamps: false }));
    // The sources added through the registry (issue 10), each with its own incident.
    out.eximSpamRelay = await dump(eximSpamRelay());
    out.wireguardHeavy = await dump(wireguardHeavy());
    out.webmailRefetch = await dump(webmailRefetch());
    const demo = await runCli(['investigate', '--demo', '--json']);
    expect(demo.error?.message).toBeUndefined();
    out.demo = demo.stdout.replace(/\/tmp\/bytetrail-demo-[^/"]+/g, '<dir>');
    writeFileSync(OUT!, Object.entries(out).map(([k, v]) => `=== ${k}\n${v}`).join('\n'));
  }, 600_000);
});
