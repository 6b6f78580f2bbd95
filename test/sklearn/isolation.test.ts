/**
 * Compiled graphs (scikit-learn, XGBoost, LightGBM) run through the ONNX flavour's session
 * runner, so --onnx-isolation places them as it places ONNX files: `thread` keeps them in a
 * thread of their own, `auto` times them on zero inputs and keeps small ones in the server's
 * thread (which needs inputs of a fixed width: a symbolic one made the probe fail).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadServable } from '../../src/core/load.js';
import { openModelDir } from '../../src/core/model-dir.js';
import { scoreBody } from '../../src/core/scoring.js';
import type { ServableModel } from '../../src/core/servable.js';
import type { OnnxIsolation } from '../../src/flavors/onnx/runner.js';
import { SKLEARN_FIXTURES } from './helpers.js';

const XGB = fileURLToPath(new URL('../fixtures/xgboost/', import.meta.url));
const LGB = fileURLToPath(new URL('../fixtures/lightgbm/', import.meta.url));

const loaded: ServableModel[] = [];
afterAll(async () => {
  await Promise.all(loaded.map((s) => s.model.unload()));
});

async function load(dir: string, mode: OnnxIsolation): Promise<ServableModel> {
  const s = await loadServable(await openModelDir(dir), { name: 'm', version: '1' }, { flavor: { onnxIsolation: mode } });
  loaded.push(s);
  return s;
}

const MODELS = [
  ['scikit-learn census pipeline (strings and numbers)', join(SKLEARN_FIXTURES, 'census-rf-sk19')],
  ['scikit-learn autolog tree', join(SKLEARN_FIXTURES, 'iris-tree-autolog-sk19')],
  ['XGBoost', join(XGB, 'binary-logistic-ubj')],
  ['LightGBM', join(LGB, 'multiclass-booster-lgb')],
] as const;

describe.each(MODELS)('%s', (_, dir) => {
  it('answers the same in its own thread and in the server’s, and auto keeps a small graph in the server’s thread', async () => {
    const body = await readFile(join(dir, 'serving_input_example.json'), 'utf8');
    const threaded = await load(dir, 'thread');
    const inline = await load(dir, 'none');
    const auto = await load(dir, 'auto');
    expect(threaded.model.info.isolation).toBe('thread');
    expect(inline.model.info.isolation).toBe('none');
    expect(auto.model.info.isolation).toBe('none');
    const want = await scoreBody(inline, 'application/json', body);
    expect(await scoreBody(threaded, 'application/json', body)).toBe(want);
    expect(await scoreBody(auto, 'application/json', body)).toBe(want);
  });
});
