/**
 * Property tests over the request path: for any body, content type and signature, decoding,
 * schema enforcement, params and encoding end in a prediction or a 4xx GatewayError — never
 * another exception (which would be a 500), never a hang.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { scoreBody } from '../../src/serve/dataplane.js';
import { fakeServable } from '../fixtures/fake-flavors.js';

const DTYPES = ['float32', 'float64', 'int32', 'int64', 'bool', 'str', 'uint8', 'int8', 'object'];
const COL_TYPES = ['double', 'float', 'integer', 'long', 'boolean', 'string', 'binary', 'datetime'];

const dim = fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 4 }));
const tensorSpec = (named: boolean) =>
  fc.record({
    type: fc.constant('tensor'),
    'tensor-spec': fc.record({ dtype: fc.constantFrom(...DTYPES), shape: fc.array(dim, { minLength: 0, maxLength: 3 }) }),
    ...(named ? { name: fc.constantFrom('a', 'b', 'x', 'input') } : {}),
  });
const colType = fc.oneof(
  fc.constantFrom(...COL_TYPES).map((type) => ({ type })),
  fc.constantFrom(...COL_TYPES).map((t) => ({ type: 'array', items: { type: t } })),
  fc.constant({ type: 'object', properties: { p: { type: 'double', required: true } } }),
  fc.constant({ type: 'map', values: { type: 'long' } }),
  fc.constant({ type: 'any' }),
);
const colSpec = (named: boolean) =>
  fc.tuple(colType, fc.boolean(), fc.constantFrom('a', 'b', 'x', 'sepal_length')).map(([t, req, name]) => ({
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
    fc.dictionary(fc.constantFrom('a', 'b', 'x', 'p', 'sepal_length', '0'), tie('v'), { maxKeys: 3 }),
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
        dataframe_split: fc.oneof(value, fc.record({ columns: fc.array(fc.constantFrom('a', 'b', 'x'), { maxLength: 3 }), data: value })),
        dataframe_records: value,
        params: value,
        signature_name: value,
        messages: value,
        other: value,
      },
      { requiredKeys: [] },
    )
    .map(toJson),
  value.map(toJson),
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
    'application/json; charset=latin-1',
    'application/json; format=pandas-split',
    'text/plain',
    '',
  ),
  fc.constant(undefined),
  fc.string({ maxLength: 30 }),
);

describe('request path properties', () => {
  it('ends every request in a prediction or a 4xx GatewayError', async () => {
    await fc.assert(
      fc.asyncProperty(signature, contentType, body, async (sig, ct, text) => {
        let servable;
        try {
          servable = await fakeServable({ kind: 'echo' }, sig);
        } catch (err) {
          // A hostile signature is refused when the model loads, as a 4xx with a reason.
          expect(err).toBeInstanceOf(GatewayError);
          expect((err as GatewayError).status).toBeLessThan(500);
          return;
        }
        try {
          const out = await scoreBody(servable, ct, text);
          expect(out.startsWith('{') || out.startsWith('[') || out === 'null' || /^[\d"tfN-]/.test(out)).toBe(true);
        } catch (err) {
          if (!(err instanceof GatewayError))
            throw new Error(`non-gateway error for ${JSON.stringify({ sig, ct, text })}: ${String(err)}`, { cause: err });
          expect(err.status, `${err.code}: ${err.message}`).toBeGreaterThanOrEqual(400);
          expect(err.status, `${err.code}: ${err.message}`).toBeLessThan(500);
        }
      }),
      { numRuns: 3000, interruptAfterTimeLimit: 40_000 },
    );
  }, 60_000);
});
