/**
 * Ingest handlers for non-log inputs. A capture is aggregated whole and committed in one
 * transaction with its flows; the time of its last packet is kept, so a capture that has grown
 * since (tcpdump still writing) adds only newer packets, and the same capture read again adds
 * nothing.
 */
import type { IngestOptions, KindHandler } from '../ingest/index.js';
import { FlowAggregator } from './aggregate.js';
import { readCapture, type CaptureSink } from './pcap.js';

const pcapHandler: KindHandler = async (store, content, file, _startOffset, opts) => {
  const stateKey = `pcap-last:${file.id}`;
  const last = Number(store.getState(stateKey) ?? '-1');
  const agg = new FlowAggregator({ localIps: opts.localIps, servicePorts: opts.servicePorts });
  let newest = last;
  let skipped = 0;
  // Only packets after the last one already stored pass to the aggregator.
  const sink: CaptureSink = {
    iface: (d) => agg.iface(d),
    packet(handle, linkType, tsSec, tsNsec, buf, off, capLen, origLen) {
      const t = tsSec * 1000 + tsNsec / 1e6;
      if (t <= last) { skipped++; return; }
      if (t > newest) newest = t;
      agg.packet(handle, linkType, tsSec, tsNsec, buf, off, capLen, origLen);
    },
  };
  let bytesRead = 0;
  async function* counted() {
    for await (const c of content.from(0)) { bytesRead += c.length; yield c; }
  }
  const read = await readCapture(counted(), sink);
  const flows = agg.finish();
  const summary = agg.summary();
  const ok = store.commitBatch({
    fileId: file.id, expectOffset: file.offset, newOffset: bytesRead, newLines: file.lines, tailHash: null,
    events: [], aggs: [], stats: [], unparsed: [],
    flows: { source: 'pcap', records: flows },
    counterState: [{ key: stateKey, value: String(newest) }],
  });
  const warnings = [...read.warnings, ...summary.warnings];
  if (!ok) warnings.push('another bytetrail process stored this capture first; nothing added');
  if (skipped && flows.length === 0) { /* the same capture again: nothing new */ }
  return { records: ok ? flows.length : 0, bytesRead, newOffset: bytesRead, warnings, label: 'flow records (pcap)' };
};

export function flowHandlers(): NonNullable<IngestOptions['handlers']> {
  return { pcap: pcapHandler };
}
