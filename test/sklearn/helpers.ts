/** Shared by the scikit-learn tests: the committed fixtures, Python-style JSON, and tolerant comparison. */
import { cp, link, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { isDeepStrictEqual } from 'node:util';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { openModelDir } from '../../src/core/model-dir.js';
import type { ServableModel } from '../../src/core/servable.js';
import { loadServable } from '../../src/core/load.js';
import { parseJsonText } from '../../src/util/json-parse.js';
import type { TempDirs } from '../fixtures/temp-dirs.js';

export const SKLEARN_FIXTURES = fileURLToPath(new URL('../fixtures/sklearn/', import.meta.url));
export const WINE_LOGREG = fileURLToPath(new URL('../fixtures/mlflow-classic/wine-logreg-sklearn/', import.meta.url));

/** What tools/sklearn/make_fixtures.py records next to each model. */
export interface Expected {
  sklearn_version: string;
  columns: string[];
  data: unknown[][];
  predict: unknown[];
  predict_proba?: number[][];
  predict_log_proba?: number[][];
  rejected: { row: unknown[]; error: string }[];
}

export async function readExpected(dir: string): Promise<Expected> {
  return parseJsonText(await readFile(join(dir, 'expected.json'), 'utf8'), false) as Expected;
}

/** JSON as Python writes it: NaN and ±Infinity as bare literals. */
export function pyJsonStringify(v: unknown): string {
  return JSON.stringify(v, (_, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? `@@${x}@@` : x)).replace(
    /"@@(Infinity|-Infinity|NaN)@@"/g,
    '$1',
  );
}

export function parsePredictions(text: string): unknown {
  return (parseJsonText(text, false) as { predictions: unknown }).predictions;
}

const REL = 1e-5;

/**
 * Labels (strings, ints) exactly; floats within 1e-5 relative; infinities and NaN as they are.
 * Compared in plain code, then one assertion listing the first differences: an `expect` per
 * value made the parity files twice as slow.
 */
export function expectSame(actual: unknown, expected: unknown, path = 'predictions'): void {
  const diffs: string[] = [];
  const at: number[] = [];
  const where = () => `${path}${at.map((i) => `[${i}]`).join('')}`;
  const show = (x: unknown) => (typeof x === 'number' ? String(x) : JSON.stringify(x)?.slice(0, 64));
  // Above 2^53 every double is an integer: those are floats too, not labels.
  const isFloat = (x: number): boolean => !Number.isInteger(x) || Math.abs(x) > Number.MAX_SAFE_INTEGER;
  const walk = (a: unknown, e: unknown): void => {
    if (diffs.length >= 10) return;
    if (Array.isArray(e)) {
      if (!Array.isArray(a)) return void diffs.push(`${where()}: ${show(a)} is not a list`);
      if (a.length !== e.length) return void diffs.push(`${where()}: length ${a.length}, expected ${e.length}`);
      for (let i = 0; i < e.length; i++) {
        at.push(i);
        walk(a[i], e[i]);
        at.pop();
      }
      return;
    }
    if (typeof e === 'number' && typeof a === 'number' && Number.isFinite(e) && isFloat(e)) {
      const scale = Math.max(Math.abs(e), Math.abs(a));
      if (!(Math.abs(a - e) <= REL * scale || scale < 1e-300)) diffs.push(`${where()}: ${a} vs ${e}`);
      return;
    }
    const same = e !== null && typeof e === 'object' ? isDeepStrictEqual(a, e) : Object.is(a, e);
    if (!same) diffs.push(`${where()}: ${show(a)}, expected ${show(e)}`);
  };
  walk(actual, expected);
  expect(diffs, 'predictions that differ (the first 10)').toEqual([]);
}

/** A copy of a fixture whose MLmodel asks for another predict_fn (the original stays untouched). */
export async function withPredictFn(dir: string, fn: string, temp: TempDirs): Promise<string> {
  const copy = await temp.make('modelgate-sk-');
  // Hard links: hundreds of copies a run, and the fixture files are only read.
  for (const f of await readdir(dir, { withFileTypes: true })) {
    if (f.isFile()) await link(join(dir, f.name), join(copy, f.name)).catch(() => cp(join(dir, f.name), join(copy, f.name)));
    else await cp(join(dir, f.name), join(copy, f.name), { recursive: true });
  }
  await rm(join(copy, 'MLmodel'));
  const mlmodel = await readFile(join(dir, 'MLmodel'), 'utf8');
  await writeFile(join(copy, 'MLmodel'), mlmodel.replace(/predict_fn: \w+/, `predict_fn: ${fn}`));
  return copy;
}

/**
 * Loads a model directory as the server would, with its session in this thread: these tests are
 * about predictions, and `auto` placement (test/flavors/onnx*.test.ts) would probe each of the
 * hundreds of fixtures in a thread first.
 */
export async function loadDir(dir: string, name = 'm'): Promise<ServableModel> {
  return loadServable(await openModelDir(dir), { name, version: '1' }, { flavor: { onnxIsolation: 'none' } });
}
