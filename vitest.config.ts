import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    // Deterministic: the zone is pinned; parsers get it as an input anyway.
    env: { TZ: 'UTC', BYTETRAIL_NO_PROGRESS: '1' },
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Namespace tests share the kernel's network state: run files one at a time.
    fileParallelism: false,
    // oclif prints through console.log; let @oclif/test's runCommand capture it.
    disableConsoleIntercept: true,
  },
});
