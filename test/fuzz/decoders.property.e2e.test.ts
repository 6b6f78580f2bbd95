/**
 * Property tests over the request path: for any body, content type and signature, decoding,
 * schema enforcement, params and encoding end in a prediction or a 4xx GatewayError — never
 * another exception (which would be a 500), never a hang. The same for V2 (`/infer`) bodies.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { scoreBody } from '../../src/core/scoring.js';
import { scoreInferRequest } from '../../src/core/scoring.js';
import { fakeServable } from '../fixtures/fake-flavors.js';

const DTYPES = ['float32', 'float64', 'int32', 'int64', 'bool', 'str', 'uint8', 'int8', 'object'];
const COL_TYPES = ['double', 'float', 'integer', 'long', 'boolean', 'string', 'binary', 'datetime'];

const dim = fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 4 }));
const tensorSpec = (named: boolean) =>
  fc.record({
    type: fc.constant('tensor'),
    'tensor-spec': fc.record({ dtype: fc.constantFrom(...DTYPES), shape: fc.array(dim, { minLength: 0, maxLength: 3 }) }),
    ...(named ? { name: fc.constantFrom('a', 'b', 'x', 'input', '__proto__', 'constructor') } : {}),
  });
const colType = fc.oneof(
  fc.constantFrom(...COL_TYPES).map((type) => ({ type })),
  fc.constantFrom(...COL_TYPES).map((t) => ({ type: 'array', items: { type: t } })),
  fc.constant({ type: 'object', properties: { p: { type: 'double', required: true } } }),
  fc.constant({ type: 'map', values: { type: 'long' } }),
  fc.constant({ type: 'any' }),
);
const colSpec = (named: boolean) =>
  fc.tuple(colType, fc.boolean(), fc.constantFrom('a', 'b', 'x', 'sepal_length', '__proto__', 'prompt')).map(([t, req, name]) => ({
    ...t,
    required: named ? req : true,
    ...(named ? { name } : {}),
  }));

/** Signatures as MLmodel would carry them; duplicate names are allowed on purpose (hostile artifacts). */
const signature = fc.oneof(
  fc.constant(undefined),
  fc.array(tensorSpec(true), { minLength: 1, maxLength: 3 }).map((s) => ({ inputs: JSON.stringify(s) })),
  tensorSpec(false).map((s) => ({ inputs: JSON.stringify([s]) })),
  fc.array(colSpec(true), { minLength: 1, maxLength: 4 }).map((s) => ({ inputs: JSON.stringify(s) })),
  fc.array(colSpec(false), { minLength: 1, maxLength: 3 }).map((s) => ({ inputs: JSON.stringify(s) })),
  fc.constant({
    inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 2]}}]',
    params: '[{"name": "k", "type": "long", "default": 3, "shape": null}, {"name": "t", "type": "double", "default": 0.5, "shape": [-1]}]',
  }),
);

const scalar = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map((b) => ({ raw: b.toString() })),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 8 }),
  fc.constantFrom('NaN', 'inf', '1e309', '5.1', '', 'AAAA', '2026-01-01'),
);
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('v'), { maxLength: 4 }),
    // Keys a plain object treats specially are ordinary names in a request.
    fc.dictionary(fc.constantFrom('a', 'b', 'x', 'p', 'sepal_length', '0', '__proto__', 'constructor', 'toString'), tie('v'), {
      maxKeys: 3,
    }),
  ),
})).v;

/** JSON text where `{raw: "…"}` becomes a bare (possibly huge) integer literal. */
function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    typeof x === 'object' && x !== null && 'raw' in x ? `@@${(x as { raw: string }).raw}@@` : x,
  ).replace(/"@@(-?\d+)@@"/g, '$1');
}

const body = fc.oneof(
  fc
    .record(
      {
        inputs: value,
        instances: value,
        dataframe_split: fc.oneof(
          value,
          fc.record({ columns: fc.array(fc.constantFrom('a', 'b', 'x', '__proto__'), { maxLength: 3 }), data: value }),
        ),
        dataframe_records: value,
        params: value,
        signature_name: value,
        messages: value,
        prompt: value,
        input: value,
        other: value,
      },
      { requiredKeys: [] },
    )
    .map(toJson),
  value.map(toJson),
  // Keys JSON.stringify cannot write from an object literal, and LLM-style bodies.
  fc
    .tuple(
      fc.constantFrom('__proto__', 'constructor', 'prompt', 'input', 'messages'),
      fc.constantFrom('inputs', 'instances', 'dataframe_records', ''),
      value,
    )
    .map(([k, fmt, v]) => `{"${k}": ${toJson(v)}${fmt === '' ? '' : `, "${fmt}": ${toJson(v)}`}}`),
  fc.string({ maxLength: 60 }),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.constantFrom(
    '',
    '{',
    '{"inputs": [[1, 2',
    '{"inputs": NaN}',
    '{"inputs": [Infinity, -Infinity]}',
    '{"a":1,"a":2}',
    'a,b\n1,2\n3',
    '"x',
  ),
);

const contentType = fc.oneof(
  fc.constantFrom(
    'application/json',
    'text/csv',
    'application/json; charset=utf-8',
    'text/csv; charset=UTF-8',
    'application/vnd.apache.parquet',
    'application/json; charset=latin-1',
    'application/json; format=pandas-split',
    'text/plain',
    '',
  ),
  fc.constant(undefined),
  fc.string({ maxLength: 30 }),
);

const V2_DATATYPES = ['BOOL', 'UINT8', 'INT8', 'INT32', 'INT64', 'UINT64', 'FP16', 'FP32', 'FP64', 'BYTES', 'BF16', '', 'fp32'];
const v2Tensor = fc.record(
  {
    name: fc.oneof(fc.constantFrom('a', 'b', 'x', 'input', 'sepal_length', '', '__proto__', 'constructor'), value),
    shape: fc.oneof(fc.array(fc.integer({ min: -1, max: 4 }), { maxLength: 3 }), value),
    datatype: fc.oneof(fc.constantFrom(...V2_DATATYPES), value),
    data: value,
    parameters: value,
  },
  { requiredKeys: ['name', 'shape', 'datatype', 'data'] },
);
/** Tensors whose data fills their shape, so bodies get past the framing into enforcement, the model and encoding. */
const v2Consistent = fc
  .tuple(
    fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }),
    fc.constantFrom(...V2_DATATYPES),
    fc.constantFrom('a', 'b', 'x', 'input', '__proto__'),
  )
  .chain(([shape, datatype, name]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return fc.array(scalar, { minLength: n, maxLength: n }).map((data) => ({ name, shape, datatype, data }));
  });
const v2Body = fc.oneof(
  fc.array(v2Consistent, { minLength: 1, maxLength: 3 }).map((inputs) => toJson({ inputs, parameters: { k: 2, t: [0.5] } })),
  fc
    .record(
      {
        id: fc.oneof(fc.string({ maxLength: 6 }), value),
        parameters: fc.oneof(fc.dictionary(fc.constantFrom('k', 't', 'content_type', 'headers'), value, { maxKeys: 3 }), value),
        inputs: fc.oneof(fc.array(v2Tensor, { maxLength: 3 }), value),
        outputs: fc.oneof(fc.array(fc.record({ name: fc.constantFrom('a', 'output-0', 'temperature') }), { maxLength: 2 }), value),
      },
      { requiredKeys: [] },
    )
    .map(toJson),
  body,
);

async function expectPredictionOr4xx(servable: unknown, run: () => Promise<string>, what: () => string): Promise<void> {
  try {
    const out = await run();
    expect(out.startsWith('{') || out.startsWith('[') || out === 'null' || /^[\d"tfN-]/.test(out)).toBe(true);
  } catch (err) {
    if (!(err instanceof GatewayError)) throw new Error(`non-gateway error for ${what()}: ${String(err)}`, { cause: err });
    expect(err.status, `${err.code}: ${err.message}`).toBeGreaterThanOrEqual(400);
    expect(err.status, `${err.code}: ${err.message}`).toBeLessThan(500);
  }
}

/** The fake model for a signature, or undefined when a hostile signature is (rightly) refused with a 4xx. */
async function servableFor(sig: Parameters<typeof fakeServable>[1], kind: 'echo' | 'params' = 'echo') {
  try {
    return await fakeServable({ kind }, sig);
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).status).toBeLessThan(500);
    return undefined;
  }
}

describe('request path properties', () => {
  it('ends every request in a prediction or a 4xx GatewayError', async () => {
    await fc.assert(
      fc.asyncProperty(signature, contentType, body, async (sig, ct, text) => {
        const servable = await servableFor(sig);
        if (servable === undefined) return;
        await expectPredictionOr4xx(
          servable,
          () => scoreBody(servable, ct, text),
          () => JSON.stringify({ sig, ct, text }),
        );
      }),
      { numRuns: 3000, interruptAfterTimeLimit: 40_000 },
    );
  }, 60_000);

  it('ends every V2 /infer body in a V2 response or a 4xx GatewayError', async () => {
    await fc.assert(
      fc.asyncProperty(signature, v2Body, fc.constantFrom('echo' as const, 'params' as const), async (sig, text, kind) => {
        const servable = await servableFor(sig, kind);
        if (servable === undefined) return;
        await expectPredictionOr4xx(
          servable,
          () => scoreInferRequest(servable, text),
          () => JSON.stringify({ sig, text, kind }),
        );
      }),
      { numRuns: 3000, interruptAfterTimeLimit: 40_000 },
    );
  }, 60_000);
});
