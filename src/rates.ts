/**
 * Rate units as tc spells them: the "bit" units are bits per second, the "bps" units are
 * BYTES per second (250kbps is 2mbit). Shared by throttle (--rate) and watch (--alert-above).
 */
export const RATE_UNITS: Readonly<Record<string, number>> = {
  bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9, tbit: 1e12,
  bps: 8, kbps: 8e3, mbps: 8e6, gbps: 8e9, tbps: 8e12,
};
