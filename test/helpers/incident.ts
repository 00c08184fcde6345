/** Write an incident's files, ingest them and investigate its window through the CLI (the built dist/). */
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Investigation } from '../../src/correlate/types.js';
import type { Incident } from '../../src/demo/incidents.js';
import type { EvidenceMode } from '../../src/demo/scenario.js';
import type { IngestSummary } from '../../src/ingest/index.js';
import { runCli, tempDir } from './cli.js';

/** `mode`: write that evidence mode's files (with vnstat's export) instead of the logs and the capture. */
export async function investigateIncident(inc: Incident, cleanups: Array<() => void>, mode?: EvidenceMode): Promise<{ inv: Investigation; ingest: IngestSummary }> {
  const { dir, cleanup } = tempDir('bytetrail-incident-');
  cleanups.push(cleanup);
  const { files } = mode ? inc.writer.writeMode(join(dir, 'logs'), mode, inc.from, inc.to) : inc.writer.write(join(dir, 'logs'));
  const db = join(dir, 'bt.db');
  const ing = await runCli<IngestSummary>(['ingest', '--db', db, ...files]);
  expect(ing.error?.message).toBeUndefined();
  const r = await runCli<Investigation>(['investigate', '--db', db, '--no-ingest', '--json', '--since', new Date(inc.from).toISOString(), '--until', new Date(inc.to).toISOString()]);
  expect(r.error?.message).toBeUndefined();
  return { inv: JSON.parse(r.stdout) as Investigation, ingest: ing.result! };
}
