import { defineConfig } from 'vitest/config';

/**
 * Three tiers, told apart by the file name (CONTRIBUTING.md):
 * - `unit` (`*.test.ts`): in this process, quick. No dist/ (no `npm run build` needed), no child
 *   processes started by the test, no fixed ports: servers in the test's own process listen on
 *   127.0.0.1 port 0. The product code under test may still run a tool (host-base runs ldd).
 *   Files share one module graph per worker (`isolate: false`: importing the sources again for
 *   each of 60 files was half the tier's CPU), so a test that needs a fresh process (which
 *   packages are loaded, TF.js's one engine) is an e2e test. `npm run test:fast`, under 30 s.
 * - `e2e` (`*.e2e.test.ts`): the built CLI (dist/) or another program as a child process, and the
 *   long whole-system runs (load while aliases move, batching under load, fuzzing) and the tests
 *   slow on purpose (slow clients, models slow to load or run, deadlines). Servers listen
 *   on port 0 and report the port they got. `npm run test:e2e` builds first.
 * - `docker` (`*.docker.test.ts`): a Docker engine (DOCKER_HOST); skipped with a warning without
 *   one, except under CI. `npm run test:docker`.
 * `npm test` runs all three. test/tiers.test.ts fails when a unit file starts processes or reads dist/.
 */
const E2E = 'test/**/*.e2e.test.ts';
const DOCKER = 'test/**/*.docker.test.ts';

export default defineConfig({
  test: {
    // Tests start real servers and processes on 127.0.0.1; give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: [E2E, DOCKER], isolate: false } },
      { extends: true, test: { name: 'e2e', include: [E2E] } },
      { extends: true, test: { name: 'docker', include: [DOCKER] } },
    ],
  },
});
