/**
 * The behaviour every flavour must have, as a reusable suite: load, signature, every
 * /invocations format (inputs list and dict, instances, dataframe_split, dataframe_records, CSV
 * where the signature allows it), the same request over V2 `/infer`, params, bad input (4xx in
 * MLflow's error shape) and unload.
 *
 * A flavour's test calls `runFlavorContract` with a factory for a model directory. The directory
 * must carry a serving input example: the suite derives every request format from it and checks
 * that all of them give the example's predictions (after enforcement they are the same input), so
 * the suite needs no knowledge of the model. Requests go through the real Hono app in-process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listFlavors } from '../../src/flavors/index.js';
import { openModelDir } from '../../src/core/model-dir.js';
import { shapeSize } from '../../src/schema/ndarray.js';
import { COL_TYPE_DTYPE, type ParamSpec, type ScalarColType } from '../../src/schema/signature.js';
import { createApp } from '../../src/http/app.js';
import type { ServableModel } from '../../src/core/servable.js';
import { loadServable } from '../../src/core/load.js';
import { SingleModelHost } from '../../src/core/model-host.js';
import { v2Datatype } from '../../src/protocols/v2/datatypes.js';

export interface FlavorContractSkip {
  reason: string;
  /** Test names as they appear in the suite (e.g. 'format: text/csv'). */
  tests: string[];
}

export interface FlavorContractOptions {
  /** Shown in the suite's name, e.g. 'TF.js layers model'. */
  name: string;
  /** A model directory (MLmodel with a serving input example); called twice (load and reload). */
  makeModelDir: () => Promise<string>;
  skip?: FlavorContractSkip[];
  /** An independent check of the example's predictions, e.g. against a reference implementation. */
  checkPredictions?: (predictions: unknown) => void;
}

/** The example's data in one of three shapes, whatever request format the example was saved in. */
type Example =
  | { kind: 'tensor'; rows: unknown[] }
  | { kind: 'tensors'; data: Record<string, unknown[]> }
  | { kind: 'frame'; columns: (string | number)[]; rows: unknown[][] };

/** What the signature makes of requests: which formats apply and how to build them. */
type Shape = { kind: 'unnamed'; rows: unknown[] } | { kind: 'named'; names: string[]; data: Record<string, unknown[]> } | FrameShape;
interface FrameShape {
  kind: 'columns';
  columns: string[];
  rows: unknown[][];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function exampleFromBody(body: Record<string, unknown>): Example {
  if ('inputs' in body) {
    const v = body.inputs;
    if (Array.isArray(v)) return { kind: 'tensor', rows: v };
    if (isObject(v)) return { kind: 'tensors', data: v as Record<string, unknown[]> };
  }
  if ('instances' in body && Array.isArray(body.instances)) {
    const rows = body.instances;
    if (rows.every(isObject)) {
      const data: Record<string, unknown[]> = {};
      for (const r of rows) for (const [k, v] of Object.entries(r)) (data[k] ??= []).push(v);
      return { kind: 'tensors', data };
    }
    return { kind: 'tensor', rows };
  }
  if ('dataframe_split' in body && isObject(body.dataframe_split)) {
    const split = body.dataframe_split as { columns?: (string | number)[]; data: unknown[][] };
    return { kind: 'frame', columns: split.columns ?? split.data[0].map((_, i) => i), rows: split.data };
  }
  if ('dataframe_records' in body && Array.isArray(body.dataframe_records)) {
    const recs = body.dataframe_records as Record<string, unknown>[];
    const columns = Object.keys(recs[0]);
    return { kind: 'frame', columns, rows: recs.map((r) => columns.map((c) => r[c])) };
  }
  throw new Error(`the contract cannot read this serving example: ${JSON.stringify(Object.keys(body))}`);
}

function shapeFor(servable: ServableModel, ex: Example): Shape {
  const schema = servable.signature?.inputs;
  if (schema === undefined) throw new Error('the contract needs a model with an input signature');
  const names = schema.inputs.map((s) => s.name);
  const named = names.every((n): n is string => n !== undefined);
  if (schema.kind === 'columns') {
    if (!named) throw new Error('the contract needs named columns');
    if (ex.kind === 'frame') return { kind: 'columns', columns: ex.columns.map(String), rows: ex.rows };
    if (ex.kind === 'tensors') {
      const cols = Object.keys(ex.data);
      const n = ex.data[cols[0]].length;
      return { kind: 'columns', columns: cols, rows: Array.from({ length: n }, (_, r) => cols.map((c) => ex.data[c][r])) };
    }
    throw new Error('a column-signature example must be a DataFrame or a dict of columns');
  }
  if (!named) {
    if (ex.kind === 'tensor') return { kind: 'unnamed', rows: ex.rows };
    if (ex.kind === 'frame') return { kind: 'unnamed', rows: ex.rows };
    throw new Error('an unnamed-tensor example must be a list or a DataFrame');
  }
  if (ex.kind === 'tensors') return { kind: 'named', names, data: ex.data };
  if (ex.kind === 'tensor' && names.length === 1) return { kind: 'named', names, data: { [names[0]]: ex.rows } };
  if (ex.kind === 'frame' && names.every((n) => ex.columns.includes(n))) {
    const data: Record<string, unknown[]> = {};
    for (const n of names) data[n] = ex.rows.map((r) => r[ex.columns.indexOf(n)]);
    return { kind: 'named', names, data };
  }
  if (ex.kind === 'frame' && names.length === 1) return { kind: 'named', names, data: { [names[0]]: ex.rows } };
  throw new Error('cannot map the serving example onto the named tensor signature');
}

function rowCount(s: Shape): number {
  return s.kind === 'named' ? s.data[s.names[0]].length : s.rows.length;
}

/** Per-row records: `{name: row}` for tensors, `{column: value}` for frames, `{"0": v0, …}` for unnamed 2-D rows. */
function records(s: Shape): Record<string, unknown>[] {
  switch (s.kind) {
    case 'named':
      return Array.from({ length: rowCount(s) }, (_, r) => Object.fromEntries(s.names.map((n) => [n, s.data[n][r]])));
    case 'columns':
      return s.rows.map((row) => Object.fromEntries(s.columns.map((c, i) => [c, row[i]])));
    case 'unnamed':
      return s.rows.map((row) => Object.fromEntries((Array.isArray(row) ? row : [row]).map((v, i) => [String(i), v])));
  }
}

/** Rows of flat scalars, if the input can be written as a table of scalars at all. */
function scalarTable(s: Shape): { header: string[]; rows: unknown[][] } | undefined {
  const flat = (row: unknown) => (Array.isArray(row) ? row : [row]);
  const scalar = (v: unknown) => v === null || typeof v !== 'object';
  if (s.kind === 'columns') return s.rows.every((r) => r.every(scalar)) ? { header: s.columns, rows: s.rows } : undefined;
  const rows = s.kind === 'unnamed' ? s.rows : s.names.length === 1 ? s.data[s.names[0]] : undefined;
  if (rows === undefined) return undefined;
  const table = rows.map(flat);
  if (!table.every((r) => r.every(scalar))) return undefined;
  return { header: table[0].map((_, i) => String(i)), rows: table };
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** The first numeric leaf replaced by a word, for a type error. */
function withBadLeaf(v: unknown): { value: unknown; done: boolean } {
  if (typeof v === 'number') return { value: 'not-a-number', done: true };
  if (Array.isArray(v)) {
    const out = [...v];
    for (let i = 0; i < out.length; i++) {
      const r = withBadLeaf(out[i]);
      if (r.done) {
        out[i] = r.value;
        return { value: out, done: true };
      }
    }
    return { value: out, done: false };
  }
  if (isObject(v)) {
    const out = { ...v };
    for (const k of Object.keys(out)) {
      const r = withBadLeaf(out[k]);
      if (r.done) {
        out[k] = r.value;
        return { value: out, done: true };
      }
    }
  }
  return { value: v, done: false };
}

function validParam(p: ParamSpec): unknown {
  if (p.default !== null && p.default !== undefined) return p.default;
  const scalar = { boolean: true, integer: 1, long: 1, float: 0.5, double: 0.5, string: 'x', datetime: '2026-01-01T00:00:00' }[
    p.type as 'boolean'
  ];
  return p.shape === null ? scalar : [scalar];
}

function invalidParam(p: ParamSpec): unknown {
  return p.type === 'string' || p.type === 'datetime' ? { not: 'a string' } : 'not-a-valid-value';
}

function nestedShape(v: unknown): number[] {
  const shape: number[] = [];
  for (let x = v; Array.isArray(x); x = x[0]) shape.push(x.length);
  return shape;
}

/** The example as a V2 `/infer` body, each input with the datatype its signature declares. */
function v2Request(servable: ServableModel, s: Shape): unknown {
  const schema = servable.signature!.inputs!;
  const tensor = (name: string, value: unknown[], dtype: Parameters<typeof v2Datatype>[0]) => {
    const shape = nestedShape(value);
    return { name, shape, datatype: v2Datatype(dtype), data: value.flat(shape.length) };
  };
  if (schema.kind === 'columns') {
    const cs = s as FrameShape;
    return {
      inputs: cs.columns.map((c, i) => {
        const type = schema.inputs.find((x) => x.name === c)!.colType.type;
        return tensor(
          c,
          cs.rows.map((r) => r[i]),
          type in COL_TYPE_DTYPE ? COL_TYPE_DTYPE[type as ScalarColType] : 'object',
        );
      }),
    };
  }
  if (s.kind === 'unnamed') return { inputs: [tensor('input-0', s.rows, schema.inputs[0].dtype)] };
  const named = s as { names: string[]; data: Record<string, unknown[]> };
  return { inputs: named.names.map((n) => tensor(n, named.data[n], schema.inputs.find((x) => x.name === n)!.dtype)) };
}

/** MLflow's predictions (a list, a dict of lists or records) as flat data per output name. */
function flatPredictions(reference: unknown, names: string[]): Record<string, unknown[]> {
  if (Array.isArray(reference) && reference.every(isObject)) {
    return Object.fromEntries(names.map((n) => [n, reference.map((r) => r[n]).flat(Infinity)]));
  }
  if (Array.isArray(reference)) return { [names[0]]: reference.flat(Infinity) };
  return Object.fromEntries(Object.entries(reference as Record<string, unknown[]>).map(([k, v]) => [k, [v].flat(Infinity)]));
}

/** The app serving one loaded model, as `serve` would. */
function appFor(servable: ServableModel): ReturnType<typeof createApp> {
  const host = new SingleModelHost();
  host.setReady(servable);
  return createApp({ host });
}

export const FLAVOR_CONTRACT_TESTS = [
  'loads with a registered flavour and reports its runtime',
  'has an input signature',
  'scores its serving example',
  'format: inputs (dict of named inputs)',
  'format: inputs (list)',
  'format: instances',
  'format: dataframe_split',
  'format: dataframe_records',
  'format: text/csv',
  'protocol: V2 /infer gives the same predictions',
  'params: declared params are checked, undeclared ones ignored',
  'bad input: malformed JSON and unknown formats are 400 BAD_REQUEST',
  'bad input: a missing input is a 400 naming it',
  'bad input: a value of the wrong type is a 400',
  'bad input: an unsupported content type is 415',
  'unloads, and another loaded instance keeps working',
] as const;

export function runFlavorContract(options: FlavorContractOptions): void {
  const skipped = new Map<string, string>();
  for (const s of options.skip ?? []) {
    for (const t of s.tests) {
      if (!(FLAVOR_CONTRACT_TESTS as readonly string[]).includes(t)) throw new Error(`runFlavorContract: no test named '${t}'`);
      skipped.set(t, s.reason);
    }
  }
  const test = (name: (typeof FLAVOR_CONTRACT_TESTS)[number], fn: (ctx: { skip: (note?: string) => never }) => Promise<void>) => {
    if (skipped.has(name)) it.skip(`${name} (skipped: ${skipped.get(name)})`, () => undefined);
    else it(name, (ctx) => fn(ctx as unknown as { skip: (note?: string) => never }));
  };

  describe(`Flavor contract: ${options.name}`, () => {
    let servable: ServableModel;
    let app: ReturnType<typeof createApp>;
    let shape: Shape;
    let reference: unknown;
    let referenceBody: Record<string, unknown>;

    const post = async (body: unknown, contentType = 'application/json') => {
      const res = await app.request('/invocations', {
        method: 'POST',
        headers: { 'content-type': contentType },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      return { status: res.status, body: JSON.parse(await res.text()) as Record<string, unknown> };
    };
    const expectSame = async (body: unknown, contentType?: string) => {
      const res = await post(body, contentType);
      expect(res.body, JSON.stringify(res.body)).not.toHaveProperty('error_code');
      expect(res.status).toBe(200);
      expect(res.body.predictions).toEqual(reference);
    };
    const expectClientError = async (body: unknown, codes: string[], contentType?: string, status = 400) => {
      const res = await post(body, contentType);
      expect(res.status, JSON.stringify(res.body)).toBe(status);
      expect(Object.keys(res.body).sort()).toEqual(['error_class', 'error_code', 'message', 'sqlstate']);
      expect(codes).toContain(res.body.error_code);
      expect(typeof res.body.message).toBe('string');
      return res.body.message as string;
    };

    beforeAll(async () => {
      const md = await openModelDir(await options.makeModelDir());
      servable = await loadServable(md, { name: 'contract', version: '1' });
      app = appFor(servable);
      if (servable.example === undefined) throw new Error('the contract needs a model directory with a serving input example');
      referenceBody = JSON.parse(servable.example.body) as Record<string, unknown>;
      shape = shapeFor(servable, exampleFromBody(referenceBody));
      const res = await post(servable.example.body, servable.example.contentType);
      if (res.status !== 200) throw new Error(`the serving example does not score: ${JSON.stringify(res.body)}`);
      reference = res.body.predictions;
    });

    afterAll(async () => {
      await servable?.model.unload();
    });

    test('loads with a registered flavour and reports its runtime', async () => {
      expect(listFlavors().map((f) => f.name)).toContain(servable.flavor);
      expect(typeof servable.model.info.runtime).toBe('string');
      expect(servable.model.info.runtime.length).toBeGreaterThan(0);
      expect(servable.loadSeconds).toBeGreaterThan(0);
    });

    test('has an input signature', async () => {
      const md = await openModelDir(servable.dir);
      const inputs = servable.signature?.inputs;
      expect(inputs).toBeDefined();
      // The MLmodel's signature wins; without one the flavour infers it from the model itself.
      if (md.mlmodel.signature?.inputs) expect(inputs).toEqual(md.mlmodel.signature.inputs);
      for (const spec of inputs!.inputs) {
        if ('shape' in spec) {
          expect(spec.shape.every((d) => Number.isInteger(d) && d >= -1)).toBe(true);
        }
      }
    });

    test('scores its serving example', async () => {
      expect(reference).toBeDefined();
      expect(reference).not.toBeNull();
      const n = rowCount(shape);
      // One prediction per row, whether predictions are a list, a dict of lists or records.
      const lengths = Array.isArray(reference)
        ? [reference.length]
        : Object.values(reference as Record<string, unknown>).map((v) => (Array.isArray(v) ? v.length : 1));
      expect(lengths.every((l) => l === n)).toBe(true);
      options.checkPredictions?.(reference);
    });

    test('format: inputs (dict of named inputs)', async () => {
      if (shape.kind === 'named') return expectSame({ inputs: shape.data });
      if (shape.kind === 'columns') {
        const s = shape;
        return expectSame({ inputs: Object.fromEntries(s.columns.map((c, i) => [c, s.rows.map((r) => r[i])])) });
      }
      // A dict for a model with one unnamed input is refused, as MLflow refuses it.
      await expectClientError({ inputs: { x: shape.rows } }, ['BAD_REQUEST', 'INVALID_PARAMETER_VALUE']);
    });

    test('format: inputs (list)', async () => {
      if (shape.kind === 'unnamed') return expectSame({ inputs: shape.rows });
      if (shape.kind === 'named' && shape.names.length === 1) return expectSame({ inputs: shape.data[shape.names[0]] });
      // Several named inputs (or columns) cannot come as one list.
      const rows = shape.kind === 'named' ? shape.data[shape.names[0]] : shape.rows;
      await expectClientError({ inputs: rows }, ['BAD_REQUEST', 'INVALID_PARAMETER_VALUE']);
    });

    test('format: instances', async () => {
      if (shape.kind === 'unnamed') return expectSame({ instances: shape.rows });
      await expectSame({ instances: records(shape) });
    });

    test('format: dataframe_split', async () => {
      if (shape.kind === 'unnamed') {
        return expectSame({ dataframe_split: { data: shape.rows.map((r) => (Array.isArray(r) ? r : [r])) } });
      }
      if (shape.kind === 'columns') return expectSame({ dataframe_split: { columns: shape.columns, data: shape.rows } });
      const s = shape;
      const data = Array.from({ length: rowCount(s) }, (_, r) => s.names.map((n) => s.data[n][r]));
      await expectSame({ dataframe_split: { columns: s.names, data } });
    });

    test('format: dataframe_records', async () => {
      await expectSame({ dataframe_records: records(shape) });
    });

    test('format: text/csv', async (ctx) => {
      const table = scalarTable(shape);
      if (table === undefined) return ctx.skip('the input cannot be written as a table of scalars');
      const csv = [table.header.map(csvCell).join(','), ...table.rows.map((r) => r.map(csvCell).join(','))].join('\n');
      await expectSame(`${csv}\n`, 'text/csv');
    });

    test('protocol: V2 /infer gives the same predictions', async () => {
      const res = await app.request('/v2/models/contract/infer', { method: 'POST', body: JSON.stringify(v2Request(servable, shape)) });
      const body = (await res.json()) as { outputs: { name: string; shape: number[]; data: unknown[] }[] };
      expect(res.status, JSON.stringify(body)).toBe(200);
      const expected = flatPredictions(
        reference,
        body.outputs.map((o) => o.name),
      );
      expect(Object.fromEntries(body.outputs.map((o) => [o.name, o.data]))).toEqual(expected);
      for (const o of body.outputs) expect(shapeSize(o.shape)).toBe(o.data.length);
    });

    test('params: declared params are checked, undeclared ones ignored', async () => {
      const specs = servable.signature?.params ?? [];
      for (const p of specs) await expectSame({ ...referenceBody, params: { [p.name]: validParam(p) } });
      if (specs.length > 0) {
        const msg = await expectClientError({ ...referenceBody, params: { [specs[0].name]: invalidParam(specs[0]) } }, [
          'INVALID_PARAMETER_VALUE',
        ]);
        expect(msg).toContain(specs[0].name);
      }
      await expectSame({ ...referenceBody, params: { modelgate_contract_undeclared: 1 } });
      // MLflow 3: params that are not a dictionary are refused with a params schema, ignored without one.
      if (specs.length > 0) await expectClientError({ ...referenceBody, params: [1] }, ['INVALID_PARAMETER_VALUE']);
      else await expectSame({ ...referenceBody, params: [1] });
    });

    test('bad input: malformed JSON and unknown formats are 400 BAD_REQUEST', async () => {
      const msg = await expectClientError('{"inputs": [[1, 2', ['BAD_REQUEST']);
      expect(msg).not.toContain('[[1, 2'); // the body is not echoed
      await expectClientError({ modelgate_contract: [1] }, ['BAD_REQUEST']);
      await expectClientError('[1, 2]', ['BAD_REQUEST']);
    });

    test('bad input: a missing input is a 400 naming it', async () => {
      if (shape.kind === 'unnamed') {
        // One value short in every row: the tensor's shape no longer matches.
        const rows = shape.rows.map((r) => (Array.isArray(r) ? r.slice(0, -1) : r));
        await expectClientError({ inputs: rows }, ['BAD_REQUEST', 'INVALID_PARAMETER_VALUE']);
        return;
      }
      const names = shape.kind === 'named' ? shape.names : shape.columns;
      const required =
        shape.kind === 'columns'
          ? names.filter((n) => servable.signature?.inputs?.inputs.find((s) => s.name === n && 'required' in s && s.required))
          : names;
      const gone = required[0];
      let body: unknown;
      if (shape.kind === 'named') {
        // Under another name, so a single-input model gets a dict that lacks its input.
        const data = Object.fromEntries(Object.entries(shape.data).map(([k, v]) => [k === gone ? `${k}_misspelt` : k, v]));
        body = { inputs: data };
      } else {
        body = { dataframe_records: records(shape).map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => k !== gone))) };
      }
      const msg = await expectClientError(body, ['INVALID_PARAMETER_VALUE']);
      expect(msg).toContain(`'${gone}'`);
      expect(msg.toLowerCase()).toContain('missing');
    });

    test('bad input: a value of the wrong type is a 400', async (ctx) => {
      const bad = withBadLeaf(shape.kind === 'named' ? { inputs: shape.data } : { dataframe_records: records(shape) });
      if (!bad.done) return ctx.skip('the example has no numeric value to corrupt');
      await expectClientError(bad.value, ['BAD_REQUEST', 'INVALID_PARAMETER_VALUE']);
    });

    test('bad input: an unsupported content type is 415', async () => {
      await expectClientError(servable.example!.body, ['BAD_REQUEST'], 'text/plain', 415);
    });

    test('unloads, and another loaded instance keeps working', async () => {
      const dir = await options.makeModelDir();
      const first = await loadServable(await openModelDir(dir), { name: 'contract-a', version: '1' });
      const second = await loadServable(await openModelDir(dir), { name: 'contract-b', version: '1' });
      await first.model.unload();
      const res = await appFor(second).request('/invocations', {
        method: 'POST',
        headers: { 'content-type': second.example!.contentType },
        body: second.example!.body,
      });
      expect(res.status).toBe(200);
      expect((JSON.parse(await res.text()) as { predictions: unknown }).predictions).toEqual(reference);
      await second.model.unload();
    });
  });
}
