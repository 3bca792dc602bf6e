import { defineConfig, type ViteUserConfig } from 'vitest/config';

// Timeouts are set for a loaded 2-core machine (two CPU-bound loops besides the run), measured there with
// `npx vitest run --project P --testTimeout 600000 --hookTimeout 600000 --reporter=json`:
// - unit: pure logic and in-memory SQLite. The slowest test took 3.9 s under load (a tsx child process
//   compiling decorators, which sets its own 30 s); every other one under 0.6 s. 20 s leaves 5x.
// - embedded: PGlite and better-sqlite3 files, no server. Starting PGlite alone took 6.7 to 9.4 s under
//   load, beyond vitest's default 5 s test and 10 s hook timeouts; 60 s and 120 s leave 6x and more.
// - integration: real servers (and the docs test, which runs the README against them), started once by
//   the global setup.
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
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/docs/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});

export default config;
