/**
 * End to end with the built CLI: register MLflow's wine-logreg-sklearn directory and a census
 * pipeline in a file registry, serve them over real HTTP on 127.0.0.1, POST their serving input
 * examples and get MLflow's answers.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { killAll, requireBuiltCli, runCli, startCliServer, stop, waitReady } from '../fixtures/cli.js';
import { SKLEARN_FIXTURES, WINE_LOGREG, expectSame, parsePredictions, readExpected } from './helpers.js';

let work: string;
beforeAll(async () => {
  requireBuiltCli();
  work = await mkdtemp(join(tmpdir(), 'modelgate-sk-cli-'));
});
afterAll(async () => {
  killAll();
  await rm(work, { recursive: true, force: true });
});

it('registers and serves MLflow-written sklearn directories over HTTP with MLflow’s answers', async () => {
  const reg = join(work, 'reg');
  for (const [dir, name] of [
    [WINE_LOGREG, 'wine'],
    [join(SKLEARN_FIXTURES, 'census-logreg-sk19'), 'census'],
  ]) {
    const r = await runCli(['registry', 'register', dir, '--name', name, '--registry', reg]);
    expect(r, r.stderr).toMatchObject({ code: 0, stdout: '1\n' });
  }
  for (const [name, check] of [
    ['wine', async (text: string) => expect(text).toBe((await readFile(join(WINE_LOGREG, 'mlflow-response.json'), 'utf8')).trim())],
    [
      'census',
      async (text: string) => {
        // expected.json starts with the serving example's rows.
        const expected = await readExpected(join(SKLEARN_FIXTURES, 'census-logreg-sk19'));
        expectSame(parsePredictions(text), expected.predict.slice(0, 3));
      },
    ],
  ] as const) {
    const served = startCliServer(['serve', '-m', `models:/${name}/1`, '--registry', reg, '-p', '0', '--log-level', 'info'], {
      cwd: work,
    });
    try {
      await waitReady(served);
      const body = await readFile(
        join(name === 'wine' ? WINE_LOGREG : join(SKLEARN_FIXTURES, 'census-logreg-sk19'), 'serving_input_example.json'),
        'utf8',
      );
      const res = await fetch(`${served.base}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const text = await res.text();
      expect(res.status, text).toBe(200);
      await check(text);
    } finally {
      await stop(served);
    }
  }
});
