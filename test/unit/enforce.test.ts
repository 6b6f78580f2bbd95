/**
 * Schema enforcement (src/schema/enforce.ts) and params (src/schema/params.ts) against MLflow's
 * rules (mlflow-serving.md §1.7): tensor rank, dims and dtype; named tensors; missing and extra
 * inputs; named and unnamed column signatures with their type conversions; complex column types;
 * params with defaults, declared types and unknown names.
 */
import { describe, expect, it } from 'vitest';
import { GatewayError, SchemaEnforcementError } from '../../src/errors.js';
import { compileEnforcer } from '../../src/schema/enforce.js';
import type { ModelInput } from '../../src/schema/model-io.js';
import type { DType, NDArray } from '../../src/schema/ndarray.js';
import { compileParams } from '../../src/schema/params.js';
import { type Schema, parseParams, schemaRepr } from '../../src/schema/signature.js';
import { decodeJsonValue } from '../../src/protocols/mlflow/index.js';
import { IRIS_COLUMNS, IRIS_NAMES, TENSOR_4, frameOf, schemaOf, tensorOf, tensorsOf, values } from '../fixtures/schemas.js';

// ------------------------------------------------------------------------------------------------
// Helpers

const NAMED_AB = schemaOf([
  { type: 'tensor', 'tensor-spec': { dtype: 'float32', shape: [-1, 3] }, name: 'a' },
  { type: 'tensor', 'tensor-spec': { dtype: 'float32', shape: [-1, 3] }, name: 'b' },
]);

const ARRAYS: Partial<Record<DType, (v: number[]) => NDArray['data']>> = {
  float64: (v) => Float64Array.from(v),
  float32: (v) => Float32Array.from(v),
  int32: (v) => Int32Array.from(v),
  int16: (v) => Int16Array.from(v),
  uint8: (v) => Uint8Array.from(v),
  uint32: (v) => Uint32Array.from(v),
  bool: (v) => Uint8Array.from(v),
  int64: (v) => BigInt64Array.from(v.map(BigInt)),
};

function arr(dtype: DType, shape: number[], v: number[]): NDArray {
  const make = ARRAYS[dtype];
  if (make === undefined) throw new Error(`no maker for ${dtype}`);
  return { dtype, shape, data: make(v) };
}

function objects(v: unknown[]): NDArray {
  return { dtype: 'object', shape: [v.length], data: v };
}

function frame(columns: (string | number)[], cols: NDArray[]): ModelInput {
  return { kind: 'dataframe', value: { columns, values: cols, rows: cols.length > 0 ? cols[0].shape[0] : 0 } };
}

const tensor = (a: NDArray): ModelInput => ({ kind: 'tensor', value: a });

/** Decodes a JSON body the way /invocations does, then enforces. */
function decodeAndEnforce(body: unknown, schema: Schema): ModelInput {
  return compileEnforcer(schema).enforce(decodeJsonValue(body, schema).input);
}

function enforce(schema: Schema, input: ModelInput): ModelInput {
  return compileEnforcer(schema).enforce(input);
}

/** The SchemaEnforcementError for `input`: MLflow's detail text, and the message without the data. */
function enforcementError(schema: Schema, input: ModelInput): SchemaEnforcementError {
  try {
    enforce(schema, input);
  } catch (err) {
    if (err instanceof SchemaEnforcementError) {
      expect(err.code).toBe('INVALID_PARAMETER_VALUE');
      expect(err.status).toBe(400);
      expect(err.message).toBe(`Failed to enforce schema of data with schema '${schemaRepr(schema)}'. Error: ${err.detail}`);
      return err;
    }
    throw err;
  }
  throw new Error('expected a SchemaEnforcementError, nothing was thrown');
}

const detailOf = (schema: Schema, input: ModelInput): string => enforcementError(schema, input).detail;

// ------------------------------------------------------------------------------------------------

describe('schemaRepr (the schema in messages)', () => {
  it("prints MLflow's repr for tensor and column signatures", () => {
    expect(schemaRepr(TENSOR_4)).toBe("[Tensor('float64', (-1, 4))]");
    expect(schemaRepr(NAMED_AB)).toBe("['a': Tensor('float32', (-1, 3)), 'b': Tensor('float32', (-1, 3))]");
    expect(schemaRepr(IRIS_COLUMNS)).toBe(
      "['sepal_length': double (required), 'sepal_width': double (required), 'petal_length': double (required), 'petal_width': double (required)]",
    );
    expect(
      schemaRepr(
        schemaOf([
          { type: 'string', name: 's', required: false },
          { type: 'array', items: { type: 'long' }, name: 'l' },
        ]),
      ),
    ).toBe("['s': string (optional), 'l': Array(long) (required)]");
  });
});

describe('an unnamed tensor signature', () => {
  it('passes a tensor of the right rank, dims and dtype unchanged', () => {
    const a = arr('float64', [2, 4], [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3]);
    expect(enforce(TENSOR_4, tensor(a))).toEqual({ kind: 'tensor', value: a });
  });

  it.each([
    [[1, 3], 'Shape of input (1, 3) does not match expected shape (-1, 4).'],
    [[1, 5], 'Shape of input (1, 5) does not match expected shape (-1, 4).'],
    [[4], 'Shape of input (4,) does not match expected shape (-1, 4).'],
    [[1, 1, 4], 'Shape of input (1, 1, 4) does not match expected shape (-1, 4).'],
    [[], 'Shape of input () does not match expected shape (-1, 4).'],
    [[0], 'Shape of input (0,) does not match expected shape (-1, 4).'],
  ])("refuses shape %j with MLflow's message", (shape, detail) => {
    const n = shape.reduce((p, d) => p * d, 1);
    expect(detailOf(TENSOR_4, tensor(arr('float64', shape, new Array<number>(n).fill(1))))).toBe(detail);
  });

  it('gives the message of the recording for 3 values in a row', () => {
    const err = enforcementError(TENSOR_4, decodeJsonValue({ inputs: [[5.1, 3.5, 1.4]] }, TENSOR_4).input);
    expect(err.message).toBe(
      "Failed to enforce schema of data with schema '[Tensor('float64', (-1, 4))]'. Error: Shape of input (1, 3) does not match expected shape (-1, 4).",
    );
  });

  it('treats every -1 as a wildcard and checks every other dim', () => {
    const s = schemaOf([{ type: 'tensor', 'tensor-spec': { dtype: 'float32', shape: [-1, -1, 3] } }]);
    expect(tensorOf(enforce(s, tensor(arr('float32', [2, 5, 3], new Array<number>(30).fill(0))))).shape).toEqual([2, 5, 3]);
    expect(detailOf(s, tensor(arr('float32', [2, 5, 2], new Array<number>(20).fill(0))))).toBe(
      'Shape of input (2, 5, 2) does not match expected shape (-1, -1, 3).',
    );
    const fixed = schemaOf([{ type: 'tensor', 'tensor-spec': { dtype: 'float64', shape: [2, 4] } }]);
    expect(detailOf(fixed, tensor(arr('float64', [1, 4], [1, 2, 3, 4])))).toBe(
      'Shape of input (1, 4) does not match expected shape (2, 4).',
    );
  });

  it('accepts a 1-D tensor for shape (-1,)', () => {
    const s = schemaOf([{ type: 'tensor', 'tensor-spec': { dtype: 'int64', shape: [-1] } }]);
    expect(tensorOf(enforce(s, tensor(arr('int64', [3], [1, 2, 3])))).shape).toEqual([3]);
  });

  it('refuses a dtype that would lose precision', () => {
    const f32 = schemaOf([{ type: 'tensor', 'tensor-spec': { dtype: 'float32', shape: [-1, 2] } }]);
    expect(detailOf(f32, tensor(arr('float64', [1, 2], [1, 2])))).toBe('dtype of input float64 does not match expected dtype float32');
    const i32 = schemaOf([{ type: 'tensor', 'tensor-spec': { dtype: 'int32', shape: [-1] } }]);
    expect(detailOf(i32, tensor(arr('int64', [1], [1])))).toBe('dtype of input int64 does not match expected dtype int32');
    expect(detailOf(i32, tensor(arr('float32', [1], [1])))).toBe('dtype of input float32 does not match expected dtype int32');
    expect(detailOf(TENSOR_4, tensor(arr('int64', [1, 4], [1, 2, 3, 4])))).toBe(
      'dtype of input int64 does not match expected dtype float64',
    );
    expect(detailOf(TENSOR_4, tensor({ dtype: 'str', shape: [1, 4], data: ['a', 'b', 'c', 'd'] }))).toBe(
      'dtype of input str does not match expected dtype float64',
    );
  });

  it('widens a dtype losslessly (float32 → float64, int32 → float64, int32 → int64, uint8 → int16)', () => {
    const f = tensorOf(enforce(TENSOR_4, tensor(arr('float32', [1, 4], [0.5, 1.5, 2.5, 3.5]))));
    expect(f).toEqual({ dtype: 'float64', shape: [1, 4], data: Float64Array.from([0.5, 1.5, 2.5, 3.5]) });
    expect(tensorOf(enforce(TENSOR_4, tensor(arr('int32', [1, 4], [1, 2, 3, 4])))).dtype).toBe('float64');
    const i64 = schemaOf([{ type: 'tensor', 'tensor-spec': { dtype: 'int64', shape: [-1] } }]);
    expect(tensorOf(enforce(i64, tensor(arr('int32', [2], [-1, 7]))))).toEqual({
      dtype: 'int64',
      shape: [2],
      data: BigInt64Array.from([-1n, 7n]),
    });
    const i16 = schemaOf([{ type: 'tensor', 'tensor-spec': { dtype: 'int16', shape: [-1] } }]);
    expect(tensorOf(enforce(i16, tensor(arr('uint8', [1], [255])))).dtype).toBe('int16');
  });

  it('refuses a dict of tensors', () => {
    expect(detailOf(TENSOR_4, decodeJsonValue({ inputs: { x: [[1, 2, 3, 4]] } }, TENSOR_4).input)).toBe(
      'This model contains a tensor-based model signature with no input names, which suggests a numpy array input or a pandas dataframe input with proper column values, but an input of type dict was found.',
    );
  });

  it('refuses an LLM-style body', () => {
    expect(detailOf(TENSOR_4, { kind: 'json', value: { prompt: 'x' } })).toContain('but an input of type json was found.');
  });

  describe('with a DataFrame', () => {
    it('stacks a frame of as many scalar columns as the last dim into one (N, 4) tensor, row-major', () => {
      const out = tensorOf(
        decodeAndEnforce(
          {
            dataframe_split: {
              columns: IRIS_NAMES,
              data: [
                [5.1, 3.5, 1.4, 0.2],
                [6.7, 3.0, 5.2, 2.3],
              ],
            },
          },
          TENSOR_4,
        ),
      );
      expect(out).toEqual({ dtype: 'float64', shape: [2, 4], data: Float64Array.from([5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3]) });
    });

    it('does so for records and for split data without column names', () => {
      const rec = tensorOf(decodeAndEnforce({ dataframe_records: [{ a: 5.1, b: 3.5, c: 1.4, d: 0.2 }] }, TENSOR_4));
      expect(values(rec)).toEqual([5.1, 3.5, 1.4, 0.2]);
      expect(tensorOf(decodeAndEnforce({ dataframe_split: { data: [[5.1, 3.5, 1.4, 0.2]] } }, TENSOR_4)).shape).toEqual([1, 4]);
    });

    it("refuses a frame whose column count is not the last dim, with MLflow's message", () => {
      const input = decodeJsonValue({ dataframe_records: [{ sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4 }] }, TENSOR_4).input;
      expect(detailOf(TENSOR_4, input)).toBe(
        'This model contains a model signature with an unnamed input. Since the input data is a pandas DataFrame containing multiple columns, the input shape must be of the structure (-1, number_of_dataframe_columns). Instead, the input DataFrame passed had 3 columns and an input shape of (-1, 4) with all values within the DataFrame of scalar type. Please adjust the passed in DataFrame to match the expected structure',
      );
    });

    it('vstacks a single column of list cells', () => {
      const out = tensorOf(
        decodeAndEnforce({ dataframe_split: { columns: ['features'], data: [[[5.1, 3.5, 1.4, 0.2]], [[6.7, 3.0, 5.2, 2.3]]] } }, TENSOR_4),
      );
      expect(out.shape).toEqual([2, 4]);
      expect(values(out)).toEqual([5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3]);
    });

    it('refuses list cells of the wrong length', () => {
      const input = decodeJsonValue({ dataframe_split: { columns: ['features'], data: [[[5.1, 3.5, 1.4]]] } }, TENSOR_4).input;
      expect(detailOf(TENSOR_4, input)).toBe('Shape of input (1, 3) does not match expected shape (-1, 4).');
    });

    it('makes a single scalar column (N,) for shape (-1,) and (N, 1) for shape (-1, 1)', () => {
      const flat = schemaOf([{ type: 'tensor', 'tensor-spec': { dtype: 'float64', shape: [-1] } }]);
      const one = schemaOf([{ type: 'tensor', 'tensor-spec': { dtype: 'float64', shape: [-1, 1] } }]);
      const body = { dataframe_split: { columns: ['x'], data: [[1.5], [2.5]] } };
      expect(tensorOf(decodeAndEnforce(body, flat)).shape).toEqual([2]);
      expect(tensorOf(decodeAndEnforce(body, one))).toEqual({ dtype: 'float64', shape: [2, 1], data: Float64Array.from([1.5, 2.5]) });
    });

    it('refuses an empty frame', () => {
      expect(
        detailOf(
          TENSOR_4,
          frame(
            IRIS_NAMES,
            IRIS_NAMES.map(() => arr('float64', [0], [])),
          ),
        ),
      ).toBe('Input DataFrame is empty.');
    });
  });
});

describe('a named tensor signature', () => {
  const row = [1, 2, 3];

  it('checks each named tensor and keeps only the declared ones', () => {
    const out = tensorsOf(decodeAndEnforce({ inputs: { a: [row], b: [row, row], extra: [9] } }, NAMED_AB));
    expect(Object.keys(out)).toEqual(['a', 'b']);
    expect(out.a).toEqual({ dtype: 'float32', shape: [1, 3], data: Float32Array.from(row) });
    expect(out.b.shape).toEqual([2, 3]);
  });

  it("names missing inputs, and the extra ones, in MLflow's words", () => {
    expect(detailOf(NAMED_AB, decodeJsonValue({ inputs: { b: [row], c: [row] } }, NAMED_AB).input)).toBe(
      "Model is missing inputs ['a']. Note that there were extra inputs: ['c'].",
    );
    expect(detailOf(NAMED_AB, decodeJsonValue({ inputs: { a: [row] } }, NAMED_AB).input)).toBe("Model is missing inputs ['b'].");
    expect(detailOf(NAMED_AB, decodeJsonValue({ inputs: { x: [row], y: [row] } }, NAMED_AB).input)).toBe(
      "Model is missing inputs ['a', 'b']. Note that there were extra inputs: ['x', 'y'].",
    );
  });

  it('checks the shape of each named tensor', () => {
    expect(detailOf(NAMED_AB, decodeJsonValue({ inputs: { a: [row], b: [[1, 2]] } }, NAMED_AB).input)).toBe(
      'Shape of input (1, 2) does not match expected shape (-1, 3).',
    );
  });

  it('takes row objects from "instances", transposed', () => {
    const out = tensorsOf(
      decodeAndEnforce(
        {
          instances: [
            { a: row, b: row },
            { a: [4, 5, 6], b: [7, 8, 9] },
          ],
        },
        NAMED_AB,
      ),
    );
    expect(out.a).toEqual({ dtype: 'float32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) });
    expect(values(out.b)).toEqual([1, 2, 3, 7, 8, 9]);
  });

  it('takes a DataFrame whose columns hold the tensors as list cells', () => {
    const out = tensorsOf(decodeAndEnforce({ dataframe_records: [{ a: row, b: [4, 5, 6] }] }, NAMED_AB));
    expect(out.a).toEqual({ dtype: 'float32', shape: [1, 3], data: Float32Array.from(row) });
    expect(out.b).toEqual({ dtype: 'float32', shape: [1, 3], data: Float32Array.from([4, 5, 6]) });
  });

  it('refuses a bare ndarray', () => {
    expect(detailOf(NAMED_AB, tensor(arr('float32', [1, 3], row)))).toBe(
      'This model contains a tensor-based model signature with input names, which suggests a dictionary input mapping input name to tensor, or a pandas DataFrame input containing columns mapping input name to flattened list value from tensor, but an input of type ndarray was found.',
    );
  });
});

describe('a named column signature', () => {
  const irisRow = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };

  it('passes a typed frame and puts the columns in signature order', () => {
    const df = frameOf(
      decodeAndEnforce({ dataframe_records: [{ petal_width: 0.2, petal_length: 1.4, sepal_width: 3.5, sepal_length: 5.1 }] }, IRIS_COLUMNS),
    );
    expect(df.columns).toEqual(IRIS_NAMES);
    expect(df.values.map((c) => values(c)[0])).toEqual([5.1, 3.5, 1.4, 0.2]);
    expect(df.rows).toBe(1);
  });

  it('drops extra columns silently (a to_csv() index column, an id)', () => {
    const df = frameOf(decodeAndEnforce({ dataframe_records: [{ id: 'r1', ...irisRow, 'Unnamed: 0': 0 }] }, IRIS_COLUMNS));
    expect(df.columns).toEqual(IRIS_NAMES);
  });

  it("names missing required columns, and the extra ones, in MLflow's words", () => {
    const { petal_width: _, ...three } = irisRow;
    expect(detailOf(IRIS_COLUMNS, decodeJsonValue({ dataframe_records: [three] }, IRIS_COLUMNS).input)).toBe(
      "Model is missing inputs ['petal_width'].",
    );
    expect(detailOf(IRIS_COLUMNS, decodeJsonValue({ dataframe_records: [{ ...three, petal_wdth: 0.2 }] }, IRIS_COLUMNS).input)).toBe(
      "Model is missing inputs ['petal_width']. Note that there were extra inputs: ['petal_wdth'].",
    );
  });

  it('refuses rows without names: integer labels are extra inputs, as in the recording', () => {
    for (const body of [
      { inputs: [[5.1, 3.5, 1.4, 0.2]] },
      { instances: [[5.1, 3.5, 1.4, 0.2]] },
      { dataframe_split: { data: [[5.1, 3.5, 1.4, 0.2]] } },
    ]) {
      expect(detailOf(IRIS_COLUMNS, decodeJsonValue(body, IRIS_COLUMNS).input)).toBe(
        "Model is missing inputs ['sepal_length', 'sepal_width', 'petal_length', 'petal_width']. Note that there were extra inputs: [0, 1, 2, 3].",
      );
    }
    expect(detailOf(IRIS_COLUMNS, decodeJsonValue({ inputs: [['5.1', 3.5, 1.4]] }, IRIS_COLUMNS).input)).toBe(
      "Model is missing inputs ['sepal_length', 'sepal_width', 'petal_length', 'petal_width']. Note that there were extra inputs: [0, 1, 2].",
    );
  });

  it('takes a dict of columns from "inputs" and row objects from "instances"', () => {
    const cols = Object.fromEntries(IRIS_NAMES.map((n) => [n, [irisRow[n as keyof typeof irisRow]]]));
    expect(frameOf(decodeAndEnforce({ inputs: cols }, IRIS_COLUMNS)).columns).toEqual(IRIS_NAMES);
    expect(frameOf(decodeAndEnforce({ instances: [irisRow, irisRow] }, IRIS_COLUMNS)).rows).toBe(2);
  });

  it('refuses an LLM-style body', () => {
    expect(detailOf(IRIS_COLUMNS, { kind: 'json', value: { messages: [] } })).toBe(
      'This model has a column-based signature, which cannot take an LLM-style request body.',
    );
  });

  describe('optional columns', () => {
    const s = schemaOf([
      { type: 'double', name: 'x', required: true },
      { type: 'string', name: 'note', required: false },
      { type: 'long', name: 'n', required: false },
    ]);

    it('may be absent', () => {
      const df = frameOf(decodeAndEnforce({ dataframe_records: [{ x: 1.5 }] }, s));
      expect(df.columns).toEqual(['x']);
    });

    it('may hold missing values', () => {
      const df = frameOf(decodeAndEnforce({ dataframe_records: [{ x: 1.5, note: 'a' }, { x: 2.5 }] }, s));
      expect(df.columns).toEqual(['x', 'note']);
      expect(values(df.values[1])).toEqual(['a', null]);
    });

    it('do not excuse a missing required column', () => {
      expect(detailOf(s, decodeJsonValue({ dataframe_records: [{ y: 1 }] }, s).input)).toBe(
        "Model is missing inputs ['x']. Note that there were extra inputs: ['y'].",
      );
    });

    // MLflow's _enforce_schema: extra_cols = actual_cols - required_cols - optional_cols.
    it('are not reported as extra inputs when a required column is missing', () => {
      expect(detailOf(s, decodeJsonValue({ dataframe_records: [{ note: 'a', n: 1 }] }, s).input)).toBe("Model is missing inputs ['x'].");
    });
  });

  describe('column types', () => {
    const s = schemaOf([
      { type: 'double', name: 'd' },
      { type: 'float', name: 'f' },
      { type: 'integer', name: 'i' },
      { type: 'long', name: 'l' },
      { type: 'string', name: 's' },
      { type: 'boolean', name: 'b' },
    ]);
    const names = ['d', 'f', 'i', 'l', 's', 'b'];
    /** Columns of the declared types, `n` rows each. */
    const typedColumns = (n: number): Record<string, NDArray> => {
      const ones = new Array<number>(n).fill(1);
      return {
        d: arr('float64', [n], ones),
        f: arr('float32', [n], ones),
        i: arr('int32', [n], ones),
        l: arr('int64', [n], ones),
        s: { dtype: 'str', shape: [n], data: ones.map(() => 'x') },
        b: arr('bool', [n], ones),
      };
    };
    /** A frame of typed columns with the named one replaced by `c`. */
    const withColumn = (name: string, c: NDArray): ModelInput => {
      const cols = typedColumns(c.shape[0]);
      return frame(
        names,
        names.map((n) => (n === name ? c : cols[n])),
      );
    };
    const enforced = (name: string, c: NDArray): NDArray => frameOf(enforce(s, withColumn(name, c))).values[names.indexOf(name)];

    it('keeps columns of the declared types as they are', () => {
      const input = withColumn('d', arr('float64', [1], [2.5]));
      expect(frameOf(enforce(s, input)).values).toEqual(frameOf(input).values);
    });

    it('upcasts safely: int32 → long, float32 → double, int16 → integer, unsigned → a larger signed type', () => {
      expect(enforced('l', arr('int32', [2], [1, -2]))).toEqual({ dtype: 'int64', shape: [2], data: BigInt64Array.from([1n, -2n]) });
      expect(enforced('d', arr('float32', [1], [0.5]))).toEqual({ dtype: 'float64', shape: [1], data: Float64Array.from([0.5]) });
      expect(enforced('i', arr('int16', [1], [7])).dtype).toBe('int32');
      expect(enforced('i', arr('uint8', [1], [200])).dtype).toBe('int32');
      expect(enforced('l', arr('uint32', [1], [4000000000]))).toEqual({
        dtype: 'int64',
        shape: [1],
        data: BigInt64Array.from([4000000000n]),
      });
      expect(enforced('d', arr('int32', [1], [3])).dtype).toBe('float64');
    });

    it('converts int64 to a float column', () => {
      expect(enforced('d', arr('int64', [2], [0, 5]))).toEqual({ dtype: 'float64', shape: [2], data: Float64Array.from([0, 5]) });
    });

    it("refuses conversions that alter values, with MLflow's message", () => {
      expect(detailOf(s, withColumn('f', arr('float64', [1], [0.1])))).toBe(
        'Incompatible input types for column f. Can not safely convert float64 to float32.',
      );
      expect(detailOf(s, withColumn('i', arr('uint32', [1], [1])))).toBe(
        'Incompatible input types for column i. Can not safely convert uint32 to int32.',
      );
      expect(detailOf(s, withColumn('i', arr('int64', [1], [1])))).toBe(
        'Incompatible input types for column i. Can not safely convert int64 to int32.',
      );
      expect(detailOf(s, withColumn('i', arr('float64', [1], [1])))).toContain(
        'Incompatible input types for column i. Can not safely convert float64 to int32.',
      );
      expect(detailOf(s, withColumn('b', arr('int32', [1], [1])))).toBe(
        'Incompatible input types for column b. Can not safely convert int32 to bool.',
      );
    });

    it('converts untyped (object) columns of numbers, and refuses the ones that do not convert', () => {
      expect(enforced('d', objects([1, 2.5]))).toEqual({ dtype: 'float64', shape: [2], data: Float64Array.from([1, 2.5]) });
      expect(enforced('l', objects([3]))).toEqual({ dtype: 'int64', shape: [1], data: BigInt64Array.from([3n]) });
      expect(enforced('b', objects([true, false]))).toEqual({ dtype: 'bool', shape: [2], data: Uint8Array.from([1, 0]) });
      expect(detailOf(s, withColumn('d', objects(['abc'])))).toBe(
        'Incompatible input types for column d. Can not safely convert object to float64.',
      );
      expect(detailOf(s, withColumn('i', objects([1.5])))).toContain(
        'Incompatible input types for column i. Can not safely convert object to int32.',
      );
    });

    it('needs strings in a string column', () => {
      expect(enforced('s', objects(['a', 'b']))).toEqual({ dtype: 'str', shape: [2], data: ['a', 'b'] });
      expect(detailOf(s, withColumn('s', objects([5])))).toBe(
        'Incompatible input types for column s. Can not safely convert number to str.',
      );
      expect(detailOf(s, withColumn('s', arr('float64', [1], [5])))).toBe(
        'Incompatible input types for column s. Can not safely convert float64 to str.',
      );
    });
  });

  describe('complex column types (array, object, map)', () => {
    const s = schemaOf([
      { type: 'array', items: { type: 'double' }, name: 'tags', required: true },
      {
        type: 'object',
        properties: { a: { type: 'string', required: true }, b: { type: 'long', required: false } },
        name: 'obj',
        required: true,
      },
      { type: 'map', values: { type: 'boolean' }, name: 'flags', required: false },
    ]);

    it('passes values of the declared structure', () => {
      const df = frameOf(
        decodeAndEnforce(
          {
            dataframe_records: [
              { tags: [1, 2.5], obj: { a: 'x' }, flags: { k: true } },
              { tags: [], obj: { a: 'y', b: 3 }, flags: null },
            ],
          },
          s,
        ),
      );
      expect(df.columns).toEqual(['tags', 'obj', 'flags']);
      expect(values(df.values[0])).toEqual([[1, 2.5], []]);
    });

    it('names the column and the row of a value that does not fit', () => {
      const bad = (rec: Record<string, unknown>) =>
        detailOf(s, decodeJsonValue({ dataframe_records: [{ tags: [1], obj: { a: 'x' }, ...rec }] }, s).input);
      expect(bad({ tags: ['x'] })).toMatch(/^Failed to enforce schema of column tags: row 0: value\/0 must be number/);
      expect(bad({ obj: { b: 1 } })).toMatch(/^Failed to enforce schema of column obj: row 0: value must have required property 'a'/);
      expect(bad({ flags: { k: 'yes' } })).toMatch(/^Failed to enforce schema of column flags: row 0: value\/k must be boolean/);
    });
  });
});

describe('an unnamed column signature', () => {
  const s = schemaOf([{ type: 'double' }, { type: 'long' }]);

  it('checks only the column count, matching by position', () => {
    const df = frameOf(
      decodeAndEnforce(
        {
          inputs: [
            [1.5, 2],
            [2.5, 3],
          ],
        },
        s,
      ),
    );
    expect(df.columns).toEqual([0, 1]);
    expect(df.values[0]).toEqual({ dtype: 'float64', shape: [2], data: Float64Array.from([1.5, 2.5]) });
    expect(df.values[1]).toEqual({ dtype: 'int64', shape: [2], data: BigInt64Array.from([2n, 3n]) });
  });

  it("refuses too few columns, with MLflow's message", () => {
    expect(detailOf(s, decodeJsonValue({ inputs: [[1.5]] }, s).input)).toBe(
      'Model inference is missing inputs. The model signature declares 2 inputs  but the provided value only has 1 inputs. Note: the inputs were not named in the signature so we can only verify their count.',
    );
  });

  it('drops columns beyond the declared count', () => {
    const df = frameOf(decodeAndEnforce({ inputs: [[1.5, 2, 'extra']] }, s));
    expect(df.columns).toEqual([0, 1]);
  });
});

describe('params', () => {
  const specs = parseParams(
    JSON.stringify([
      { name: 'temperature', type: 'double', default: 0.7, shape: null },
      { name: 'max_tokens', type: 'long', default: 16, shape: null },
      { name: 'stream', type: 'boolean', default: false, shape: null },
      { name: 'stop', type: 'string', default: ['\n'], shape: [-1] },
      { name: 'when', type: 'datetime', default: '2026-01-01T00:00:00', shape: null },
      { name: 'weights', dtype: 'float', default: null, shape: [-1] },
      { name: 'config', type: 'object', default: { a: 1 }, shape: null },
    ]),
  );
  const params = compileParams(specs);
  const defaults = {
    temperature: 0.7,
    max_tokens: 16,
    stream: false,
    stop: ['\n'],
    when: '2026-01-01T00:00:00',
    weights: null,
    config: { a: 1 },
  };

  function invalid(raw: Record<string, unknown>): GatewayError {
    try {
      params.resolve(raw);
    } catch (err) {
      if (err instanceof GatewayError) return err;
      throw err;
    }
    throw new Error('expected invalid params');
  }

  it('reads the params schema, "dtype" standing for "type"', () => {
    expect(specs?.find((p) => p.name === 'weights')).toEqual({ name: 'weights', type: 'float', default: null, shape: [-1] });
  });

  it('gives every declared param its default when none is sent', () => {
    expect(params.resolve(undefined)).toEqual({ params: defaults, ignored: [] });
    expect(params.resolve({})).toEqual({ params: defaults, ignored: [] });
  });

  it('takes sent values over the defaults; null asks for the default', () => {
    const { params: p } = params.resolve({ temperature: 0.1, max_tokens: null, stop: ['.', '!'], stream: true });
    expect(p).toEqual({ ...defaults, temperature: 0.1, stop: ['.', '!'], stream: true });
  });

  it('accepts the conversions MLflow allows: an integer for a double, for a float list', () => {
    expect(params.resolve({ temperature: 1, weights: [1, 2.5] }).params).toMatchObject({ temperature: 1, weights: [1, 2.5] });
  });

  it('accepts parseable datetimes and objects', () => {
    expect(params.resolve({ when: '2026-11-26T15:00:00Z', config: { b: 2 } }).params).toMatchObject({
      when: '2026-11-26T15:00:00Z',
      config: { b: 2 },
    });
  });

  it('ignores params the signature does not declare, and names them', () => {
    const { params: p, ignored } = params.resolve({ top_k: 5, temperature: 0.2, seed: 1 });
    expect(ignored).toEqual(['top_k', 'seed']);
    expect(p).not.toHaveProperty('top_k');
    expect(p.temperature).toBe(0.2);
  });

  it('ignores every param of a model without a params schema', () => {
    expect(compileParams(undefined).resolve({ a: 1, b: 2 })).toEqual({ params: {}, ignored: ['a', 'b'] });
    expect(compileParams([]).resolve(undefined)).toEqual({ params: {}, ignored: [] });
  });

  it.each([
    [{ temperature: 'hot' }, 'temperature'],
    [{ max_tokens: 1.5 }, 'max_tokens'],
    [{ max_tokens: '16' }, 'max_tokens'],
    [{ stream: 'true' }, 'stream'],
    [{ stop: '.' }, 'stop'],
    [{ stop: [1] }, 'stop'],
    [{ weights: 0.5 }, 'weights'],
    [{ when: 'not a date' }, 'when'],
    [{ config: [1] }, 'config'],
  ])('refuses a value of the wrong type or shape with 400 "Invalid parameters found": %j', (raw, name) => {
    const err = invalid(raw);
    expect(err.code).toBe('INVALID_PARAMETER_VALUE');
    expect(err.status).toBe(400);
    expect(err.message.startsWith(`Invalid parameters found: {'${name}': `)).toBe(true);
  });

  it('names every invalid param at once', () => {
    const err = invalid({ temperature: 'hot', stream: 1, top_k: 'ignored' });
    expect(err.message).toMatch(/^Invalid parameters found: \{'temperature': .*, 'stream': .*\}$/);
    expect(err.message).not.toContain('top_k');
  });

  it('comes from the body\'s "params" next to the data', () => {
    const req = decodeJsonValue({ inputs: [[1.5]], params: { temperature: 0.3, unknown: 1 } }, undefined);
    expect(params.resolve(req.params)).toEqual({ params: { ...defaults, temperature: 0.3 }, ignored: ['unknown'] });
  });
});
