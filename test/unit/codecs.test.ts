/**
 * The /invocations body codecs against MLflow's decoding rules (mlflow-serving.md §1.3):
 * content-type parsing, the one-format-key rule, LLM bodies, params, and each format
 * (dataframe_split, dataframe_records, instances, inputs, CSV) with and without a signature.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import type { DataFrame } from '../../src/schema/model-io.js';
import type { NDArray } from '../../src/schema/ndarray.js';
import type { Schema } from '../../src/schema/signature.js';
import {
  BODY_CODECS,
  type DecodeLimits,
  type DecodedRequest,
  JSON_FORMAT_CODECS,
  PROTOCOL_CHANGE_NOTE,
  codecFor,
  decodeJsonValue,
  jsonCodec,
} from '../../src/protocols/mlflow/index.js';
import { csvCodec, parseCsvRows } from '../../src/protocols/mlflow/csv.js';
import { dataframeRecordsCodec, dataframeSplitCodec } from '../../src/protocols/mlflow/dataframe.js';
import { inputsCodec, instancesCodec } from '../../src/protocols/mlflow/inputs.js';
import { MAX_PARQUET_DECODED_BYTES, MAX_PARQUET_VALUES, parquetCodec } from '../../src/protocols/mlflow/parquet.js';
import { compileEnforcer } from '../../src/schema/enforce.js';
import { compileParams } from '../../src/schema/params.js';
import { parseParams } from '../../src/schema/signature.js';
import { IRIS_COLUMNS, IRIS_NAMES, TENSOR_4, frameOf, schemaOf, tensorOf, tensorsOf, values } from '../fixtures/schemas.js';

// ------------------------------------------------------------------------------------------------
// Helpers

const TENSOR_F32 = schemaOf([{ type: 'tensor', 'tensor-spec': { dtype: 'float32', shape: [-1, 4] } }]);
const NAMED_AB = schemaOf([
  { type: 'tensor', 'tensor-spec': { dtype: 'float32', shape: [-1, 3] }, name: 'a' },
  { type: 'tensor', 'tensor-spec': { dtype: 'int64', shape: [-1] }, name: 'b' },
]);
const NAMED_ONE = schemaOf([{ type: 'tensor', 'tensor-spec': { dtype: 'float32', shape: [-1, 2] }, name: 'x' }]);
const MIXED_COLUMNS = schemaOf([
  { type: 'double', name: 'd', required: true },
  { type: 'integer', name: 'i', required: true },
  { type: 'long', name: 'l', required: true },
  { type: 'string', name: 's', required: true },
  { type: 'boolean', name: 'b', required: true },
  { type: 'float', name: 'f', required: false },
]);

const FORMAT_SET = "{'dataframe_split', 'dataframe_records', 'instances', 'inputs'}";

function col(df: DataFrame, name: string | number): NDArray {
  const i = df.columns.indexOf(name);
  if (i === -1) throw new Error(`no column ${String(name)}`);
  return df.values[i];
}

/** The GatewayError a call throws (fails the test if it throws nothing or something else). */
function caught(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error('expected a GatewayError, nothing was thrown');
}

function expectBadRequest(fn: () => unknown, message: string): void {
  const err = caught(fn);
  expect(err.code).toBe('BAD_REQUEST');
  expect(err.status).toBe(400);
  expect(err.message).toBe(message);
}

function expect415(contentType: string | undefined | null, message: string): void {
  const err = caught(() => codecFor(contentType));
  expect(err.status).toBe(415);
  expect(err.code).toBe('BAD_REQUEST');
  expect(err.message).toBe(message);
}

const decode = (body: unknown, schema?: Schema): DecodedRequest => decodeJsonValue(body, schema);

// ------------------------------------------------------------------------------------------------

describe('codecFor: Content-Type rules', () => {
  it('has one body codec per MLflow mime type and one format codec per JSON key', () => {
    // MLflow 3.11's list and order, as its 415 names them.
    expect(BODY_CODECS.map((c) => c.mimeType)).toEqual(['text/csv', 'application/json', 'application/vnd.apache.parquet']);
    expect(JSON_FORMAT_CODECS.map((c) => c.key)).toEqual(['dataframe_split', 'dataframe_records', 'instances', 'inputs']);
  });

  it('picks JSON, CSV and parquet by mime type', () => {
    expect(codecFor('application/json')).toBe(jsonCodec);
    expect(codecFor('text/csv')).toBe(csvCodec);
    expect(codecFor('application/vnd.apache.parquet')).toBe(parquetCodec);
    expect(codecFor('Application/Vnd.Apache.Parquet; charset=utf-8')).toBe(parquetCodec);
  });

  it.each([
    'application/json; charset=utf-8',
    'application/json; charset=UTF-8',
    'application/json;charset=Utf-8',
    'application/json; Charset=utf-8',
    'application/json ;  charset = utf-8 ',
    'application/json; charset="utf-8"',
    'application/json;',
  ])('accepts the charset utf-8 in any case: %j', (ct) => {
    expect(codecFor(ct)).toBe(jsonCodec);
  });

  it('accepts charset=utf-8 on CSV too', () => {
    expect(codecFor('text/csv; charset=UTF-8')).toBe(csvCodec);
  });

  it('also accepts the alias utf8 (MLflow would answer 415)', () => {
    expect(codecFor('application/json; charset=utf8')).toBe(jsonCodec);
  });

  it('treats the mime type case-insensitively', () => {
    expect(codecFor('Application/JSON')).toBe(jsonCodec);
    expect(codecFor('TEXT/CSV; charset=utf-8')).toBe(csvCodec);
  });

  it.each(['latin-1', 'iso-8859-1', 'utf-16', 'ascii', ''])('refuses charset=%j with 415 "only supports UTF-8"', (charset) => {
    expect415(`application/json; charset=${charset}`, 'The scoring server only supports UTF-8');
  });

  it('refuses any other parameter with 415 and the MLflow 2.0 protocol note', () => {
    expect415('application/json; format=pandas-split', `Unrecognized content type parameters: format. ${PROTOCOL_CHANGE_NOTE}`);
    expect415('text/csv; header=present', `Unrecognized content type parameters: header. ${PROTOCOL_CHANGE_NOTE}`);
  });

  it('names every unknown parameter, lower-cased, in order', () => {
    expect415(
      'application/json; format=pandas-split; Orient=records',
      `Unrecognized content type parameters: format, orient. ${PROTOCOL_CHANGE_NOTE}`,
    );
  });

  it('checks the charset before unknown parameters and the mime type, as MLflow does', () => {
    expect415('application/json; format=pandas-split; charset=latin-1', 'The scoring server only supports UTF-8');
    expect415('text/plain; charset=latin-1', 'The scoring server only supports UTF-8');
  });

  it('checks unknown parameters before the mime type', () => {
    expect415('text/plain; format=x', `Unrecognized content type parameters: format. ${PROTOCOL_CHANGE_NOTE}`);
  });

  it.each(['text/plain', 'application/x-www-form-urlencoded', 'application/x-parquet', 'multipart/form-data'])(
    'refuses the mime type %s with 415 listing the supported types',
    (ct) => {
      expect415(
        ct,
        `This predictor only supports the following content types: Types: ['text/csv', 'application/json', 'application/vnd.apache.parquet']. Got '${ct}'.`,
      );
    },
  );

  it('names the lower-cased mime type, without parameters, in the 415', () => {
    expect415(
      'Text/Plain; charset=utf-8',
      "This predictor only supports the following content types: Types: ['text/csv', 'application/json', 'application/vnd.apache.parquet']. Got 'text/plain'.",
    );
  });

  it('refuses a missing Content-Type with 415 (MLflow crashes with a 500)', () => {
    const msg =
      "This predictor only supports the following content types: Types: ['text/csv', 'application/json', 'application/vnd.apache.parquet']. Got no Content-Type header.";
    expect415(undefined, msg);
    expect415(null, msg);
  });

  it('refuses an empty Content-Type with 415', () => {
    expect415(
      '',
      "This predictor only supports the following content types: Types: ['text/csv', 'application/json', 'application/vnd.apache.parquet']. Got ''.",
    );
  });
});

describe('JSON bodies: parsing and the format key', () => {
  it('refuses invalid JSON with a 400 naming the parse error', () => {
    // Python's json module wording and positions, as MLflow reports them.
    expectBadRequest(
      () => jsonCodec.decode('{"inputs": [[5.1,3.5,', undefined),
      "Invalid input. Ensure that input is a valid JSON formatted string. Error: 'Expecting value: line 1 column 22 (char 21)'",
    );
    expectBadRequest(
      () => jsonCodec.decode('', undefined),
      "Invalid input. Ensure that input is a valid JSON formatted string. Error: 'Expecting value: line 1 column 1 (char 0)'",
    );
  });

  // V8's JSON.parse message quotes the body around the bad token; ours gives the position only.
  it('does not quote the request body in a JSON parse error', () => {
    const err = caught(() => jsonCodec.decode('{"inputs": [[5.1,3.5,secretvalue]]}', undefined));
    expect(err.message).toContain('Ensure that input is a valid JSON formatted string.');
    expect(err.message).not.toContain('secret');
    expect(err.message).not.toContain('3.5');
  });

  it.each([
    [[[5.1, 3.5]], 'a list'],
    [5, 'a number'],
    ['inputs', 'a string'],
    [true, 'a boolean'],
    [null, 'null'],
  ])('refuses a body that is not a JSON object: %j', (body, kind) => {
    expectBadRequest(
      () => decode(body),
      `Invalid input. The input must be a JSON dictionary with exactly one of the input fields ${FORMAT_SET}. Received ${kind}.`,
    );
  });

  it.each([
    [{}, '[]'],
    [{ data: [[1, 2]] }, '[]'],
    [{ columns: ['a'], rows: [[1]] }, '[]'],
    [{ inputs: [[1]], instances: [[1]] }, "['inputs', 'instances']"],
    [{ instances: [[1]], inputs: [[1]] }, "['inputs', 'instances']"],
    [{ dataframe_records: [], dataframe_split: { data: [] }, inputs: [] }, "['dataframe_records', 'dataframe_split', 'inputs']"],
  ])('needs exactly one format key: %j', (body, received) => {
    expectBadRequest(
      () => decode(body),
      `The input must be a JSON dictionary with exactly one of the input fields ${FORMAT_SET}. Received dictionary with input fields: ${received}. ${PROTOCOL_CHANGE_NOTE}`,
    );
  });

  it('ignores other top-level keys next to the one format key', () => {
    const req = decode({ inputs: [[1.5, 2.5]], data: 'ignored', columns: ['x'] });
    expect(tensorOf(req.input).shape).toEqual([1, 2]);
    expect(req.unwrapped).toBe(false);
    expect(req.params).toBeUndefined();
  });

  it('routes each format key to its codec', () => {
    expect(decode({ inputs: [[1.5]] }).input.kind).toBe('tensor');
    expect(decode({ instances: [[1.5]] }).input.kind).toBe('tensor');
    expect(decode({ dataframe_split: { data: [[1.5]] } }).input.kind).toBe('dataframe');
    expect(decode({ dataframe_records: [{ a: 1.5 }] }).input.kind).toBe('dataframe');
  });

  it('decodes text through jsonCodec the same way as a parsed value', () => {
    const a = jsonCodec.decode('{"inputs": [[5.1, 3.5, 1.4, 0.2]]}', TENSOR_4);
    const b = decode({ inputs: [[5.1, 3.5, 1.4, 0.2]] }, TENSOR_4);
    expect(a).toEqual(b);
  });
});

describe('JSON bodies: LLM keys (messages, prompt, input)', () => {
  it.each([[{ messages: [{ role: 'user', content: 'hi' }] }], [{ prompt: 'Once upon a time', max_tokens: 5 }], [{ input: ['embed me'] }]])(
    'passes a body with an LLM key and no format key through unwrapped: %j',
    (body) => {
      const req = decode(body, IRIS_COLUMNS);
      expect(req.input).toEqual({ kind: 'json', value: body });
      expect(req.unwrapped).toBe(true);
      expect(req.params).toBeUndefined();
    },
  );

  it('takes params out of an LLM body; every other key stays data', () => {
    const req = decode({ prompt: 'hi', temperature: 0.2, params: { max_tokens: 7 } });
    expect(req.input).toEqual({ kind: 'json', value: { prompt: 'hi', temperature: 0.2 } });
    expect(req.params).toEqual({ max_tokens: 7 });
    expect(req.unwrapped).toBe(true);
  });

  it('keeps the scoring protocol when a format key is present, even next to an LLM key (MLflow would switch to LLM mode)', () => {
    const req = decode({ inputs: [[1.5, 2.5]], input: 'a column called input' });
    expect(req.input.kind).toBe('tensor');
    expect(req.unwrapped).toBe(false);
    const rec = decode({ dataframe_records: [{ prompt: 'x' }], messages: [] });
    expect(frameOf(rec.input).columns).toEqual(['prompt']);
    expect(rec.unwrapped).toBe(false);
  });

  it('does not treat "inputs" (plural) or other keys as LLM keys', () => {
    expectBadRequest(
      () => decode({ prompts: ['x'] }),
      `The input must be a JSON dictionary with exactly one of the input fields ${FORMAT_SET}. Received dictionary with input fields: []. ${PROTOCOL_CHANGE_NOTE}`,
    );
  });
});

describe('JSON bodies: signature_name and params', () => {
  // MLflow 3 keeps only the four format keys and "params" (`_split_data_and_params`), so
  // "signature_name" no longer reaches `parse_tf_serving_input`, which refused it in MLflow 2.
  it.each([{ inputs: [[1.5]] }, { instances: [[1.5]] }, { dataframe_split: { data: [[1.5]] } }, { dataframe_records: [{ a: 1.5 }] }])(
    'ignores "signature_name" beside %j',
    (body) => {
      const withName = decode({ ...body, signature_name: 'serving_default' });
      expect(withName).toEqual(decode(body));
    },
  );

  it('ignores "signature_name" with a signature too', () => {
    const t = tensorOf(decode({ inputs: [[5.1, 3.5, 1.4, 0.2]], signature_name: 'x' }, TENSOR_4).input);
    expect(t.shape).toEqual([1, 4]);
  });

  it('passes params along with every format', () => {
    const params = { temperature: 0.5, tags: ['a'] };
    for (const body of [
      { inputs: [[1.5]], params },
      { instances: [[1.5]], params },
      { dataframe_split: { data: [[1.5]] }, params },
      { dataframe_records: [{ a: 1.5 }], params },
    ]) {
      expect(decode(body).params).toEqual(params);
    }
  });

  it('treats "params": null and an absent "params" alike', () => {
    expect(decode({ inputs: [[1.5]], params: null }).params).toBeUndefined();
    expect(decode({ inputs: [[1.5]] }).params).toBeUndefined();
  });

  // Whether params must be a dictionary depends on the model's params schema (below), not on the body.
  it.each([[[1, 2]], ['x'], [3], [true]])('passes params that are not an object along as they are: %j', (params) => {
    expect(decode({ inputs: [[1.5]], params }).params).toEqual(params);
  });

  describe('"params" that is not a dictionary, at params enforcement (MLflow\'s `_enforce_params_schema`)', () => {
    const schemaParams = compileParams(parseParams(JSON.stringify([{ name: 'temperature', type: 'double', default: 0.7, shape: null }])));
    const noSchema = compileParams(undefined);

    it.each([
      ['fast', 'str'],
      [[1, 2], 'list'],
      [3, 'int'],
      [2.5, 'float'],
      [true, 'bool'],
    ])('ignores %j for a model without a params schema (MLflow: 200, a warning)', (raw, type) => {
      expect(noSchema.resolve(decode({ inputs: [[1.5]], params: raw }).params)).toEqual({ params: {}, ignored: [], ignoredType: type });
    });

    it.each([
      ['fast', 'str'],
      [[1, 2], 'list'],
      [3, 'int'],
    ])("refuses %j for a model with a params schema, with MLflow's message", (raw, type) => {
      const err = caught(() => schemaParams.resolve(decode({ inputs: [[1.5]], params: raw }).params));
      expect(err.code).toBe('INVALID_PARAMETER_VALUE');
      expect(err.status).toBe(400);
      expect(err.message).toBe(`Parameters must be a dictionary. Got type '${type}'.`);
    });

    it('gives the defaults for null or absent params, and ignores dictionary keys without a schema', () => {
      expect(schemaParams.resolve(decode({ inputs: [[1.5]], params: null }).params)).toEqual({ params: { temperature: 0.7 }, ignored: [] });
      expect(noSchema.resolve(decode({ inputs: [[1.5]], params: { a: 1 } }).params)).toEqual({ params: {}, ignored: ['a'] });
    });
  });

  it('never passes params from a CSV body', () => {
    const req = csvCodec.decode('a\n1.5\n', undefined);
    expect(req.params).toBeUndefined();
    expect(req.unwrapped).toBe(false);
  });
});

describe('dataframe_split', () => {
  const split = (value: unknown, schema?: Schema) => frameOf(dataframeSplitCodec.decode(value, schema));

  it('builds a frame from columns and row-major data', () => {
    const df = split({
      columns: ['a', 'b'],
      data: [
        [1.5, 'x'],
        [2.5, 'y'],
      ],
    });
    expect(df.columns).toEqual(['a', 'b']);
    expect(df.rows).toBe(2);
    expect(col(df, 'a').dtype).toBe('float64');
    expect(values(col(df, 'a'))).toEqual([1.5, 2.5]);
    expect(col(df, 'b').dtype).toBe('str');
    expect(values(col(df, 'b'))).toEqual(['x', 'y']);
  });

  it('labels the columns 0..n-1 when "columns" is absent', () => {
    const df = split({ data: [[5.1, 3.5, 1.4, 0.2]] });
    expect(df.columns).toEqual([0, 1, 2, 3]);
    expect(df.rows).toBe(1);
  });

  it('accepts numeric column labels', () => {
    expect(split({ columns: [0, 'b'], data: [[1, 2]] }).columns).toEqual([0, 'b']);
  });

  it('checks the length of "index" and otherwise ignores it', () => {
    const df = split({ columns: ['a'], index: [10, 11], data: [[1.5], [2.5]] });
    expect(df.columns).toEqual(['a']);
    expect(df.rows).toBe(2);
    expectBadRequest(
      () => split({ columns: ['a'], index: [0], data: [[1.5], [2.5]] }),
      'Invalid input. Length of values (2) does not match length of index',
    );
    expectBadRequest(
      () => split({ columns: ['a'], index: 'x', data: [[1.5]] }),
      'Invalid input. Length of values (1) does not match length of index',
    );
  });

  it('reads a list of scalars as one column', () => {
    const df = split({ data: [1.5, 2.5, 3.5] });
    expect(df.columns).toEqual([0]);
    expect(df.rows).toBe(3);
    expect(values(df.values[0])).toEqual([1.5, 2.5, 3.5]);
  });

  it('gives zero rows for empty data', () => {
    const df = split({ columns: IRIS_NAMES, data: [] }, IRIS_COLUMNS);
    expect(df.rows).toBe(0);
    expect(df.columns).toEqual(IRIS_NAMES);
  });

  it('needs "data" and allows only "columns" and "index" beside it', () => {
    expectBadRequest(
      () => split({ columns: ['a'] }),
      "Invalid input. Dataframe split format must have 'data' field and optionally 'columns' and 'index' fields. Got ['columns'].",
    );
    expectBadRequest(
      () => split({ data: [[1]], dtypes: ['int'] }),
      "Invalid input. Dataframe split format must have 'data' field and optionally 'columns' and 'index' fields. Got ['data', 'dtypes'].",
    );
  });

  it('must be an object', () => {
    expectBadRequest(() => split([[1, 2]]), 'Invalid input. Dataframe split format must be a dictionary. Got list.');
    expectBadRequest(() => split(null), 'Invalid input. Dataframe split format must be a dictionary. Got None.');
    expectBadRequest(() => split('x'), 'Invalid input. Dataframe split format must be a dictionary. Got string.');
  });

  it('needs "data" to be a list and "columns" a list of names', () => {
    expectBadRequest(() => split({ data: { a: 1 } }), "Invalid input. Dataframe split format must have 'data' as a list of rows.");
    expectBadRequest(
      () => split({ columns: 'a', data: [[1]] }),
      "Invalid input. Dataframe split format must have 'columns' as a list of column names.",
    );
    expectBadRequest(
      () => split({ columns: [['a']], data: [[1]] }),
      "Invalid input. Dataframe split format must have 'columns' as a list of column names.",
    );
  });

  it("refuses rows whose width does not match the columns, with pandas' message", () => {
    expectBadRequest(
      () => split({ columns: IRIS_NAMES, data: [[5.1, 3.5, 1.4]] }),
      'Invalid input. 4 columns passed, passed data had 3 columns',
    );
    expectBadRequest(() => split({ columns: ['a'], data: [[1], [1, 2]] }), 'Invalid input. 1 columns passed, passed data had 2 columns');
  });

  it('takes the width from the first row without "columns", and refuses rows of another width', () => {
    expectBadRequest(
      () =>
        split({
          data: [
            [1, 2],
            [3, 4, 5],
          ],
        }),
      'Invalid input. 2 columns passed, passed data had 3 columns',
    );
  });

  it('casts the columns a named column signature names, at parse time', () => {
    const df = split(
      {
        columns: ['d', 'i', 'l', 's', 'b', 'f'],
        data: [
          [1, 2, '3', 4, true, 0.5],
          [2.5, -7, 9, 'x', false, null],
        ],
      },
      MIXED_COLUMNS,
    );
    expect(col(df, 'd')).toEqual({ dtype: 'float64', shape: [2], data: Float64Array.from([1, 2.5]) });
    expect(col(df, 'i')).toEqual({ dtype: 'int32', shape: [2], data: Int32Array.from([2, -7]) });
    expect(col(df, 'l')).toEqual({ dtype: 'int64', shape: [2], data: BigInt64Array.from([3n, 9n]) });
    expect(col(df, 's')).toEqual({ dtype: 'str', shape: [2], data: ['4', 'x'] });
    expect(col(df, 'b')).toEqual({ dtype: 'bool', shape: [2], data: Uint8Array.from([1, 0]) });
    expect(col(df, 'f').dtype).toBe('float32');
    expect(values(col(df, 'f'))).toEqual([0.5, Number.NaN]);
  });

  it('leaves columns the signature does not name untyped', () => {
    const df = split({ columns: ['d', 'extra'], data: [[1.5, 'x']] }, MIXED_COLUMNS);
    expect(col(df, 'd').dtype).toBe('float64');
    expect(col(df, 'extra')).toEqual({ dtype: 'object', shape: [1], data: ['x'] });
  });

  it('turns a missing double into NaN and keeps a missing string missing', () => {
    const df = split({ columns: ['d', 's'], data: [[null, null]] }, MIXED_COLUMNS);
    expect(values(col(df, 'd'))).toEqual([Number.NaN]);
    expect(values(col(df, 's'))).toEqual([null]);
  });

  it('refuses a value that does not convert, naming the column and the numpy type', () => {
    expectBadRequest(
      () => split({ columns: IRIS_NAMES, data: [['abc', 3.5, 1.4, 0.2]] }, IRIS_COLUMNS),
      "Invalid input. Data is not compatible with model signature. Failed to convert column sepal_length to type 'float64'. Error: 'ValueError(\"could not convert string to float: 'abc'\")'",
    );
    expectBadRequest(
      () => split({ columns: ['i'], data: [['1e3']] }, MIXED_COLUMNS),
      "Invalid input. Data is not compatible with model signature. Failed to convert column i to type 'int32'. Error: 'ValueError(\"invalid literal for int() with base 10: '1e3'\")'",
    );
    expectBadRequest(
      () => split({ columns: ['i'], data: [[3000000000]] }, MIXED_COLUMNS),
      "Invalid input. Data is not compatible with model signature. Failed to convert column i to type 'int32'. Error: 'ValueError(\"Python integer 3000000000 out of bounds for int32\")'",
    );
    expectBadRequest(
      () => split({ columns: ['b'], data: [['yes']] }, MIXED_COLUMNS),
      "Invalid input. Data is not compatible with model signature. Failed to convert column b to type 'bool'. Error: 'ValueError(\"could not convert 'yes' to bool\")'",
    );
  });

  it('refuses a number that is not whole for an integer column instead of truncating it', () => {
    expectBadRequest(
      () => split({ columns: ['i'], data: [[1.5]] }, MIXED_COLUMNS),
      "Invalid input. Data is not compatible with model signature. Failed to convert column i to type 'int32'. Error: 'ValueError(\"Can not safely convert float 1.5 to int32\")'",
    );
  });

  it('coerces numeric strings for numeric columns', () => {
    const df = split({ columns: ['d', 'i'], data: [['5.1', ' 42 ']] }, MIXED_COLUMNS);
    expect(values(col(df, 'd'))).toEqual([5.1]);
    expect(values(col(df, 'i'))).toEqual([42]);
  });

  it('matches columns by position for an unnamed column signature', () => {
    const unnamed = schemaOf([{ type: 'long' }, { type: 'string' }]);
    const df = split(
      {
        data: [
          [1, 'a'],
          [2, 'b'],
        ],
      },
      unnamed,
    );
    expect(df.values[0]).toEqual({ dtype: 'int64', shape: [2], data: BigInt64Array.from([1n, 2n]) });
    expect(df.values[1]).toEqual({ dtype: 'str', shape: [2], data: ['a', 'b'] });
  });

  it('casts every column to the dtype of an unnamed tensor signature', () => {
    const df = split({ columns: IRIS_NAMES, data: [[5, '3.5', 1.4, 0.2]] }, TENSOR_4);
    for (const c of df.values) expect(c.dtype).toBe('float64');
    expect(df.values.map((c) => values(c)[0])).toEqual([5, 3.5, 1.4, 0.2]);
    expectBadRequest(
      () => split({ columns: IRIS_NAMES, data: [['abc', 3.5, 1.4, 0.2]] }, TENSOR_4),
      "Invalid input. Data is not compatible with model signature. Failed to convert column sepal_length to type 'float64'. Error: 'ValueError(\"could not convert string to float: 'abc'\")'",
    );
  });

  it('casts the columns a named tensor signature names and leaves list cells for enforcement', () => {
    const df = split({ columns: ['a', 'b', 'c'], data: [[[1, 2, 3], 7, 'x']] }, NAMED_AB);
    expect(col(df, 'a')).toEqual({ dtype: 'object', shape: [1], data: [[1, 2, 3]] });
    expect(col(df, 'b')).toEqual({ dtype: 'int64', shape: [1], data: BigInt64Array.from([7n]) });
    expect(col(df, 'c')).toEqual({ dtype: 'object', shape: [1], data: ['x'] });
  });
});

describe('dataframe_records', () => {
  const records = (value: unknown, schema?: Schema) => frameOf(dataframeRecordsCodec.decode(value, schema));

  it('builds a frame from a list of records, columns in order of first appearance', () => {
    const df = records([
      { b: 1.5, a: 'x' },
      { a: 'y', c: true, b: 2.5 },
    ]);
    expect(df.columns).toEqual(['b', 'a', 'c']);
    expect(df.rows).toBe(2);
    expect(values(col(df, 'b'))).toEqual([1.5, 2.5]);
    expect(values(col(df, 'a'))).toEqual(['x', 'y']);
  });

  it('fills a key missing from a record with a missing value (null; NaN once typed as double)', () => {
    const df = records([{ a: 1.5, b: 'x' }, { a: 2.5 }]);
    expect(values(col(df, 'b'))).toEqual(['x', null]);
    const typed = records([{ sepal_length: 5.1 }, { sepal_width: 3.5 }], IRIS_COLUMNS);
    expect(values(col(typed, 'sepal_length'))).toEqual([5.1, Number.NaN]);
    expect(values(col(typed, 'sepal_width'))).toEqual([Number.NaN, 3.5]);
  });

  it('gives an empty frame for an empty list', () => {
    const df = records([]);
    expect(df).toEqual({ columns: [], values: [], rows: 0 });
  });

  it('reads a list of lists like split data without columns', () => {
    const df = records([
      [5.1, 3.5],
      [4.9, 3.0],
    ]);
    expect(df.columns).toEqual([0, 1]);
    expect(values(col(df, 1))).toEqual([3.5, 3.0]);
  });

  it('must be a list of objects', () => {
    expectBadRequest(() => records({ a: [1] }), 'Invalid input. Dataframe records format must be a list of records. Got dictionary.');
    expectBadRequest(() => records(null), 'Invalid input. Dataframe records format must be a list of records. Got None.');
    expectBadRequest(() => records('a'), 'Invalid input. Dataframe records format must be a list of records. Got string.');
    expectBadRequest(() => records([{ a: 1 }, 2]), 'Invalid input. Dataframe records format must be a list of records (objects).');
  });

  it('casts the named columns of the signature', () => {
    const df = records([{ l: '9223372036854775807', s: 12 }], MIXED_COLUMNS);
    expect(col(df, 'l')).toEqual({ dtype: 'int64', shape: [1], data: BigInt64Array.from([9223372036854775807n]) });
    expect(col(df, 's')).toEqual({ dtype: 'str', shape: [1], data: ['12'] });
  });
});

describe('instances', () => {
  const instances = (value: unknown, schema?: Schema) => instancesCodec.decode(value, schema);

  it('reads a list of rows as one tensor, like "inputs"', () => {
    const a = tensorOf(instances([[5.1, 3.5, 1.4, 0.2]], TENSOR_4));
    expect(a).toEqual({ dtype: 'float64', shape: [1, 4], data: Float64Array.from([5.1, 3.5, 1.4, 0.2]) });
    expect(instances([[1, 2]], undefined)).toEqual(inputsCodec.decode([[1, 2]], undefined));
  });

  it('transposes a list of row objects into columns (no signature: one tensor per name)', () => {
    const t = tensorsOf(
      instances([
        { a: 1, b: [1.5, 2.5] },
        { a: 2, b: [3.5, 4.5] },
      ]),
    );
    expect(Object.keys(t)).toEqual(['a', 'b']);
    expect(t.a).toEqual({ dtype: 'int64', shape: [2], data: BigInt64Array.from([1n, 2n]) });
    expect(t.b).toEqual({ dtype: 'float64', shape: [2, 2], data: Float64Array.from([1.5, 2.5, 3.5, 4.5]) });
  });

  it('types transposed rows by a named tensor signature', () => {
    const t = tensorsOf(
      instances(
        [
          { a: [1, 2, 3], b: 7 },
          { a: [4, 5, 6], b: 8 },
        ],
        NAMED_AB,
      ),
    );
    expect(t.a).toEqual({ dtype: 'float32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) });
    expect(t.b).toEqual({ dtype: 'int64', shape: [2], data: BigInt64Array.from([7n, 8n]) });
  });

  it('makes transposed rows a typed DataFrame for a column signature', () => {
    const rows = [
      { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 },
      { sepal_length: 6.7, sepal_width: 3.0, petal_length: 5.2, petal_width: 2.3 },
    ];
    const df = frameOf(instances(rows, IRIS_COLUMNS));
    expect(df.columns).toEqual(IRIS_NAMES);
    expect(df.rows).toBe(2);
    expect(col(df, 'petal_length')).toEqual({ dtype: 'float64', shape: [2], data: Float64Array.from([1.4, 5.2]) });
  });

  it('needs the same keys in every row object', () => {
    expectBadRequest(
      () => instances([{ a: 1, b: 2 }, { a: 3 }]),
      'Invalid input. The length of values for each input/column name are not the same',
    );
  });

  it('needs every element to be an object when the first one is', () => {
    expectBadRequest(
      () => instances([{ a: 1 }, [2]]),
      'Invalid input. Every element of "instances" must be an object when the first one is.',
    );
  });

  it('reads an empty list as an empty tensor', () => {
    expect(tensorOf(instances([], undefined)).shape).toEqual([0]);
  });
});

describe('inputs', () => {
  const inputs = (value: unknown, schema?: Schema) => inputsCodec.decode(value, schema);

  it('infers the dtype of a list without a signature, as numpy does', () => {
    expect(tensorOf(inputs([[1.5, 2]]))).toEqual({ dtype: 'float64', shape: [1, 2], data: Float64Array.from([1.5, 2]) });
    expect(tensorOf(inputs([1, 2, 3]))).toEqual({ dtype: 'int64', shape: [3], data: BigInt64Array.from([1n, 2n, 3n]) });
    expect(tensorOf(inputs([true, false]))).toEqual({ dtype: 'bool', shape: [2], data: Uint8Array.from([1, 0]) });
    expect(tensorOf(inputs(['a', 'b']))).toEqual({ dtype: 'str', shape: [2], data: ['a', 'b'] });
    expect(tensorOf(inputs(['a', 1])).dtype).toBe('object');
  });

  it('uses the dtype of an unnamed tensor signature', () => {
    const a = tensorOf(inputs([[5.1, 3.5, 1.4, 0.2]], TENSOR_F32));
    expect(a.dtype).toBe('float32');
    expect(a.data).toBeInstanceOf(Float32Array);
    expect(a.shape).toEqual([1, 4]);
  });

  it('coerces numeric strings for a float tensor (MLflow answers 200 to "5.1")', () => {
    const a = tensorOf(inputs([['5.1', '3.5', ' 1.4 ', '2e-1']], TENSOR_4));
    expect(values(a)).toEqual([5.1, 3.5, 1.4, 0.2]);
    expect(values(tensorOf(inputs([['nan', '-inf', 'Infinity', '1_000.5']], TENSOR_4)))).toEqual([
      Number.NaN,
      Number.NEGATIVE_INFINITY,
      Number.POSITIVE_INFINITY,
      1000.5,
    ]);
  });

  it("refuses a string that is not a number for a float tensor, with numpy's message", () => {
    expectBadRequest(() => inputs([['abc', 3.5, 1.4, 0.2]], TENSOR_4), "Invalid input. could not convert string to float: 'abc'");
    expectBadRequest(() => inputs([['', 3.5, 1.4, 0.2]], TENSOR_4), "Invalid input. could not convert string to float: ''");
  });

  it('refuses objects inside a float tensor', () => {
    expectBadRequest(
      () => inputs([[{ a: 1 }, 1, 2, 3]], TENSOR_4),
      "Invalid input. float() argument must be a string or a real number, not 'dict'",
    );
  });

  it("refuses ragged lists with numpy's inhomogeneous-shape message", () => {
    expectBadRequest(
      () =>
        inputs(
          [
            [1, 2, 3, 4],
            [1, 2, 3],
          ],
          TENSOR_4,
        ),
      'Invalid input. setting an array element with a sequence. The requested array has an inhomogeneous shape after 1 dimensions. The detected shape was (2,) + inhomogeneous part.',
    );
  });

  it('reads a scalar as a 0-d tensor', () => {
    expect(tensorOf(inputs(2.5))).toEqual({ dtype: 'float64', shape: [], data: Float64Array.from([2.5]) });
  });

  describe('int64', () => {
    const I64 = schemaOf([{ type: 'tensor', 'tensor-spec': { dtype: 'int64', shape: [-1] } }]);

    it('holds int64 as BigInt, exact beyond 2^53 when sent as strings', () => {
      const a = tensorOf(inputs(['9223372036854775807', '-9223372036854775808', 9007199254740991], I64));
      expect(a.data).toBeInstanceOf(BigInt64Array);
      expect(values(a)).toEqual([9223372036854775807n, -9223372036854775808n, 9007199254740991n]);
    });

    it('refuses values outside int64', () => {
      expectBadRequest(
        () => inputs(['9223372036854775808'], I64),
        'Invalid input. Python integer 9223372036854775808 out of bounds for int64',
      );
    });

    it('refuses a number that is not whole instead of truncating it (numpy would make 1.5 into 1)', () => {
      expectBadRequest(() => inputs([1.5], I64), 'Invalid input. Can not safely convert float 1.5 to int64');
      expect(values(tensorOf(inputs([2.0], I64)))).toEqual([2n]);
    });

    // JSON.parse would turn these into doubles (…993 → …992); Python's json keeps them exact, so do we.
    it('keeps int64 values above 2^53 sent as JSON numbers exact', () => {
      const a = tensorOf(jsonCodec.decode('{"inputs": [9007199254740993, 9223372036854775807]}', I64).input);
      expect(values(a)).toEqual([9007199254740993n, 9223372036854775807n]);
    });

    it("refuses strings that are not integers, with Python's message", () => {
      expectBadRequest(() => inputs(['1.0'], I64), "Invalid input. invalid literal for int() with base 10: '1.0'");
    });
  });

  describe('dicts (named tensors)', () => {
    it('makes one tensor per name, typed by a named tensor signature', () => {
      const t = tensorsOf(inputs({ a: [[1, 2, 3]], b: ['5'] }, NAMED_AB));
      expect(t.a).toEqual({ dtype: 'float32', shape: [1, 3], data: Float32Array.from([1, 2, 3]) });
      expect(t.b).toEqual({ dtype: 'int64', shape: [1], data: BigInt64Array.from([5n]) });
    });

    it('keeps names the signature does not know with an inferred dtype (enforcement decides)', () => {
      const t = tensorsOf(inputs({ a: [[1, 2, 3]], c: [1.5] }, NAMED_AB));
      expect(Object.keys(t)).toEqual(['a', 'c']);
      expect(t.c.dtype).toBe('float64');
    });

    it('makes a dict for an unnamed tensor signature a dict of tensors too (enforcement refuses it)', () => {
      expect(inputs({ x: [[1, 2, 3, 4]] }, TENSOR_4).kind).toBe('tensors');
    });
  });

  it('refuses a list of records for a tensor signature at schema enforcement, as MLflow does (a list is no tensor)', () => {
    const unnamed = caught(() => inputs([{ a: 1 }], TENSOR_4));
    expect(unnamed.code).toBe('INVALID_PARAMETER_VALUE');
    expect(unnamed.message).toBe(
      "Failed to enforce schema of data with schema '[Tensor('float64', (-1, 4))]'. Error: This model contains a tensor-based model signature with no input names, which suggests a numpy array input or a pandas dataframe input with proper column values, but an input of type list was found.",
    );
    expect(caught(() => inputs([{ x: [1, 2] }], NAMED_ONE)).message).toContain(
      'This model contains a tensor-based model signature with input names, which suggests a dictionary input mapping input name to tensor, or a pandas DataFrame input',
    );
  });

  it('binds a bare list to the only input of a named tensor signature', () => {
    const t = tensorsOf(inputs([[1, 2]], NAMED_ONE));
    expect(t).toEqual({ x: { dtype: 'float32', shape: [1, 2], data: Float32Array.from([1, 2]) } });
  });

  it('refuses a bare list for a signature with several named tensors', () => {
    expectBadRequest(
      () => inputs([[1, 2, 3]], NAMED_AB),
      'Invalid input. Failed to parse input data. This model contains a tensor-based model signature with input names, which suggests a dictionary input mapping input name to tensor, but an input of type list was found.',
    );
    expectBadRequest(
      () => inputs(5, NAMED_AB),
      'Invalid input. Failed to parse input data. This model contains a tensor-based model signature with input names, which suggests a dictionary input mapping input name to tensor, but an input of type int was found.',
    );
  });

  describe('with a column signature', () => {
    it('makes a dict a typed DataFrame, scalars broadcast to the column length', () => {
      const df = frameOf(inputs({ d: [1, 2], s: 'same' }, MIXED_COLUMNS));
      expect(df.rows).toBe(2);
      expect(col(df, 'd')).toEqual({ dtype: 'float64', shape: [2], data: Float64Array.from([1, 2]) });
      expect(col(df, 's')).toEqual({ dtype: 'str', shape: [2], data: ['same', 'same'] });
    });

    it('makes a dict of scalars one row', () => {
      expect(frameOf(inputs({ d: 1.5, i: 2 }, MIXED_COLUMNS)).rows).toBe(1);
    });

    it('needs the lists of a dict to have one length', () => {
      expectBadRequest(() => inputs({ d: [1, 2], i: [1] }, MIXED_COLUMNS), 'Invalid input. All arrays must be of the same length');
    });

    it('binds a bare list to the only column of a one-column signature', () => {
      const one = schemaOf([{ type: 'string', name: 'text', required: true }]);
      const df = frameOf(inputs(['a', 'b'], one));
      expect(df.columns).toEqual(['text']);
      expect(col(df, 'text')).toEqual({ dtype: 'str', shape: [2], data: ['a', 'b'] });
    });

    it('labels the columns of a list of rows 0..n-1 (enforcement then reports them as extra inputs)', () => {
      const df = frameOf(
        inputs(
          [
            [5.1, 3.5, 1.4, 0.2],
            [6.7, 3.0, 5.2, 2.3],
          ],
          IRIS_COLUMNS,
        ),
      );
      expect(df.columns).toEqual([0, 1, 2, 3]);
      expect(df.rows).toBe(2);
      expect(values(df.values[2])).toEqual([1.4, 5.2]);
    });

    // MLflow 3's `_cast_schema_type` converts each value of a list of records by its column, and
    // `_enforce_schema` makes the records a DataFrame: a column signature scores them.
    it('makes a list of records a typed DataFrame, columns in order of first appearance', () => {
      const rows = [
        { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 },
        { petal_width: 2.3, sepal_length: 6.7, sepal_width: 3, petal_length: '5.2', extra: 'x' },
      ];
      const df = frameOf(inputs(rows, IRIS_COLUMNS));
      expect(df.columns).toEqual([...IRIS_NAMES, 'extra']);
      expect(df.rows).toBe(2);
      expect(col(df, 'petal_length')).toEqual({ dtype: 'float64', shape: [2], data: Float64Array.from([1.4, 5.2]) });
      expect(values(col(df, 'extra'))).toEqual([null, 'x']);
      expect(frameOf(decode({ inputs: rows }, IRIS_COLUMNS).input)).toEqual(df);
    });

    it("types each record value by its column, with numpy's conversions (int64 exact, a number to str)", () => {
      const df = frameOf(inputs([{ l: '9223372036854775807', s: 12, b: 1, d: 2 }], MIXED_COLUMNS));
      expect(values(col(df, 'l'))).toEqual([9223372036854775807n]);
      expect(col(df, 's')).toEqual({ dtype: 'str', shape: [1], data: ['12'] });
      expect(col(df, 'b')).toEqual({ dtype: 'bool', shape: [1], data: Uint8Array.from([1]) });
      expect(col(df, 'd').dtype).toBe('float64');
    });

    it('reads a key missing from a record as a missing value (NaN once typed as double)', () => {
      const df = frameOf(inputs([{ sepal_length: 5.1 }, { sepal_width: 3.5 }], IRIS_COLUMNS));
      expect(values(col(df, 'sepal_length'))).toEqual([5.1, Number.NaN]);
      expect(values(col(df, 'sepal_width'))).toEqual([Number.NaN, 3.5]);
    });

    it("refuses a record value that does not convert with numpy's bare message (MLflow's `convert_data_type`)", () => {
      expectBadRequest(
        () => inputs([{ sepal_length: 'abc', sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 }], IRIS_COLUMNS),
        "Invalid input. could not convert string to float: 'abc'",
      );
      expectBadRequest(() => inputs([{ i: 1.5 }], MIXED_COLUMNS), 'Invalid input. Can not safely convert float 1.5 to int32');
    });

    it('reads records for a signature of one named column as records, not as the column', () => {
      const one = schemaOf([{ type: 'string', name: 'text', required: true }]);
      const df = frameOf(inputs([{ text: 'a' }, { text: 'b' }], one));
      expect(df.columns).toEqual(['text']);
      expect(col(df, 'text')).toEqual({ dtype: 'str', shape: [2], data: ['a', 'b'] });
    });

    it('reads [] as no records: no columns, so enforcement names every input missing without extra ones', () => {
      const df = frameOf(inputs([], IRIS_COLUMNS));
      expect(df).toEqual({ columns: [], values: [], rows: 0 });
      const one = schemaOf([{ type: 'string', name: 'text', required: true }]);
      expect(frameOf(inputs([], one)).columns).toEqual(['text']);
      const err = caught(() => compileEnforcer(IRIS_COLUMNS).enforce(inputs([], IRIS_COLUMNS)));
      expect(err.message).toMatch(/Error: Model is missing inputs \['sepal_length', 'sepal_width', 'petal_length', 'petal_width'\]\.$/);
    });

    it("refuses a string that is not a number while parsing, when every column is numeric (MLflow's 400 BAD_REQUEST)", () => {
      expectBadRequest(() => inputs([['abc', 3.5, 1.4, 0.2]], IRIS_COLUMNS), "Invalid input. could not convert string to float: 'abc'");
    });

    it('makes a flat list one column labelled 0', () => {
      const df = frameOf(inputs([1.5, 2.5], IRIS_COLUMNS));
      expect(df.columns).toEqual([0]);
      expect(df.rows).toBe(2);
    });

    it('refuses ragged rows', () => {
      const mixed = schemaOf([
        { type: 'double', name: 'a' },
        { type: 'string', name: 'b' },
      ]);
      expectBadRequest(
        () => inputs([[1, 'x'], [2]], mixed),
        'Invalid input. setting an array element with a sequence. The requested array has an inhomogeneous shape after 1 dimensions.',
      );
    });
  });
});

describe('CSV', () => {
  describe('parseCsvRows', () => {
    it('splits rows and fields', () => {
      expect(parseCsvRows('a,b\n1,2\n3,4\n')).toEqual([
        ['a', 'b'],
        ['1', '2'],
        ['3', '4'],
      ]);
    });

    it('reads the last row without a final newline', () => {
      expect(parseCsvRows('a,b\n1,2')).toEqual([
        ['a', 'b'],
        ['1', '2'],
      ]);
    });

    it('accepts CRLF and lone CR line ends', () => {
      expect(parseCsvRows('a,b\r\n1,2\r\n3,4\r5,6')).toEqual([
        ['a', 'b'],
        ['1', '2'],
        ['3', '4'],
        ['5', '6'],
      ]);
    });

    it('keeps commas, doubled quotes and newlines inside quoted fields', () => {
      expect(parseCsvRows('t,n\n"a, b",1\n"say ""hi""",2\n"line1\nline2",3\n"",4\n')).toEqual([
        ['t', 'n'],
        ['a, b', '1'],
        ['say "hi"', '2'],
        ['line1\nline2', '3'],
        ['', '4'],
      ]);
    });

    it('keeps empty fields', () => {
      expect(parseCsvRows('a,b,c\n,,\n1,,3\n')).toEqual([
        ['a', 'b', 'c'],
        ['', '', ''],
        ['1', '', '3'],
      ]);
    });

    it('skips blank lines, as pandas does', () => {
      expect(parseCsvRows('a\n\n1\n\r\n2\n\n')).toEqual([['a'], ['1'], ['2']]);
    });

    it('refuses a quoted field that never ends', () => {
      expectBadRequest(
        () => parseCsvRows('a\n"open'),
        'Invalid input. Failed to parse input as a Pandas DataFrame: EOF inside a quoted field.',
      );
    });
  });

  const csv = (text: string, schema?: Schema) => frameOf(csvCodec.decode(text, schema).input);

  describe('without a signature: pandas type inference', () => {
    it('reads whole numbers as int64, decimals as float64, True/False as bool, the rest as strings', () => {
      const df = csv('i,f,b,s,m\n1,1.5,True,x,1\n-2,2,False,y,2.5\n');
      expect(col(df, 'i')).toEqual({ dtype: 'int64', shape: [2], data: BigInt64Array.from([1n, -2n]) });
      expect(col(df, 'f')).toEqual({ dtype: 'float64', shape: [2], data: Float64Array.from([1.5, 2]) });
      expect(col(df, 'b')).toEqual({ dtype: 'bool', shape: [2], data: Uint8Array.from([1, 0]) });
      expect(col(df, 's')).toEqual({ dtype: 'str', shape: [2], data: ['x', 'y'] });
      expect(col(df, 'm')).toEqual({ dtype: 'float64', shape: [2], data: Float64Array.from([1, 2.5]) });
    });

    it('reads nan and inf spellings as floats', () => {
      const df = csv('f\nnan\ninf\n-inf\n1e3\n');
      expect(values(col(df, 'f'))).toEqual([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1000]);
    });

    it('reads empty cells as missing values', () => {
      const df = csv('n,s\n1.5,a\n,\n');
      // pandas: a numeric column with an empty cell is float64 with NaN; a text column holds a float NaN.
      expect(values(col(df, 'n'))).toEqual([1.5, Number.NaN]);
      expect(values(col(df, 's'))).toEqual(['a', Number.NaN]);
    });

    it("reads pandas' NA spellings as missing, in numeric and text columns", () => {
      const df = csv('n,s\n1,a\nNA,null\nNaN,None\n');
      expect(values(col(df, 'n'))).toEqual([1, Number.NaN, Number.NaN]);
      expect(values(col(df, 's'))).toEqual(['a', Number.NaN, Number.NaN]);
    });

    it('names an empty header "Unnamed: <i>" and de-duplicates repeated names', () => {
      const df = csv(',a,a,\n0,1,2,3\n');
      expect(df.columns).toEqual(['Unnamed: 0', 'a', 'a.1', 'Unnamed: 3']);
    });

    it("pads short rows with missing values and refuses long ones with pandas' message", () => {
      const df = csv('a,b\n1.5\n');
      expect(values(col(df, 'b'))).toEqual([Number.NaN]);
      expectBadRequest(
        () => csv('a,b\n1,2\n1,2,3\n'),
        'Invalid input. Failed to parse input as a Pandas DataFrame: Expected 2 fields in line 3, saw 3',
      );
    });

    it('gives zero rows for a header alone, and refuses an empty body', () => {
      const df = csv('a,b\n');
      expect(df.columns).toEqual(['a', 'b']);
      expect(df.rows).toBe(0);
      expectBadRequest(() => csv(''), 'Invalid input. Failed to parse input as a Pandas DataFrame: No columns to parse from file');
      expectBadRequest(() => csv('\n\n'), 'Invalid input. Failed to parse input as a Pandas DataFrame: No columns to parse from file');
    });
  });

  describe('with a signature: casts to the declared types', () => {
    it('reads pandas.DataFrame.to_csv() output, index column included, for a column signature', () => {
      const text = ',sepal_length,sepal_width,petal_length,petal_width\r\n0,5.1,3.5,1.4,0.2\r\n1,6.7,3.0,5.2,2.3\r\n';
      const df = csv(text, IRIS_COLUMNS);
      expect(df.columns).toEqual(['Unnamed: 0', ...IRIS_NAMES]);
      expect(df.rows).toBe(2);
      expect(col(df, 'sepal_width')).toEqual({ dtype: 'float64', shape: [2], data: Float64Array.from([3.5, 3.0]) });
      expect(col(df, 'Unnamed: 0').dtype).toBe('object');
    });

    it('keeps text a string column declares as text ("007" stays "007")', () => {
      const s = schemaOf([
        { type: 'string', name: 'code' },
        { type: 'long', name: 'n' },
      ]);
      const df = csv('code,n\n007,7\n"1,5",8\n', s);
      expect(col(df, 'code')).toEqual({ dtype: 'str', shape: [2], data: ['007', '1,5'] });
      expect(col(df, 'n')).toEqual({ dtype: 'int64', shape: [2], data: BigInt64Array.from([7n, 8n]) });
    });

    it('reads an empty cell as NaN in a double column and in a string column (where a JSON null stays None)', () => {
      const s = schemaOf([
        { type: 'double', name: 'x' },
        { type: 'string', name: 't', required: false },
      ]);
      const df = csv('x,t\n,\n', s);
      expect(values(col(df, 'x'))).toEqual([Number.NaN]);
      expect(values(col(df, 't'))).toEqual([Number.NaN]);
    });

    it('refuses a cell that does not convert, naming the column', () => {
      expectBadRequest(
        () => csv('sepal_length,sepal_width,petal_length,petal_width\nabc,3.5,1.4,0.2\n', IRIS_COLUMNS),
        "Invalid input. Data is not compatible with model signature. Failed to convert column sepal_length to type 'float64'. Error: 'ValueError(\"could not convert string to float: 'abc'\")'",
      );
    });

    it('casts every column to the dtype of a single unnamed tensor (MLflow refuses CSV for tensor signatures)', () => {
      const df = csv('a,b,c,d\n5.1,3.5,1.4,0.2\n', TENSOR_4);
      expect(df.values.map((c) => c.dtype)).toEqual(['float64', 'float64', 'float64', 'float64']);
      expect(df.values.map((c) => values(c)[0])).toEqual([5.1, 3.5, 1.4, 0.2]);
    });
  });
});

describe('parquet (application/vnd.apache.parquet)', () => {
  const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'parquet');
  /** What tools/parquet/make-fixtures.py recorded from pandas.read_parquet for each file. */
  interface Expected {
    columns: string[];
    dtypes: string[];
    rows: number;
    values: unknown[][];
  }
  const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as Record<string, Expected>;
  const bytes = (name: string) => new Uint8Array(readFileSync(join(FIXTURES, name)));
  const parquet = async (name: string, schema?: Schema, limits?: DecodeLimits) =>
    frameOf((await parquetCodec.decode(bytes(name), schema, limits)).input);
  const refusal = async (body: Uint8Array, limits?: DecodeLimits): Promise<GatewayError> => {
    const err: unknown = await parquetCodec.decode(body, undefined, limits).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(err instanceof GatewayError)) throw new Error(`expected a GatewayError, got ${String(err)}`);
    return err;
  };

  /** The dtype each pandas dtype becomes (numpy's where pandas has an extension type). */
  const DTYPE_OF: Record<string, string> = {
    int64: 'int64',
    int32: 'int32',
    float64: 'float64',
    float32: 'float32',
    str: 'str',
    bool: 'bool',
    boolean: 'object', // nullable booleans: true/false/null cells
    Int64: 'float64', // a missing integer is NaN, as numpy holds it
    category: 'str',
    object: 'object',
    'datetime64[us]': 'object', // Date cells
  };

  /** A value of expected.json as the column holds it. */
  function ours(v: unknown, dtype: string): unknown {
    if (v === null) return dtype === 'float64' || dtype === 'float32' ? Number.NaN : null;
    if (typeof v === 'boolean' && dtype === 'bool') return v ? 1 : 0; // a Uint8Array, as numpy's bool
    if (typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map((x) => ours(x, 'object'));
    const tagged = v as { int?: string; float?: string; bytes?: number[]; datetime?: string };
    if (tagged.int !== undefined) return dtype === 'int64' ? BigInt(tagged.int) : Number(tagged.int);
    if (tagged.float !== undefined) return dtype === 'str' ? null : Number(tagged.float);
    if (tagged.bytes !== undefined) return Buffer.from(tagged.bytes);
    if (tagged.datetime !== undefined) return new Date(`${tagged.datetime.slice(0, 23)}Z`); // milliseconds, as Date holds them
    return v;
  }

  it('loads its reader only when the first parquet body arrives', async () => {
    vi.resetModules();
    const fresh = await import('../../src/protocols/mlflow/parquet.js');
    const index = await import('../../src/protocols/mlflow/index.js');
    index.jsonCodec.decode('{"inputs": [[1.5]]}', undefined);
    expect(fresh.parquetReaderLoaded()).toBe(false);
    await fresh.parquetCodec.decode(bytes('iris.parquet'), undefined);
    expect(fresh.parquetReaderLoaded()).toBe(true);
  });

  const readable = Object.keys(expected).filter((k) => k.endsWith('.parquet') && !k.includes('lz4'));
  it.each(readable)('reads %s as pandas.read_parquet does', async (name) => {
    const want = expected[name];
    const df = await parquet(name);
    expect(df.columns).toEqual(want.columns);
    expect(df.rows).toBe(want.rows);
    want.columns.forEach((column, c) => {
      const dtype = DTYPE_OF[want.dtypes[c]];
      expect(df.values[c].dtype, column).toBe(dtype);
      expect(df.values[c].shape, column).toEqual([want.rows]);
      expect(values(df.values[c]), column).toEqual(want.values[c].map((v) => ours(v, dtype)));
    });
  });

  it('reads every compression, encoding and page layout pandas writes to the same frame', async () => {
    const plain = await parquet('typed.none.parquet');
    for (const name of ['snappy', 'zstd', 'gzip', 'brotli', 'plain', 'row-groups', 'page-v2']) {
      expect(await parquet(`typed.${name}.parquet`), name).toEqual(plain);
    }
  });

  it('holds columns as dataframe_split holds them: typed arrays, int64 as exact BigInt, strings with null', async () => {
    const df = await parquet('typed.snappy.parquet');
    expect(col(df, 'i64')).toEqual({
      dtype: 'int64',
      shape: [5],
      data: BigInt64Array.from([1n, -2n, 9007199254740993n, 4n, 5n]),
    });
    expect(col(df, 'f64').data).toBeInstanceOf(Float64Array);
    expect(col(df, 'f32').data).toBeInstanceOf(Float32Array);
    expect(col(df, 'b')).toEqual({ dtype: 'bool', shape: [5], data: Uint8Array.from([1, 0, 1, 1, 0]) });
    expect(col(df, 's')).toEqual({ dtype: 'str', shape: [5], data: ['a', null, 'ünï', 'a', ''] });
    const iris = await parquet('iris.parquet');
    const split = frameOf(
      dataframeSplitCodec.decode(
        {
          columns: IRIS_NAMES,
          data: [
            [5.1, 3.5, 1.4, 0.2],
            [6.7, 3.0, 5.2, 2.3],
            [5.9, 3.0, 4.2, 1.5],
          ],
        },
        IRIS_COLUMNS,
      ),
    );
    expect(iris).toEqual(split);
  });

  it("leaves types to schema enforcement, with MLflow's safe-cast rules (no parse-time cast, as pandas.read_parquet has none)", async () => {
    const typed = await parquet('typed.snappy.parquet', MIXED_COLUMNS);
    expect(col(typed, 'f32').dtype).toBe('float32');
    const enforce = compileEnforcer(
      schemaOf([
        { type: 'float', name: 'f64', required: true },
        { type: 'double', name: 'f32', required: true },
      ]),
    );
    const err = caught(() => enforce.enforce({ kind: 'dataframe', value: typed }));
    expect(err.message).toContain('Incompatible input types for column f64. Can not safely convert float64 to float32.');
  });

  it('drops the index pandas stores as a column, as read_parquet makes it the index', async () => {
    expect((await parquet('iris.indexed.parquet')).columns).toEqual(IRIS_NAMES);
    expect((await parquet('iris.named-index.parquet')).columns).toEqual(IRIS_NAMES);
  });

  it('refuses more rows than the limit before decoding anything', async () => {
    const err = await refusal(bytes('iris.parquet'), { maxRows: 2 });
    expect(err.code).toBe('BAD_REQUEST');
    expect(err.message).toBe('Invalid input. The request has 3 rows; the limit is 2.');
  });

  it('refuses a small file that decodes to more values than the limit, from its page headers, at once', async () => {
    const started = performance.now();
    const err = await refusal(bytes('bomb.parquet'));
    expect(err.status).toBe(400);
    expect(err.message).toBe(
      `Invalid input. The parquet body decodes to more than the limit of ${MAX_PARQUET_DECODED_BYTES} bytes or ${MAX_PARQUET_VALUES} values.`,
    );
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('refuses a body that is not parquet, or is cut short, with 400 and no data in the message', async () => {
    const PREFIX =
      "Invalid input. Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid parquet file produced using the `pandas.DataFrame.to_parquet()` method. Error: '";
    for (const body of [
      new TextEncoder().encode('{"inputs": [[5.1, 3.5, 1.4, 0.2]]}'),
      new Uint8Array(0),
      bytes('iris.parquet').slice(0, 2000),
    ]) {
      const err = await refusal(body);
      expect(err.code).toBe('BAD_REQUEST');
      expect(err.message.startsWith(PREFIX)).toBe(true);
      expect(err.message).not.toContain('5.1');
    }
    const cut = bytes('iris.parquet');
    cut.fill(7, 4, cut.length - 500); // pages garbled, footer intact
    expect((await refusal(cut)).status).toBe(400);
  });

  it('reads every corrupted or cut copy of a file as a frame or a 400, never a crash or a hang', async () => {
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const started = performance.now();
    for (const name of ['iris.parquet', 'typed.snappy.parquet', 'typed.zstd.parquet', 'typed.gzip.parquet', 'lists.parquet']) {
      const original = bytes(name);
      for (let i = 0; i < 150; i++) {
        const body = i % 5 === 0 ? original.slice(rand(original.length), original.length) : original.slice();
        for (let k = 1 + rand(8); k > 0 && i % 5 !== 0; k--) body[rand(body.length)] = rand(256);
        try {
          frameOf((await parquetCodec.decode(body, IRIS_COLUMNS)).input);
        } catch (err) {
          expect(err, `${name} #${i}: ${String(err)}`).toBeInstanceOf(GatewayError);
          expect((err as GatewayError).status).toBe(400);
        }
      }
    }
    expect(performance.now() - started).toBeLessThan(20_000);
  });

  it('names LZ4, which it does not read, in a 400', async () => {
    const err = await refusal(bytes('iris.lz4.parquet'));
    expect(err.status).toBe(400);
    expect(err.message).toContain("Error: 'parquet unsupported compression codec: LZ4_RAW'");
  });
});
