import { defineConfig, type ViteUserConfig } from 'vitest/config';

// Timeouts are set for a loaded 2-core machine, from durations measured there (`npm test` with two CPU-bound
// loops besides the run, load average 13 to 15 with other work on the machine; CI sees 4 to 5):
// - unit: pure logic and in-memory SQLite. The slowest test took 2.9 s (a tsx child process compiling
//   decorators, which sets its own 30 s); every other one under 0.6 s. 20 s leaves 7x.
// - embedded: PGlite and better-sqlite3 files, no server. PGlite alone takes 6.7 to 9.4 s to start at load
//   4 to 5, beyond vitest's default 5 s test and 10 s hook timeouts, and up to 52 s per test at load 15
//   (test/integration/sessions/pglite-session.test.ts starts one per test).
// - integration: real servers (and the docs test, which compiles and runs the README against them),
//   started once by the global setup; its PGlite contract tests are as slow as the embedded ones.
// 120 s per test and 240 s per hook leave 2x over the worst seen at load 15, and more at CI's load.
const config: ViteUserConfig = defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 20_000,
          hookTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'embedded',
          include: ['test/embedded/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 240_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/docs/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 240_000,
        },
      },
    ],
  },
});

export default config;
