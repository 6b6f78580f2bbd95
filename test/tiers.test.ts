/**
 * The unit tier stays runnable without a build and without processes (vitest.config.ts): a test
 * that starts the CLI, any child process or reads dist/ belongs in a `*.e2e.test.ts` file, one
 * that needs a Docker engine in a `*.docker.test.ts` file. Checked on the test files themselves;
 * `npm run test:fast` with no dist/ checks the rest.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './fixtures/cli.js';

const TEST = join(ROOT, 'test');
const files = (readdirSync(TEST, { recursive: true }) as string[]).filter((f) => f.endsWith('.test.ts')).map((f) => join(TEST, f));
// This file names what it looks for, so it is not looked at.
const unit = files.filter((f) => !/\.(e2e|docker)\.test\.ts$/.test(f) && f !== join(TEST, 'tiers.test.ts'));

/** What only an e2e or docker test may use. */
const OUT_OF_PROCESS: [string, RegExp][] = [
  ['a child process', /from 'node:child_process'/],
  ['the CLI or a process helper', /\b(startCli|startCliServer|runCli|startProcess|requireBuiltCli|waitListening)\b/],
  ['the built dist/', /['/]dist['/]/],
  ['a Docker engine', /\b(dockerode|probeEngine|DOCKER_HOST)\b/],
];

describe('test tiers', () => {
  it('finds the unit tests', () => {
    expect(unit.length).toBeGreaterThan(30);
    expect(unit.length).toBeLessThan(files.length);
  });

  it.each(unit.map((f) => [relative(ROOT, f)]))('%s runs in process, without dist/', (file) => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const uses = OUT_OF_PROCESS.filter(([, re]) => re.test(text)).map(([what]) => what);
    expect(uses, `${file} uses ${uses.join(', ')}: name it *.e2e.test.ts (or *.docker.test.ts)`).toEqual([]);
  });
});
