/** Ingest handlers for non-log inputs: captures and counter snapshots. */
import type { IngestOptions } from '../ingest/index.js';

export function flowHandlers(): NonNullable<IngestOptions['handlers']> {
  return {};
}
