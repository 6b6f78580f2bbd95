/**
 * `sklearn.preprocessing.OneHotEncoder`: `handle_unknown` 'error', 'ignore',
 * 'infrequent_if_exist' and 'warn' (1.6+: the same as 'infrequent_if_exist' plus a warning),
 * infrequent categories (`min_frequency` / `max_categories`, grouped into one last column per
 * feature), and `drop` ('first', 'if_binary', an explicit array; applied after grouping). Sparse
 * and dense outputs hold the same numbers, so `sparse` / `sparse_output` do not matter.
 * Each column's code is mapped through one table to its output position (-1: no column set).
 */
import type { CompileContext, Converter, Value } from '../context.js';
import { NdArray, type PyValue } from '../pickle/index.js';
import { type Estimator, asList, scalar } from '../state.js';
import { categoriesOf, categoryCodes, checkOutputDType, infrequentOf, lookup } from './categories.js';

/**
 * The grouped category index dropped from column j, or -1. 1.3+ keeps it in
 * `_drop_idx_after_grouping` (its public `drop_idx_` indexes `categories_`); 1.1-1.2 kept the
 * grouped index in `drop_idx_` itself.
 */
function dropIndex(est: Estimator, j: number): number {
  const d = est.state.has('_drop_idx_after_grouping') ? est.raw('_drop_idx_after_grouping') : est.raw('drop_idx_');
  if (d === null || d === undefined) return -1;
  const items = d instanceof NdArray ? Array.from(d.data as ArrayLike<unknown>) : asList(d);
  if (items === undefined) est.refuse('drop_idx_ is not an array');
  const raw = items[j];
  const v = typeof raw === 'bigint' ? Number(raw) : scalar(raw as PyValue);
  if (v === null) return -1;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) est.refuse('drop_idx_ is not a list of indices');
  return v;
}

/** Output position of every code (entry 0: unknown values), and the column's output width. */
function positions(est: Estimator, j: number, k: number, policy: string): { table: number[]; width: number } {
  const inf = infrequentOf(est, j, k);
  if (inf !== null && inf.mapping.length !== k) est.refuse(`its infrequent mapping for column ${j} does not cover categories_[${j}]`);
  const grouped = (c: number) => (inf === null ? c : inf.mapping[c]);
  const nGrouped = inf === null ? k : Math.max(...inf.mapping) + 1;
  const drop = dropIndex(est, j);
  if (drop >= nGrouped) est.refuse(`drop_idx_ of column ${j} is out of range`);
  const place = (gi: number) => (drop < 0 ? gi : gi === drop ? -1 : gi > drop ? gi - 1 : gi);
  const unknown = inf !== null && (policy === 'infrequent_if_exist' || policy === 'warn') ? place(grouped(inf.first)) : -1;
  const table = [unknown];
  for (let c = 0; c < k; c++) table.push(place(grouped(c)));
  return { table, width: nGrouped - (drop >= 0 ? 1 : 0) };
}

function checkWidths(est: Estimator, widths: number[]): void {
  const outs = asList(est.raw('_n_features_outs'));
  if (outs === undefined) return;
  const want = outs.map((o) => Number(scalar(o)));
  if (want.length !== widths.length || want.some((w, j) => w !== widths[j]))
    est.refuse(`its output widths [${widths.join(', ')}] differ from _n_features_outs [${want.join(', ')}]`);
}

export const oneHotEncoderConverter: Converter = {
  transform(est: Estimator, input: Value, ctx: CompileContext): Value {
    const g = ctx.g;
    const policy = est.str('handle_unknown');
    if (!['error', 'ignore', 'infrequent_if_exist', 'warn'].includes(policy)) est.refuse(`handle_unknown '${policy}' is not supported`);
    checkOutputDType(est);
    const cats = categoriesOf(est, input);
    const outs: string[] = [];
    const widths: number[] = [];
    cats.forEach((c, j) => {
      const code = categoryCodes(est, input, j, c, ctx);
      if (policy === 'error')
        ctx.assert(g.op('Less', [code, g.int64([0], [])]), `Found unknown categories in column ${j} during transform (${est.name}).`);
      const { table, width } = positions(est, j, c.size, policy);
      widths.push(width);
      if (width === 0) return;
      const pos = lookup(ctx, code, g.int64(table));
      const range = g.int64(
        Array.from({ length: width }, (_, i) => i),
        [1, width],
      );
      outs.push(g.op('Cast', [g.op('Equal', [pos, range])], { to: { i: 11 } }));
    });
    checkWidths(est, widths);
    const total = widths.reduce((a, w) => a + w, 0);
    if (total === 0) est.refuse('it outputs no columns');
    return { kind: 'numeric', name: outs.length === 1 ? outs[0] : g.op('Concat', outs, { axis: { i: 1 } }), width: total };
  },
};
