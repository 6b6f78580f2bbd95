/** `generate-dockerfile --base-image host` through the built CLI: refused, as it needs a daemon. */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IRIS, requireBuiltCli, runCli } from '../fixtures/cli.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const temp = tempDirs('mg-hostbase-cli-');
afterAll(() => temp.removeAll());

describe('generate-dockerfile --base-image host', () => {
  it('is refused: it needs a daemon to load the base into', async () => {
    requireBuiltCli();
    const r = await runCli(['generate-dockerfile', '-m', IRIS, '-d', join(await temp.make(), 'ctx'), '--base-image', 'host']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--base-image host loads a base into a Docker daemon.*build-image/);
  });
});
