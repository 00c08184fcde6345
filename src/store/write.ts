/**
 * The write side of the store (issue 11), as Prometheus's Appendable is to its Queryable: what
 * ingest, capture and watch append with. The SQLite Store is the only implementation; the fleet
 * is written by shipping a SQLite file (src/store/clickhouse/ship.ts), not through this.
 * Bulk-write settings are a method (tuneForBulkWrites), so nothing above src/store sets pragmas.
 */
import type { Store } from './index.js';

export type WriteStore = Pick<Store,
  | 'path' | 'isOpen' | 'close' | 'withWriteLock' | 'tuneForBulkWrites'
  | 'filesByFingerprint' | 'latestFileAt' | 'fileById' | 'smallFingerprintLengths' | 'createFile' | 'touchFile'
  | 'commitBatch' | 'commitSnapshot' | 'snapshotSeen' | 'getState' | 'addFlows' | 'addLoss' | 'setLoss'>;
