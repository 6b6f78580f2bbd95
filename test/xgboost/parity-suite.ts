/**
 * Parity of committed XGBoost/LightGBM fixtures (tools/xgb-lgbm/make_fixtures.py) with what the
 * library answered through MLflow's loading path: labels exactly, floats within 1e-5 relative,
 * refused rows refused with a 400, the model directory left byte-identical.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import type { ServableModel } from '../../src/core/servable.js';
import { scoreBody } from '../../src/core/scoring.js';
import { tempDirs } from '../fixtures/temp-dirs.js';
import { type Expected, expectSame, loadDir, parsePredictions, pyJsonStringify, readExpected, withPredictFn } from '../sklearn/helpers.js';

async function digests(dir: string): Promise<string> {
  const h = createHash('sha256');
  for (const f of (await readdir(dir)).sort()) h.update(f).update(await readFile(join(dir, f)));
  return h.digest('hex');
}

function body(columns: string[], data: unknown[][]): string {
  return pyJsonStringify({ dataframe_split: { columns, data } });
}

/** The fixture folders under `root` (those with an expected.json). */
export function fixtureDirs(root: string): string[] {
  return readdirSync(root)
    .filter((d) => existsSync(join(root, d, 'expected.json')))
    .sort();
}

export function parityFor(root: string): void {
  const temp = tempDirs();
  const loaded: ServableModel[] = [];
  afterAll(async () => {
    await Promise.all(loaded.map((s) => s.model.unload()));
    await temp.removeAll();
  });
  const load = async (dir: string) => {
    const s = await loadDir(dir);
    loaded.push(s);
    return s;
  };

  describe.each(fixtureDirs(root))('%s', (name) => {
    const dir = join(root, name);
    let expected: Expected;
    let before: string;
    beforeAll(async () => {
      expected = await readExpected(dir);
      before = await digests(dir);
    });

    it('predict equals the library on every row', async () => {
      const servable = await load(dir);
      const got = parsePredictions(await scoreBody(servable, 'application/json', body(expected.columns, expected.data)));
      expectSame(got, expected.predict);
    });

    it('predict_proba equals the library (scikit-learn pipelines)', async (t) => {
      if (expected.predict_proba === undefined || !existsSync(join(dir, 'model.pkl')) || !name.endsWith('-sk')) t.skip();
      const servable = await load(await withPredictFn(dir, 'predict_proba', temp));
      const got = parsePredictions(await scoreBody(servable, 'application/json', body(expected.columns, expected.data)));
      expectSame(got, expected.predict_proba);
    });

    it('refuses, with a 400, every row the library refuses', async () => {
      const servable = await load(dir);
      for (const { row, error } of expected.rejected) {
        const err = await scoreBody(servable, 'application/json', body(expected.columns, [row])).catch((e: unknown) => e);
        expect(err, `${JSON.stringify(row)} (${error})`).toBeInstanceOf(GatewayError);
        expect((err as GatewayError).status).toBe(400);
      }
    });

    it('leaves the model directory byte-identical', async () => {
      await load(dir);
      expect(await digests(dir)).toBe(before);
    });
  });
}
