/** Shared by the scikit-learn tests: the committed fixtures, Python-style JSON, and tolerant comparison. */
import { cp, readFile, writeFile } from 'node:fs/promises';
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

/** Labels (strings, ints) exactly; floats within 1e-5 relative; infinities and NaN as they are. */
export function expectSame(actual: unknown, expected: unknown, path = 'predictions'): void {
  if (Array.isArray(expected)) {
    expect(Array.isArray(actual), `${path} is a list`).toBe(true);
    expect((actual as unknown[]).length, `${path} length`).toBe(expected.length);
    expected.forEach((e, i) => expectSame((actual as unknown[])[i], e, `${path}[${i}]`));
    return;
  }
  // Above 2^53 every double is an integer: those are floats too, not labels.
  const isFloat = (x: number): boolean => !Number.isInteger(x) || Math.abs(x) > Number.MAX_SAFE_INTEGER;
  if (typeof expected === 'number' && typeof actual === 'number' && Number.isFinite(expected) && isFloat(expected)) {
    const scale = Math.max(Math.abs(expected), Math.abs(actual));
    expect(Math.abs(actual - expected) <= REL * scale || scale < 1e-300, `${path}: ${actual} vs ${expected}`).toBe(true);
    return;
  }
  expect(actual, path).toStrictEqual(expected);
}

/** A copy of a fixture whose MLmodel asks for another predict_fn (the original stays untouched). */
export async function withPredictFn(dir: string, fn: string, temp: TempDirs): Promise<string> {
  const copy = await temp.make('modelgate-sk-');
  await cp(dir, copy, { recursive: true });
  const mlmodel = await readFile(join(copy, 'MLmodel'), 'utf8');
  await writeFile(join(copy, 'MLmodel'), mlmodel.replace(/predict_fn: \w+/, `predict_fn: ${fn}`));
  return copy;
}

export async function loadDir(dir: string, name = 'm'): Promise<ServableModel> {
  return loadServable(await openModelDir(dir), { name, version: '1' });
}
