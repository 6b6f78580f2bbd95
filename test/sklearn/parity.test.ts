/**
 * Every committed scikit-learn fixture (two scikit-learn generations) scores every row of its
 * expected.json as scikit-learn itself did: labels exactly, floats within 1e-5 relative, for
 * each predict_fn the estimator has; rows scikit-learn refuses are refused with a 400.
 */
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import type { ServableModel } from '../../src/core/servable.js';
import { scoreBody } from '../../src/core/scoring.js';
import { tempDirs } from '../fixtures/temp-dirs.js';
import {
  type Expected,
  SKLEARN_FIXTURES,
  expectSame,
  loadDir,
  parsePredictions,
  pyJsonStringify,
  readExpected,
  withPredictFn,
} from './helpers.js';

const temp = tempDirs();
const loaded: ServableModel[] = [];
afterAll(async () => {
  await Promise.all(loaded.map((s) => s.model.unload()));
  await temp.removeAll();
});

const FIXTURES = readdirSync(SKLEARN_FIXTURES)
  .filter((d) => existsSync(join(SKLEARN_FIXTURES, d, 'expected.json')))
  .sort();

async function digests(dir: string): Promise<string> {
  const h = createHash('sha256');
  for (const f of (await readdir(dir)).sort()) h.update(f).update(await readFile(join(dir, f)));
  return h.digest('hex');
}

function body(columns: string[], data: unknown[][]): string {
  return pyJsonStringify({ dataframe_split: { columns, data } });
}

it('has fixtures of both scikit-learn generations', () => {
  expect(FIXTURES.filter((d) => d.endsWith('-sk12')).length).toBeGreaterThanOrEqual(6);
  expect(FIXTURES.filter((d) => d.endsWith('-sk19')).length).toBeGreaterThanOrEqual(6);
});

describe.each(FIXTURES)('%s', (name) => {
  const dir = join(SKLEARN_FIXTURES, name);
  let expected: Expected;
  let before: string;
  beforeAll(async () => {
    expected = await readExpected(dir);
    before = await digests(dir);
  });
  // The fixture as it is, loaded once for the cases below that need no other predict_fn.
  let own: Promise<ServableModel> | undefined;
  const asIs = () => (own ??= loadDir(dir).then((s) => (loaded.push(s), s)));

  for (const method of ['predict', 'predict_proba', 'predict_log_proba'] as const) {
    it(`${method} equals scikit-learn on every row`, async (t) => {
      const want = expected[method];
      if (want === undefined) t.skip();
      let servable = await asIs();
      if (servable.model.info.predictFn !== method) {
        servable = await loadDir(await withPredictFn(dir, method, temp));
        loaded.push(servable);
      }
      expect(servable.model.info.predictFn).toBe(method);
      const got = parsePredictions(await scoreBody(servable, 'application/json', body(expected.columns, expected.data)));
      expectSame(got, want);
    });
  }

  it('refuses, with a 400, every row scikit-learn refuses', async () => {
    const servable = await asIs();
    for (const { row, error } of expected.rejected) {
      const err = await scoreBody(servable, 'application/json', body(expected.columns, [row])).catch((e: unknown) => e);
      expect(err, `${JSON.stringify(row)} (${error})`).toBeInstanceOf(GatewayError);
      expect((err as GatewayError).status).toBe(400);
    }
  });

  it('leaves the model directory byte-identical', async () => {
    await asIs();
    expect(await digests(dir)).toBe(before);
  });
});
