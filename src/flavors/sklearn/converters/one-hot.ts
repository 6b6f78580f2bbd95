/**
 * `sklearn.preprocessing.OneHotEncoder` with `handle_unknown` 'error', 'ignore' (and
 * 'infrequent_if_exist' without infrequent categories, which acts as 'ignore'), and `drop`.
 * String categories are matched with a LabelEncoder (exact string equality; a None cell matches a
 * None category), numeric ones with float64 equality (NaN matches a NaN category).
 */
import type { GraphBuilder } from '../../../onnx/graph-builder.js';
import { ML_DOMAIN } from '../../../onnx/graph-builder.js';
import type { CompileContext, Converter, Value } from '../context.js';
import { NdArray, type PyValue } from '../pickle/index.js';
import { type Estimator, asList, scalar, toDoubles } from '../state.js';

interface ColumnCode {
  /** bool [N, k] one-hot columns before dropping. */
  readonly hot: string;
  /** bool [N, 1]: the value is not a known category. */
  readonly unknown: string;
  readonly k: number;
}

function column(v: Value, j: number, ctx: CompileContext, est: Estimator, wantStrings: boolean): { x: string; none?: string } {
  const g = ctx.g;
  const idx = g.int64([j]);
  const gather = (t: string) => g.op('Gather', [t, idx], { axis: { i: 1 } });
  if (v.kind === 'columns') {
    const one: Value = { kind: 'columns', columns: [v.columns[j]] };
    if (wantStrings) {
      const s = ctx.strings(one, est);
      return { x: s.name, none: s.none };
    }
    return { x: ctx.numeric(one, est).name };
  }
  if (wantStrings !== (v.kind === 'strings'))
    est.refuse(`column ${j} has ${wantStrings ? 'string' : 'numeric'} categories but receives ${v.kind} data`);
  return v.kind === 'strings' ? { x: gather(v.name), none: gather(v.none) } : { x: gather(v.name) };
}

function encodeStrings(g: GraphBuilder, x: string, none: string, cats: readonly PyValue[]): ColumnCode {
  const strs = cats.flatMap((c, i) => (typeof c === 'string' ? [[c, i] as const] : []));
  const noneAt = cats.indexOf(null);
  g.useDomain(ML_DOMAIN, 2);
  let code = g.op(
    'LabelEncoder',
    [x],
    { keys_strings: { strings: strs.map((s) => s[0]) }, values_int64s: { ints: strs.map((s) => s[1]) }, default_int64: { i: -1 } },
    { domain: ML_DOMAIN },
  );
  code = g.op('Where', [none, g.int64([noneAt], []), code]);
  const hot = g.op('Equal', [
    code,
    g.int64(
      cats.map((_, i) => i),
      [1, cats.length],
    ),
  ]);
  return { hot, unknown: g.op('Less', [code, g.int64([0], [])]), k: cats.length };
}

function encodeNumbers(g: GraphBuilder, x: string, cats: Float64Array): ColumnCode {
  const hasNaN = cats.some(Number.isNaN);
  let hot = g.op('Equal', [x, g.double(cats, [1, cats.length])]);
  if (hasNaN)
    hot = g.op('Or', [hot, g.op('And', [g.op('IsNaN', [x]), g.constant('bool', [1, cats.length], Array.from(cats, Number.isNaN))])]);
  const any = g.op('ReduceMax', [g.op('Cast', [hot], { to: { i: 11 } }), g.int64([1])], { keepdims: { i: 1 } });
  return { hot, unknown: g.op('Equal', [any, g.double([0], [])]), k: cats.length };
}

/** `drop_idx_[j]`: the category index dropped from column j, or -1. */
function dropIndex(est: Estimator, j: number): number {
  const d = est.raw('drop_idx_');
  if (d === null || d === undefined) return -1;
  if (!(d instanceof NdArray)) est.refuse('drop_idx_ is not an array');
  const v = scalar(d.data[j] as PyValue);
  if (v === null) return -1;
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n)) est.refuse('drop_idx_ is not a list of indices');
  return n;
}

function encodeColumn(est: Estimator, input: Value, j: number, cats: NdArray, ctx: CompileContext): { out: string; unknown: string } {
  const g = ctx.g;
  const strings = cats.dtype?.kind === 'O' || cats.dtype?.kind === 'U';
  let code: ColumnCode;
  if (strings) {
    const items = cats.data as PyValue[];
    if (!items.every((c) => typeof c === 'string' || c === null || (typeof c === 'number' && Number.isNaN(c)))) {
      est.refuse(`categories_[${j}] mixes strings with other values`);
    }
    const col = column(input, j, ctx, est, true);
    code = encodeStrings(g, col.x, col.none as string, items);
  } else {
    code = encodeNumbers(
      g,
      column(input, j, ctx, est, false).x,
      toDoubles(cats, () => est.refuse(`categories_[${j}] are not numeric`)),
    );
  }
  const drop = dropIndex(est, j);
  const keep = Array.from({ length: code.k }, (_, i) => i).filter((i) => i !== drop);
  let hot = g.op('Cast', [code.hot], { to: { i: 11 } });
  if (keep.length !== code.k) hot = g.op('Gather', [hot, g.int64(keep)], { axis: { i: 1 } });
  return { out: hot, unknown: code.unknown };
}

export const oneHotEncoderConverter: Converter = {
  transform(est: Estimator, input: Value, ctx: CompileContext): Value {
    if (est.bool('_infrequent_enabled', false)) est.refuse('infrequent categories (min_frequency / max_categories) are not supported');
    const unknownPolicy = est.str('handle_unknown');
    if (!['error', 'ignore', 'infrequent_if_exist', 'warn'].includes(unknownPolicy))
      est.refuse(`handle_unknown '${unknownPolicy}' is not supported`);
    const cats = asList(est.req('categories_'));
    const width = input.kind === 'columns' ? input.columns.length : input.width;
    if (cats === undefined || cats.length !== width) est.refuse(`categories_ does not match its ${width} input columns`);
    if (!cats.every((c): c is NdArray => c instanceof NdArray)) est.refuse('categories_ is not a list of arrays');
    const parts = cats.map((c, j) => encodeColumn(est, input, j, c, ctx));
    if (unknownPolicy === 'error') {
      parts.forEach((p, j) =>
        ctx.assert(p.unknown, `Found unknown categories in column ${j} during transform (${est.name}, handle_unknown='error').`),
      );
    }
    const outs = parts.map((p) => p.out);
    const name = outs.length === 1 ? outs[0] : ctx.g.op('Concat', outs, { axis: { i: 1 } });
    const total = cats.reduce((a, c, j) => a + c.size - (dropIndex(est, j) >= 0 ? 1 : 0), 0);
    return { kind: 'numeric', name, width: total };
  },
};
