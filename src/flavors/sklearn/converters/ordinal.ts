/**
 * `sklearn.preprocessing.OrdinalEncoder`: `handle_unknown` 'error' or 'use_encoded_value'
 * (`unknown_value`), a NaN category encoded as `encoded_missing_value` (`_missing_indices`;
 * a None category is an ordinary category, as in scikit-learn), and 1.3+'s infrequent
 * categories (grouped into one code after the frequent ones; the missing category is never
 * grouped). Each column's code is mapped through one float64 table.
 */
import type { CompileContext, Converter, Value } from '../context.js';
import { PyDict } from '../pickle/index.js';
import { type Estimator, scalar } from '../state.js';
import { categoriesOf, categoryCodes, checkOutputDType, infrequentOf, lookup } from './categories.js';

/** `_missing_indices`: column → index of its NaN category. */
function missingIndices(est: Estimator): Map<number, number> {
  const d = est.req('_missing_indices');
  if (!(d instanceof PyDict) || d.strings.size > 0) est.refuse('_missing_indices is not a dict of column indices');
  const out = new Map<number, number>();
  for (const [k, v] of d.others) {
    const key = Number(typeof k === 'bigint' ? k : scalar(k));
    const val = Number(typeof v === 'bigint' ? v : scalar(v));
    if (!Number.isInteger(key) || !Number.isInteger(val)) est.refuse('_missing_indices is not a dict of column indices');
    out.set(key, val);
  }
  return out;
}

function number(est: Estimator, key: string): number {
  const v = scalar(est.raw(key));
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  est.refuse(`'${key}' is not a number`);
}

/** Output of every code (entry 0: unknown values). */
function valueTable(est: Estimator, j: number, k: number, missingAt: number | undefined, unknown: number): Float64Array {
  const inf = infrequentOf(est, j, k);
  if (inf !== null && inf.mapping.length !== (missingAt === undefined ? k : k - 1))
    est.refuse(`its infrequent mapping for column ${j} does not cover categories_[${j}]`);
  const table = new Float64Array(k + 1);
  table[0] = unknown;
  for (let c = 0; c < k; c++) {
    if (c === missingAt) table[c + 1] = number(est, 'encoded_missing_value');
    else table[c + 1] = inf === null ? c : inf.mapping[c];
  }
  return table;
}

export const ordinalEncoderConverter: Converter = {
  transform(est: Estimator, input: Value, ctx: CompileContext): Value {
    const g = ctx.g;
    const policy = est.str('handle_unknown');
    if (policy !== 'error' && policy !== 'use_encoded_value') est.refuse(`handle_unknown '${policy}' is not supported`);
    checkOutputDType(est);
    const cats = categoriesOf(est, input);
    const missing = missingIndices(est);
    // Unknown rows of an 'error' encoder fail the request, so their table entry is never used.
    const unknown = policy === 'use_encoded_value' ? number(est, 'unknown_value') : NaN;
    const outs = cats.map((c, j) => {
      const code = categoryCodes(est, input, j, c, ctx);
      if (policy === 'error')
        ctx.assert(g.op('Less', [code, g.int64([0], [])]), `Found unknown categories in column ${j} during transform (${est.name}).`);
      const at = missing.get(j);
      if (at !== undefined && (at < 0 || at >= c.size)) est.refuse(`_missing_indices points outside categories_[${j}]`);
      return lookup(ctx, code, g.double(valueTable(est, j, c.size, at, unknown)));
    });
    return { kind: 'numeric', name: outs.length === 1 ? outs[0] : g.op('Concat', outs, { axis: { i: 1 } }), width: cats.length };
  },
};
