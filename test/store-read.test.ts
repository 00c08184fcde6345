/**
 * The SQLite ReadStore (issue 11): the same answers as the Store it reads, under the read
 * interface's names, and the server it answers for.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flowHandlers } from '../src/flows/handlers.js';
import { ingestPaths } from '../src/ingest/index.js';
import { openStore, type Store } from '../src/store/index.js';
import { Outbox } from '../src/store/outbox.js';
import { openSqliteReadStore, SqliteReadStore } from '../src/store/sqlite-read.js';
import { tempDir } from './helpers/cli.js';

const T = (s: string) => Date.parse(s);

describe('SqliteReadStore', () => {
  let dir: string, cleanup: () => void, store: Store;
  beforeEach(async () => {
    ({ dir, cleanup } = tempDir());
    store = openStore({ path: join(dir, 'bt.db') });
    const f = join(dir, 'mail.log');
    writeFileSync(f, [
      '2026-11-20T08:05:00+00:00 mx1 dovecot: imap-login: Login: user=<jan@example.com>, method=PLAIN, rip=198.51.100.23, lip=192.0.2.10, mpid=101, TLS, session=<aaaa>',
      '2026-11-20T08:35:00+00:00 mx1 dovecot: imap(jan@example.com)<101><aaaa>: Logged out in=1000 out=900000000 deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0',
      '2026-11-20T08:06:00+00:00 mx1 dovecot: imap-login: Login: user=<eva@example.com>, method=PLAIN, rip=198.51.100.23, lip=192.0.2.10, mpid=102, TLS, session=<bbbb>',
    ].join('\n') + '\n');
    await ingestPaths(store, [f], { tz: 'UTC', now: T('2026-11-21T00:00:00Z'), settleMs: 0, handlers: flowHandlers() });
  });
  afterEach(() => { store.close(); cleanup(); });

  it('answers as the Store does, under the domain names', async () => {
    const r = new SqliteReadStore(store);
    const from = T('2026-11-20T00:00:00Z'), to = T('2026-11-21T00:00:00Z');
    expect(r.backend).toBe('sqlite');
    // The Store's rows; lines stored by reference (migration 12) come without their text until quoted.
    const evs = await r.eventsInRange(from, to);
    expect(evs).toEqual(store.eventsInRange(from, to));
    expect(evs.every((e) => e.raw === null)).toBe(true);
    await r.quote(evs, []);
    expect(evs).toEqual(await store.resolveEvents(store.eventsInRange(from, to)));
    expect(evs.every((e) => e.raw?.includes(' dovecot: '))).toBe(true);
    expect(await r.identityEvents(from, to)).toEqual(store.identityEvents(from, to));
    expect(await r.longSessionEvents(from, to)).toEqual(store.vpnIdentityEvents(from, to));
    // eva's session never ended: her login is the open one on the address.
    expect((await r.openLoginBefore('198.51.100.23', to, from))?.account).toBe('eva@example.com');
    expect(await r.accountIps('jan@example.com', from, to)).toEqual(store.accountIps('jan@example.com', from, to));
    expect(await r.counts()).toEqual(store.counts());
    const rows = [];
    for await (const f of r.iterateFlows('pcap', from, to)) rows.push(f);
    expect(rows).toEqual([]);
    await r.close();
    // Not owned: the Store stays open.
    expect(store.counts().events).toBe(3);
  });

  it('answers for the server recorded on first ship, and refuses another --server', async () => {
    expect(await new SqliteReadStore(store).servers()).toEqual([]);
    expect(() => new SqliteReadStore(store, { servers: ['mx3'] })).toThrow(/no server name/);
    new Outbox(store).serverName('mx1', 'fallback');
    expect(await new SqliteReadStore(store).servers()).toEqual(['mx1']);
    expect(await new SqliteReadStore(store, { servers: ['mx1'] }).servers()).toEqual(['mx1']);
    expect(() => new SqliteReadStore(store, { servers: ['mx3'] })).toThrow(/data of server "mx1" only/);
  });

  it('opens a database read-only and closes it with itself', async () => {
    const r = openSqliteReadStore(join(dir, 'bt.db'));
    expect((await r.dataExtent()).first).toBe(T('2026-11-20T08:05:00Z'));
    await r.close();
    expect(() => openSqliteReadStore(join(dir, 'missing.db'))).toThrow(/no database/);
  });
});
