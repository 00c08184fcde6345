/**
 * The parse worker: runs the LinePipeline for one stream at a time and posts its batches back
 * to the main thread, which writes them. See parse-session.ts.
 */
import { parentPort } from 'node:worker_threads';
import { forTransfer } from '../store/index.js';
import { LinePipeline, type ParsedBatch, TailWindow } from './lines.js';
import type { FromWorker, ToWorker } from './parse-session.js';

interface Stream { id: number; pipe: LinePipeline; batchLines: number }

const port = parentPort;
if (!port) throw new Error('parse-worker.js runs as a worker thread');

let cur: Stream | null = null;

function post(m: FromWorker): void {
  port!.postMessage(m);
}

/** A batch, its rows packed (see PackedRows): the strings' bytes and the typed arrays are transferred, not copied. */
function postBatch(id: number, batch: ParsedBatch): void {
  batch.eventsPacked = batch.eventsPacked.map(forTransfer);
  batch.aggsPacked = batch.aggsPacked.map(forTransfer);
  const buffers = [...batch.eventsPacked, ...batch.aggsPacked].flatMap((p) => [p.utf8?.buffer, p.lens.buffer, p.nums.buffer, p.numNull.buffer].filter((b) => b !== undefined) as ArrayBuffer[]);
  port!.postMessage({ type: 'batch', id, batch } satisfies FromWorker, buffers);
}

port.on('message', (m: ToWorker) => {
  try {
    if (m.type === 'start') {
      const pipe = new LinePipeline(m.ctx, m.startLine, {
        fileId: m.fileId, collectUnparsed: m.collectUnparsed, startOffset: m.startOffset, byRef: m.byRef, tail: new TailWindow(m.tailBytes, Buffer.from(m.tail)),
      });
      cur = { id: m.id, pipe, batchLines: m.batchLines };
      return;
    }
    if (!cur || cur.id !== m.id) return; // an aborted stream's leftovers
    if (m.type === 'chunk') {
      cur.pipe.push(Buffer.from(m.data));
      if (cur.pipe.due(cur.batchLines)) postBatch(cur.id, cur.pipe.takeWithTail());
      post({ type: 'ack', id: cur.id, bytes: m.data.byteLength });
    } else if (m.type === 'finish') {
      cur.pipe.finish(m.consumePartial);
      postBatch(cur.id, cur.pipe.takeWithTail());
      post({ type: 'done', id: cur.id });
      cur = null;
    } else if (m.type === 'abort') {
      cur = null;
    }
  } catch (err) {
    const e = err as Error;
    post({ type: 'error', id: m.id, message: e.message, stack: e.stack });
    cur = null;
  }
});
