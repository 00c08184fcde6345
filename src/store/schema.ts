/**
 * Numbered migrations. Each runs once, inside a transaction, and is recorded in
 * `schema_migrations`. Never edit a released migration: add a new one.
 */
export const MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'files, events, aggregates, flows',
    sql: `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

-- One row per content stream read (a log file and its rotated/gzipped copies share a row).
CREATE TABLE files (
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL,
  dev INTEGER, ino INTEGER,
  fp_hash TEXT NOT NULL,          -- sha1 of the first fp_len bytes of the (decompressed) content
  fp_len INTEGER NOT NULL,
  kind TEXT NOT NULL,             -- log | pcap | openvpn-status | conntrack | vnstat
  offset INTEGER NOT NULL DEFAULT 0,   -- content bytes consumed, always at a record boundary
  tail_hash TEXT,                 -- sha1 of the 64 bytes before offset: proves a resume point
  lines INTEGER NOT NULL DEFAULT 0,
  size INTEGER, mtime INTEGER,
  first_read INTEGER NOT NULL, last_read INTEGER NOT NULL
);
CREATE INDEX files_fp ON files (fp_hash, fp_len);
CREATE INDEX files_inode ON files (dev, ino);
-- Fingerprint lengths in use below the full length (small files), so a grown file is found.
CREATE TABLE fp_lengths (kind TEXT NOT NULL, fp_len INTEGER NOT NULL, PRIMARY KEY (kind, fp_len)) WITHOUT ROWID;

CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,            -- UTC ms
  source TEXT NOT NULL, host TEXT, program TEXT, kind TEXT NOT NULL,
  account TEXT, rip TEXT, rport INTEGER, lip TEXT, lport INTEGER, session TEXT,
  bytes_in INTEGER, bytes_out INTEGER,   -- server's point of view
  file_id INTEGER, line INTEGER,         -- evidence: where the line came from
  attrs TEXT,                            -- JSON object of source-specific fields
  raw TEXT
);
CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_rip_ts ON events (rip, ts);
CREATE INDEX events_account_ts ON events (account, ts);
-- Identity-making events (logins and logouts, VPN connects, leases and disconnects, SASL
-- logins), looked up far
-- before a window because sessions (IMAP IDLE, VPN) outlive it.
CREATE INDEX events_identity_ts ON events (ts) WHERE kind IN ('login', 'logout', 'disconnect', 'connect', 'lease', 'learn', 'sasl-login');

-- High-volume, low-value kinds (per-packet drops, per-query DNS lines) as per-minute
-- aggregates per source IP, port and detail (protocol or query type), with one sample line.
CREATE TABLE event_agg (
  minute INTEGER NOT NULL, source TEXT NOT NULL, kind TEXT NOT NULL,
  rip TEXT NOT NULL, lport INTEGER NOT NULL, detail TEXT NOT NULL,
  count INTEGER NOT NULL, bytes INTEGER NOT NULL,
  first_ts INTEGER NOT NULL, last_ts INTEGER NOT NULL,
  lip TEXT, sample_file_id INTEGER, sample_line INTEGER, sample_raw TEXT,
  PRIMARY KEY (minute, source, kind, rip, lport, detail)
) WITHOUT ROWID;
CREATE INDEX event_agg_rip ON event_agg (rip, minute);

-- Per file and source: lines parsed, deliberately skipped, and not understood.
CREATE TABLE file_stats (
  file_id INTEGER NOT NULL, source TEXT NOT NULL,
  events INTEGER NOT NULL DEFAULT 0, skipped INTEGER NOT NULL DEFAULT 0, unparsed INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (file_id, source)
) WITHOUT ROWID;

-- Samples of lines that were not understood (a bounded number per file and source).
CREATE TABLE unparsed (
  id INTEGER PRIMARY KEY,
  file_id INTEGER NOT NULL, line INTEGER NOT NULL, source TEXT NOT NULL, reason TEXT NOT NULL, text TEXT NOT NULL
);
CREATE INDEX unparsed_file ON unparsed (file_id, source);

-- Byte counts per minute and 5-tuple-ish key, from the server's point of view.
CREATE TABLE flows (
  source TEXT NOT NULL,          -- pcap | capture | conntrack | openvpn-status
  minute INTEGER NOT NULL, iface TEXT NOT NULL, proto INTEGER NOT NULL,
  lip TEXT NOT NULL, lport INTEGER NOT NULL, rip TEXT NOT NULL, rport INTEGER NOT NULL,
  service TEXT NOT NULL,
  bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL,
  packets_in INTEGER NOT NULL, packets_out INTEGER NOT NULL,
  PRIMARY KEY (source, minute, iface, proto, lip, lport, rip, rport)
) WITHOUT ROWID;
CREATE INDEX flows_minute ON flows (minute);
CREATE INDEX flows_rip ON flows (rip, minute);

-- OpenVPN address leases: which account held which real and virtual address, and when.
CREATE TABLE vpn_leases (
  account TEXT NOT NULL, real_ip TEXT NOT NULL, real_port INTEGER NOT NULL, vip TEXT NOT NULL,
  first_ts INTEGER NOT NULL, last_ts INTEGER NOT NULL, source TEXT NOT NULL,
  PRIMARY KEY (account, real_ip, real_port, vip, first_ts)
) WITHOUT ROWID;
CREATE INDEX vpn_leases_vip ON vpn_leases (vip, first_ts);
CREATE INDEX vpn_leases_real ON vpn_leases (real_ip, first_ts);

-- Interface totals (vnstat): what an investigation must explain.
CREATE TABLE iface_totals (
  iface TEXT NOT NULL, granularity TEXT NOT NULL, start INTEGER NOT NULL,
  rx INTEGER NOT NULL, tx INTEGER NOT NULL,
  PRIMARY KEY (iface, granularity, start)
) WITHOUT ROWID;

-- Snapshots already read (status files, conntrack dumps, vnstat exports), by content hash.
CREATE TABLE snapshots (
  kind TEXT NOT NULL, content_hash TEXT NOT NULL, path TEXT NOT NULL, ts INTEGER NOT NULL,
  PRIMARY KEY (kind, content_hash)
) WITHOUT ROWID;

-- Opaque state of counter-delta engines (conntrack, OpenVPN status), by key.
CREATE TABLE counter_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`,
  },
  {
    version: 2,
    name: 'watch: followed paths, state, alerts, hourly roll-ups',
    sql: `
-- What \`watch\` follows: one row per followed name, the stream (files row) it is on now.
CREATE TABLE watch_paths (
  path TEXT PRIMARY KEY,
  file_id INTEGER,                -- files.id of the content at this name, once read
  kind TEXT,                      -- log | pcap | openvpn-status | conntrack | vnstat
  state TEXT NOT NULL,            -- following | waiting | unreadable
  message TEXT,                   -- why it is waiting, in one line
  size INTEGER,                   -- size when last looked at
  last_read_at INTEGER,           -- UTC ms of the last read
  last_line_at INTEGER,           -- UTC ms when the last new line (or record) was stored
  updated_at INTEGER NOT NULL
);

-- Small named values of the running watch: pid, heartbeat, open incident, retention marks.
CREATE TABLE watch_state (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL);

-- Every alert emitted (alert, reminder, resolved), as the JSON that was sent.
CREATE TABLE alerts (
  id INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,            -- UTC ms when it was emitted
  incident TEXT NOT NULL,
  type TEXT NOT NULL,             -- alert | reminder | resolved
  summary TEXT NOT NULL,
  json TEXT NOT NULL
);
CREATE INDEX alerts_ts ON alerts (ts);

-- Traffic per hour, interface and flow source ('log-counters' for the logs' own counters),
-- rolled up before raw rows are pruned (--keep) and kept a year: the long baseline.
CREATE TABLE traffic_hourly (
  hour INTEGER NOT NULL, source TEXT NOT NULL, iface TEXT NOT NULL,
  bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL,
  PRIMARY KEY (hour, source, iface)
) WITHOUT ROWID;

-- Events per hour, source, kind and account (aggregated lines included), kept a year.
CREATE TABLE events_hourly (
  hour INTEGER NOT NULL, source TEXT NOT NULL, kind TEXT NOT NULL, account TEXT NOT NULL,
  count INTEGER NOT NULL, bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL,
  PRIMARY KEY (hour, source, kind, account)
) WITHOUT ROWID;

-- Events that carry byte counters (Dovecot logouts): the traffic signal when there are no flows.
CREATE INDEX events_counters_ts ON events (ts) WHERE bytes_in IS NOT NULL OR bytes_out IS NOT NULL;
`,
  },
  {
    version: 3,
    name: 'events: address and account indexes only over rows that have one',
    sql: `
-- Lookups by address (rip = ?) and by account (account = ?) never want the rows without one
-- (about a quarter and two thirds of event rows on a mail server), and SQLite uses a partial
-- index for any comparison on its column. Fewer index entries make ingest faster.
DROP INDEX events_rip_ts;
CREATE INDEX events_rip_ts ON events (rip, ts) WHERE rip IS NOT NULL;
DROP INDEX events_account_ts;
CREATE INDEX events_account_ts ON events (account, ts) WHERE account IS NOT NULL;
`,
  },
  {
    version: 4,
    name: 'events: an index of OpenVPN identity events alone',
    sql: `
-- investigate looks 7 days back for VPN connects and leases (VPN sessions last days). Through
-- events_identity_ts that meant reading every mail login of those days to keep the few VPN
-- rows; this index holds only them. Its WHERE matches identityEvents' VPN query term for term.
CREATE INDEX events_vpn_identity_ts ON events (ts)
  WHERE kind IN ('login', 'logout', 'disconnect', 'connect', 'lease', 'learn', 'sasl-login') AND source = 'openvpn';
`,
  },
  {
    version: 5,
    name: 'what was lost: original bytes of unparsed lines, every miss counted by reason, losses',
    sql: `
-- The bytes of an unparsed sample as the file held them, when they are not UTF-8 (text then
-- holds a copy with U+FFFD in place of each bad sequence).
ALTER TABLE unparsed ADD COLUMN raw BLOB;

-- Every line not understood, counted per file, source and reason (numbers in a reason written
-- as N), beyond the samples kept in unparsed.
CREATE TABLE unparsed_reasons (
  file_id INTEGER NOT NULL, source TEXT NOT NULL, reason TEXT NOT NULL, count INTEGER NOT NULL,
  PRIMARY KEY (file_id, source, reason)
) WITHOUT ROWID;

-- What could not be read as it was, per path and reason: lines with bytes that are not UTF-8,
-- binary files skipped. The status command shows the totals.
CREATE TABLE losses (
  path TEXT NOT NULL, reason TEXT NOT NULL,
  lines INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0, last_at INTEGER NOT NULL,
  PRIMARY KEY (path, reason)
) WITHOUT ROWID;
`,
  },
  {
    version: 6,
    name: 'ship: the outbox for a central ClickHouse store',
    sql: `
-- Per shipped table, the local id (events, alerts) or change number (the ship_log_* tables) up
-- to which ClickHouse has acknowledged rows. It advances only after the acknowledgement, so a
-- crash resends a batch, which the central ReplacingMergeTree tables merge away.
CREATE TABLE ship_state (
  tbl TEXT PRIMARY KEY,
  high_water INTEGER NOT NULL,
  rows INTEGER NOT NULL DEFAULT 0,      -- rows acknowledged so far
  updated_at INTEGER NOT NULL
);

-- Changes to rows that are updated in place (counts added), one row per insert or update, with
-- what it added: filled by triggers that the first \`ship\` creates (see src/store/outbox.ts), so
-- that a database that never ships pays nothing. AUTOINCREMENT: a change number is never reused
-- once the log has been emptied, or a change could fall below the high-water mark.
CREATE TABLE ship_log_flows (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  source TEXT NOT NULL, minute INTEGER NOT NULL, iface TEXT NOT NULL, proto INTEGER NOT NULL,
  lip TEXT NOT NULL, lport INTEGER NOT NULL, rip TEXT NOT NULL, rport INTEGER NOT NULL,
  add_bytes_in INTEGER NOT NULL, add_bytes_out INTEGER NOT NULL, add_packets_in INTEGER NOT NULL, add_packets_out INTEGER NOT NULL
);
CREATE TABLE ship_log_event_agg (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  minute INTEGER NOT NULL, source TEXT NOT NULL, kind TEXT NOT NULL, rip TEXT NOT NULL, lport INTEGER NOT NULL, detail TEXT NOT NULL,
  add_count INTEGER NOT NULL, add_bytes INTEGER NOT NULL
);
CREATE TABLE ship_log_vpn_leases (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  account TEXT NOT NULL, real_ip TEXT NOT NULL, real_port INTEGER NOT NULL, vip TEXT NOT NULL, first_ts INTEGER NOT NULL
);
CREATE TABLE ship_log_iface_totals (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  iface TEXT NOT NULL, granularity TEXT NOT NULL, start INTEGER NOT NULL
);
`,
  },
  {
    version: 7,
    name: 'conntrack_open: connections of a listing whose start is unknown',
    sql: `
-- A conntrack listing without kernel timestamps gives each open connection's counters since it
-- began, but not when that was. The first listing of a source used to be a baseline that counted
-- nothing; its entries are kept here, so that investigate can date each one by the session it
-- carried (a Dovecot login, an OpenVPN connect) and count what falls in the window.
CREATE TABLE conntrack_open (
  listing_ts INTEGER NOT NULL, proto INTEGER NOT NULL,
  lip TEXT NOT NULL, lport INTEGER NOT NULL, rip TEXT NOT NULL, rport INTEGER NOT NULL,
  service TEXT NOT NULL,
  bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL, packets_in INTEGER NOT NULL, packets_out INTEGER NOT NULL,
  PRIMARY KEY (listing_ts, proto, lip, lport, rip, rport)
) WITHOUT ROWID;
`,
  },
  {
    version: 8,
    name: 'ingest speed: drop the indexes of aggregates and flows that a primary key can stand in for',
    sql: `
-- No statement filters event_agg or flows by address: every reader goes by minute (event_agg's
-- primary key starts with it) or by source and minute (flows' primary key). The two indexes
-- cost a fifth of the writing thread's CPU on a busy day's logs and a third of a capture's
-- database (docs/performance.md).
DROP INDEX IF EXISTS event_agg_rip;
DROP INDEX IF EXISTS flows_rip;
-- flows by minute alone served only watch's roll-up, prune and extent queries; they now walk
-- the primary key source by source (src/store/watch.ts). Another third of a capture's database.
DROP INDEX IF EXISTS flows_minute;
`,
  },
  {
    version: 9,
    name: 'usage: hourly roll-ups per account and service, and which hours changed since',
    sql: `
-- One row per closed hour that \`usage\` or \`watch\` has rolled up from investigate's attribution
-- of [hour, hour + 1h): the usage.gen it was computed in (see usage_dirty), the flow source and the
-- evidence's totals (the share's basis without vnstat), and a fingerprint of its inputs (counts and
-- max ids of the rows with ts in that hour) as a record of what it was computed from. Kept a year,
-- after the raw rows are pruned.
CREATE TABLE usage_hours (
  hour INTEGER PRIMARY KEY,
  gen INTEGER NOT NULL,
  computed_at INTEGER NOT NULL,
  flow_source TEXT NOT NULL,
  bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL,
  fingerprint TEXT NOT NULL
);

-- Bytes per hour, account and service group; traffic no account explains has account '' and its
-- reason (dns, web, scan, unknown...). How the bytes are known, in + out: measured on the wire and
-- split by confidence (exact, shared-ip, ip-only), the logs' own counters, estimates.
CREATE TABLE usage_hourly (
  hour INTEGER NOT NULL, account TEXT NOT NULL, service TEXT NOT NULL, reason TEXT NOT NULL,
  bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL,
  exact INTEGER NOT NULL, shared_ip INTEGER NOT NULL, ip_only INTEGER NOT NULL,
  log_counters INTEGER NOT NULL, estimated INTEGER NOT NULL,
  PRIMARY KEY (hour, account, service, reason)
) WITHOUT ROWID;
CREATE INDEX usage_hourly_account ON usage_hourly (account, hour);

-- The interface totals (vnstat) of each rolled-up hour: what the shares are of.
CREATE TABLE usage_iface (
  hour INTEGER NOT NULL, iface TEXT NOT NULL, rx INTEGER NOT NULL, tx INTEGER NOT NULL,
  PRIMARY KEY (hour, iface)
) WITHOUT ROWID;

-- Quota alerts sent by \`watch --quota\`: once per account, period (its start) and quota, across restarts.
CREATE TABLE usage_quota_alerts (
  period INTEGER NOT NULL, account TEXT NOT NULL, quota INTEGER NOT NULL, bytes INTEGER NOT NULL, alerted_at INTEGER NOT NULL,
  PRIMARY KEY (period, account, quota)
) WITHOUT ROWID;

-- Hours [lo, hi] whose inputs changed, with the usage.gen (meta) current when they did: an hour
-- rolled up in an older generation is computed again. Rows updated in place (flows and aggregates
-- add counts, leases stretch, interface totals grow) are marked by the triggers below; events are
-- append-only and marked from their ids at the next roll-up (usage.events_id), so that ingest's
-- hottest insert pays nothing. A conntrack listing dates connections up to a day back, a lease
-- spans its hours.
CREATE TABLE usage_dirty (
  lo INTEGER NOT NULL, hi INTEGER NOT NULL, gen INTEGER NOT NULL,
  PRIMARY KEY (lo, hi)
) WITHOUT ROWID;
${['INSERT', 'UPDATE'].flatMap((op) => [
    ['flows', 'NEW.minute', 'NEW.minute'], ['event_agg', 'NEW.minute', 'NEW.minute'], ['iface_totals', 'NEW.start', 'NEW.start'],
    ['vpn_leases', 'NEW.first_ts', 'NEW.last_ts'], ['conntrack_open', 'NEW.listing_ts - 86400000', 'NEW.listing_ts'],
  ].map(([table, lo, hi]) => `CREATE TRIGGER usage_dirty_${table}_${op.toLowerCase()} AFTER ${op} ON ${table} BEGIN
  INSERT INTO usage_dirty (lo, hi, gen) VALUES ((${lo}) - (${lo}) % 3600000, (${hi}) - (${hi}) % 3600000,
    coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'usage.gen'), 0))
  ON CONFLICT (lo, hi) DO UPDATE SET gen = excluded.gen;
END;`)).join('\n')}
`,
  },
  {
    version: 10,
    name: 'events: identity events by source and time, for every source whose sessions last days',
    sql: `
-- investigate looks 7 days back for the identity events of the sources whose sessions last days
-- (the VPNs, as the sources declare them). Migration 4's index holds OpenVPN's alone: a second
-- such source would have read every mail login of the week. This index holds the identity
-- events by source, and the query seeks each long-session source in it. Its WHERE matches the
-- query's kind term for term.
CREATE INDEX events_identity_source_ts ON events (source, ts)
  WHERE kind IN ('login', 'logout', 'disconnect', 'connect', 'lease', 'learn', 'sasl-login');
DROP INDEX IF EXISTS events_vpn_identity_ts;
`,
  },
  {
    version: 11,
    name: 'ingest speed: flows mark their hours dirty once per batch, not per row',
    sql: `
-- Migration 9's row triggers on flows ran once per flow record: 13% of a busy day's capture
-- ingest CPU (506,749 records into 47 hours; docs/performance.md). Every write to flows goes
-- through one function of the store (src/store/index.ts writeFlows), which now marks each hour
-- a batch touches once, with the same statement the triggers ran. The other tables keep theirs.
DROP TRIGGER IF EXISTS usage_dirty_flows_insert;
DROP TRIGGER IF EXISTS usage_dirty_flows_update;
`,
  },
  {
    version: 12,
    name: 'evidence by reference: where a stored line is in its file, instead of its text',
    sql: `
-- A line read from a file that can be read again is stored as its byte offset and length in the
-- file's (decompressed) content and a 32-bit check of its text (src/store/evidence-check.ts),
-- with raw (sample_raw) NULL: the raw text was half of a busy day's database. Readers get the
-- text read back from the file, or from its rotated or compressed successor found by the files
-- row's fingerprint (src/store/evidence.ts). Lines from stdin and pipes keep their text, and so
-- do the rows stored before this migration.
ALTER TABLE events ADD COLUMN raw_off INTEGER;
ALTER TABLE events ADD COLUMN raw_len INTEGER;
ALTER TABLE events ADD COLUMN raw_check INTEGER;
ALTER TABLE event_agg ADD COLUMN sample_off INTEGER;
ALTER TABLE event_agg ADD COLUMN sample_len INTEGER;
ALTER TABLE event_agg ADD COLUMN sample_check INTEGER;
`,
  },
  {
    version: 13,
    name: 'events: attributes as a shape id and a value list (attr_shapes)',
    sql: `
-- An event's attrs were a JSON object with its keys in every row (55 MB of a busy day's 347 MB).
-- Each distinct key list (shape) is now stored once here, and a new row's attrs hold
-- [shape id, value, value, ...] (src/store/attrs.ts). Rows written before keep their JSON
-- object and read back as before; nothing is rewritten. Ids are assigned by the writer inside
-- its batch's transaction, and are never reused: shapes are not deleted with their rows.
CREATE TABLE attr_shapes (id INTEGER PRIMARY KEY, keys TEXT NOT NULL UNIQUE);
`,
  },
];
