/** Wrapping and shortening count terminal columns, not UTF-16 units: CJK and emoji take two. */
import { describe, expect, it } from 'vitest';
import { displayWidth, shortenLine, wrap } from '../../src/render/format.js';

describe('terminal width of wrapped and shortened text', () => {
  it('wraps CJK words by their display width', () => {
    const lines = wrap('用户 邮箱账户 流量 异常下载 重复同步', 12);
    for (const l of lines) expect(displayWidth(l)).toBeLessThanOrEqual(12);
    expect(lines.join(' ')).toBe('用户 邮箱账户 流量 异常下载 重复同步');
    // Counted in UTF-16 units, the first line would take all five words (23 units, 42 columns).
    expect(lines.length).toBeGreaterThan(2);
  });

  it('cuts a word wider than the line between characters, never inside an emoji', () => {
    const lines = wrap('📧📧📧📧📧📧📧📧', 6, '');
    expect(lines).toEqual(['📧📧📧', '📧📧📧', '📧📧']);
  });

  it('shortens a log line to the columns it has, keeping the key fields', () => {
    const s = 'imap-login: Login: 用户名很长很长很长很长很长很长很长很长很长 user=<李@example.com>, rip=198.51.100.23, lip=192.0.2.10';
    const out = shortenLine(s, 60);
    expect(displayWidth(out)).toBeLessThanOrEqual(60);
    expect(out).toContain('user=<李@example.com>');
  });
});
