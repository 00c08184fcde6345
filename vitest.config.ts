import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['./test/helpers/sources-setup.ts'],
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    // Deterministic: the zone is pinned; parsers get it as an input anyway.
    env: { TZ: 'UTC', BYTETRAIL_NO_PROGRESS: '1' },
    pool: 'forks',
    // Bounds, not expectations: a test ends as soon as its conditions hold. They are set for a
    // 2-core CI machine running the suite beside other work, where a spawned bytetrail or tcpdump
    // can take tens of seconds to start; idle, the slowest test takes well under a minute.
    testTimeout: 180_000,
    hookTimeout: 300_000,
    // Namespace tests share the kernel's network state: run files one at a time.
    fileParallelism: false,
    // oclif prints through console.log; let @oclif/test's runCommand capture it.
    disableConsoleIntercept: true,
  },
});
