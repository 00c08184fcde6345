import { Args, Flags } from '@oclif/core';
import { BaseCommand, storeFlags, windowFlags } from '../base-command.js';
import { resolveWindow } from '../correlate/window.js';
import { mailSessionKeys, whoisIp } from '../correlate/whois.js';
import { openGeo } from '../geoip.js';
import { normalizeIp } from '../parsers/common.js';
import { type WhoisReport, renderWhoisText } from '../render/whois.js';
import { openReadStore } from '../store/open.js';
import { resolveZone } from '../zone.js';

export default class WhoisUser extends BaseCommand {
  static override summary = 'Every account seen on an IP address: logins, VPN connections and failed logins.';
  static override description = `Lists the accounts that logged in (IMAP, POP3, SASL, webmail), connected (VPN) or failed to log in from the address, with their services, first and last time, session counts, the byte counters the logs write at a session's end (named by their source), and the webmail downloads of the account logged in to the webmail from the address (the web server's access log). With a GeoIP database (.mmdb, from --geoip-db, /usr/share/GeoIP or /var/lib/GeoIP) the address's country and AS are shown too.`;

  static override examples = [
    '<%= config.bin %> whois-user 198.51.100.23',
    '<%= config.bin %> whois-user 2001:db8:a::51 --since 7d --json',
    '<%= config.bin %> whois-user 203.0.113.9 --since 2026-11-01 --until 2026-11-21 --geoip-db /srv/geoip/',
  ];

  static override args = { ip: Args.string({ required: true, description: 'IPv4 or IPv6 address (IPv4-mapped IPv6 is read as IPv4)' }) };

  static override flags = {
    ...windowFlags('30d'),
    ...storeFlags(),
    'geoip-db': Flags.string({ description: 'MaxMind-format .mmdb file, or a directory of them (default: /usr/share/GeoIP, /var/lib/GeoIP)' }),
  };

  async run(): Promise<WhoisReport> {
    const { args, flags } = await this.parse(WhoisUser);
    const ip = normalizeIp(args.ip.trim());
    if (!ip) {
      this.userError(`not an IP address: ${JSON.stringify(args.ip)}`, args.ip.includes('/') ? 'give one address, not a network' : 'e.g. 198.51.100.23 or 2001:db8::1');
    }
    const { from, to } = resolveWindow(flags.since, flags.until, Date.now(), '30d', resolveZone(flags.tz));
    const geo = await openGeo({ path: flags['geoip-db'] });
    const store = await openReadStore({ db: flags.db, store: flags.store, servers: flags.server });
    try {
      const events = await store.eventsForIp(ip, from, to);
      const keys = mailSessionKeys(events, ip);
      const ends = (await Promise.all(keys.sources.map((source) => store.eventsForSessions(source, keys)))).flat();
      const report: WhoisReport = {
        ...whoisIp([...events, ...ends], ip),
        window: { from: new Date(from).toISOString(), to: new Date(to).toISOString() },
        geo: geo ? { ...(geo.lookup(ip) ?? { country: null, countryName: null, asn: null, asOrg: null }), sources: geo.sources } : null,
      };
      if (!this.jsonEnabled()) this.log(renderWhoisText(report, process.stdout.columns || 120));
      return report;
    } finally {
      await store.close();
    }
  }
}
