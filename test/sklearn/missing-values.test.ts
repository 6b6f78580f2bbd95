/**
 * Missing values over HTTP, as MLflow 3.11 hands them to a scikit-learn model: a JSON null in a
 * string column stays None (SimpleImputer(missing_values=nan) leaves it, the one-hot encoder sees
 * an unknown category), the same empty field in CSV is NaN (pandas.read_csv) and is imputed; null
 * in a double column or in float `inputs` is NaN; null in an integer column is a 400. The answers
 * come from scikit-learn itself (tools/sklearn/missing_values.py, expected.json).
 */
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server/server.js';
import { parseJsonText } from '../../src/util/json-parse.js';
import { serveModelDir } from '../fixtures/serve-dir.js';
import { tempDirs } from '../fixtures/temp-dirs.js';
import { type Expected, SKLEARN_FIXTURES, expectSame, parsePredictions, readExpected, withPredictFn } from './helpers.js';

interface MissingValues {
  columns: string[];
  rows: unknown[][];
  csv: string;
  csv_predict_proba: number[][];
  json_predict_proba: number[][];
}

const temp = tempDirs();
const running: RunningServer[] = [];
afterAll(async () => {
  await Promise.all(running.map((s) => s.close()));
  await temp.removeAll();
});

async function serve(dir: string): Promise<RunningServer> {
  const s = await serveModelDir(dir, await temp.make('modelgate-missing-'));
  running.push(s);
  return s;
}

async function post(s: RunningServer, contentType: string, body: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${s.port}/invocations`, { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: res.status, text: await res.text() };
}

describe('census pipeline (imputers, one-hot, LogisticRegression; predict_proba)', () => {
  let server: RunningServer;
  let mv: MissingValues;
  beforeAll(async () => {
    const dir = join(SKLEARN_FIXTURES, 'census-logreg-sk12');
    server = await serve(await withPredictFn(dir, 'predict_proba', temp));
    const text = await readFile(join(SKLEARN_FIXTURES, 'missing-values', 'census-logreg-sk12.json'), 'utf8');
    mv = parseJsonText(text, false) as MissingValues;
  });

  it('dataframe_split: null in a string column stays None (not imputed), null in a double column is NaN (imputed)', async () => {
    const res = await post(server, 'application/json', JSON.stringify({ dataframe_split: { columns: mv.columns, data: mv.rows } }));
    expect(res.status, res.text).toBe(200);
    expectSame(parsePredictions(res.text), mv.json_predict_proba);
  });

  it('dataframe_records: the same', async () => {
    const records = mv.rows.map((r) => Object.fromEntries(mv.columns.map((c, j) => [c, r[j]])));
    const res = await post(server, 'application/json', JSON.stringify({ dataframe_records: records }));
    expect(res.status, res.text).toBe(200);
    expectSame(parsePredictions(res.text), mv.json_predict_proba);
  });

  it('CSV: an empty field is NaN in every column, so string columns are imputed too', async () => {
    const res = await post(server, 'text/csv', mv.csv);
    expect(res.status, res.text).toBe(200);
    expectSame(parsePredictions(res.text), mv.csv_predict_proba);
    // Where the formats part: the string columns (rows 2–4 leave out workclass, education, sex).
    const json = (await post(server, 'application/json', JSON.stringify({ dataframe_split: { columns: mv.columns, data: mv.rows } }))).text;
    const differs = (parsePredictions(res.text) as number[][]).map((p, i) => p[0] !== (parsePredictions(json) as number[][])[i][0]);
    expect(differs).toEqual([false, false, true, true, true, false, false]);
  });

  it("CSV: pandas' NA spellings (NaN, NA, null) are missing too, a quoted empty field as well", async () => {
    const lines = mv.csv.trimEnd().split('\n');
    const spelled = [lines[0], lines[3].replace(',,', ',NA,'), lines[3].replace(',,', ',"",'), lines[6].replace(',,', ',NaN,')];
    const res = await post(server, 'text/csv', spelled.join('\n'));
    expect(res.status, res.text).toBe(200);
    expectSame(parsePredictions(res.text), [mv.csv_predict_proba[2], mv.csv_predict_proba[2], mv.csv_predict_proba[5]]);
  });
});

describe('autolog iris tree: null in float `inputs` is NaN', () => {
  let server: RunningServer;
  let expected: Expected;
  beforeAll(async () => {
    const dir = join(SKLEARN_FIXTURES, 'iris-tree-autolog-sk19');
    // The signature infer_signature writes for a model fitted on a numpy array: one float64 tensor.
    const copy = await temp.make('modelgate-iris-tensor-');
    await cp(dir, copy, { recursive: true });
    const mlmodel = await readFile(join(copy, 'MLmodel'), 'utf8');
    const tensor = `  inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 4]}}]'`;
    await writeFile(join(copy, 'MLmodel'), mlmodel.replace(/^ {2}inputs: '[^']*'$/m, tensor));
    await writeFile(join(copy, 'serving_input_example.json'), '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}');
    server = await serve(copy);
    expected = await readExpected(dir);
  });

  it('scores rows with null cells as scikit-learn scores NaN', async () => {
    const at = expected.data.flatMap((r, i) => (r.includes(null) ? [i] : []));
    expect(at.length).toBeGreaterThan(0);
    const res = await post(server, 'application/json', JSON.stringify({ inputs: at.map((i) => expected.data[i]) }));
    expect(res.status, res.text).toBe(200);
    expectSame(
      parsePredictions(res.text),
      at.map((i) => expected.predict[i]),
    );
  });
});

describe('mixed pipeline: null in an integer column is a 400', () => {
  let server: RunningServer;
  let expected: Expected;
  beforeAll(async () => {
    const dir = join(SKLEARN_FIXTURES, 'mixed-tree-regressor-sk12');
    server = await serve(dir);
    expected = await readExpected(dir);
  });

  function rowWithout(column: string): { columns: string[]; data: unknown[][] } {
    const row = expected.data[0].slice();
    row[expected.columns.indexOf(column)] = null;
    return { columns: expected.columns, data: [row] };
  }

  it('in JSON', async () => {
    const res = await post(server, 'application/json', JSON.stringify({ dataframe_split: rowWithout('rooms') }));
    expect(res.status).toBe(400);
    expect(parseJsonText(res.text, false)).toMatchObject({ error_code: 'BAD_REQUEST', message: expect.stringContaining('rooms') });
  });

  it('in CSV (an empty field)', async () => {
    const { columns, data } = rowWithout('rooms');
    const csv = [columns.join(','), data[0].map((v) => (v === null ? '' : String(v))).join(',')].join('\n');
    const res = await post(server, 'text/csv', csv);
    expect(res.status).toBe(400);
    expect(parseJsonText(res.text, false)).toMatchObject({ error_code: 'BAD_REQUEST', message: expect.stringContaining('rooms') });
  });
});
