/**
 * `sklearn.compose.ColumnTransformer`: each fitted transformer reads its columns (names, indices,
 * slices, boolean masks, `remainder` drop/passthrough/estimator), its output is multiplied by its
 * `transformer_weights` entry if any, and the outputs are stacked side by side, in
 * `transformers_` order, as `np.hstack` does.
 */
import type { CompileContext, Converter, Value } from '../context.js';
import { NdArray, PyObject, PySlice, type PyValue } from '../pickle/index.js';
import { type Estimator, asList, scalar } from '../state.js';
import { applyWeight, transformerWeights } from './union.js';

/** Positions (within the transformer's input) that a column specifier selects. */
function selectPositions(est: Estimator, spec: PyValue, width: number, names: readonly string[] | undefined, what: string): number[] {
  const byName = (n: string): number => {
    if (names === undefined) est.refuse(`${what} selects column '${n}' by name, but it was fitted without column names`);
    const i = names.indexOf(n);
    if (i === -1) est.refuse(`${what} selects column '${n}', which was not seen at fit time`);
    return i;
  };
  const byIndex = (i: number): number => {
    const k = i < 0 ? width + i : i;
    if (!Number.isInteger(k) || k < 0 || k >= width) est.refuse(`${what} selects column ${i}, the input has ${width}`);
    return k;
  };
  const s = scalar(spec);
  if (typeof s === 'string' || typeof s === 'number') est.refuse(`${what} is a scalar column (a 1-D selection), which is not supported`);
  if (spec instanceof PySlice) return sliceRange(est, spec, width, names, what);
  const items = spec instanceof PyObject ? spec.listItems : spec instanceof NdArray ? spec.data : asList(spec);
  if (items === undefined) est.refuse(`${what} has a column specifier modelgate cannot read (callables must be resolved at fit time)`);
  // A boolean mask: a bool array, or (1.5+'s remainder columns) a list of Python bools.
  const boolList = Array.isArray(items) && items.length > 0 && items.every((b) => typeof b === 'boolean');
  if ((spec instanceof NdArray && spec.dtype?.kind === 'b') || boolList) {
    if (items.length !== width) est.refuse(`${what} has a boolean mask of the wrong length`);
    return Array.from(items as ArrayLike<unknown>).flatMap((b, i) => (b ? [i] : []));
  }
  return Array.from(items as ArrayLike<unknown>, (it) => {
    const v = typeof it === 'bigint' ? Number(it) : scalar(it as PyValue);
    if (typeof v === 'string') return byName(v);
    if (typeof v === 'number') return byIndex(v);
    if (typeof v === 'boolean') est.refuse(`${what} mixes booleans into a column list`);
    est.refuse(`${what} has a column specifier modelgate cannot read`);
  });
}

function sliceRange(est: Estimator, sl: PySlice, width: number, names: readonly string[] | undefined, what: string): number[] {
  const bound = (v: PyValue, dflt: number, inclusive: boolean): number => {
    const b = scalar(v);
    if (b === null) return dflt;
    if (typeof b === 'string') {
      // Label slices (pandas .loc) include their end.
      const i = names?.indexOf(b) ?? -1;
      if (i === -1) est.refuse(`${what} slices from an unknown column '${b}'`);
      return inclusive ? i + 1 : i;
    }
    if (typeof b !== 'number') est.refuse(`${what} has a slice modelgate cannot read`);
    return b < 0 ? Math.max(0, width + b) : Math.min(b, width);
  };
  if (scalar(sl.step) !== null && scalar(sl.step) !== 1) est.refuse(`${what} uses a stepped slice`);
  const start = bound(sl.start, 0, false);
  const stop = bound(sl.stop, width, true);
  return Array.from({ length: Math.max(0, stop - start) }, (_, k) => start + k);
}

/** The columns at `positions` of the transformer's input value. */
function pick(input: Value, positions: number[], est: Estimator, ctx: CompileContext): Value {
  if (input.kind === 'columns') return { kind: 'columns', columns: positions.map((p) => input.columns[p]) };
  const g = ctx.g;
  const gather = (x: string) => g.op('Gather', [x, g.int64(positions)], { axis: { i: 1 } });
  if (input.kind === 'numeric') return { kind: 'numeric', name: gather(input.name), width: positions.length };
  if (input.kind === 'strings') return { kind: 'strings', name: gather(input.name), none: gather(input.none), width: positions.length };
  est.refuse('unexpected input');
}

function inputWidth(v: Value): number {
  return v.kind === 'columns' ? v.columns.length : v.width;
}

function stack(parts: Value[], est: Estimator, ctx: CompileContext): Value {
  if (parts.length === 0) est.refuse('it selects no columns');
  if (parts.every((p) => p.kind === 'columns')) {
    return { kind: 'columns', columns: parts.flatMap((p) => (p.kind === 'columns' ? p.columns : [])) };
  }
  const mats = parts.map((p) => ctx.numeric(p, est));
  if (mats.length === 1) return mats[0];
  return {
    kind: 'numeric',
    name: ctx.g.op(
      'Concat',
      mats.map((m) => m.name),
      { axis: { i: 1 } },
    ),
    width: mats.reduce((a, m) => a + m.width, 0),
  };
}

export const columnTransformerConverter: Converter = {
  transform(est: Estimator, input: Value, ctx: CompileContext) {
    const weights = transformerWeights(est);
    const width = inputWidth(input);
    const nIn = est.int('n_features_in_');
    if (nIn !== width) est.refuse(`it was fitted on ${nIn} columns but receives ${width}`);
    const names = est.has('feature_names_in_') ? ((est.array('feature_names_in_').data as unknown[]).map(String) as string[]) : undefined;
    const parts: Value[] = [];
    est.list('transformers_').forEach((item, i) => {
      const triple = asList(item);
      const path = `${est.path}.transformers_[${i}]`;
      if (triple === undefined || triple.length !== 3) est.refuse(`transformers_[${i}] is not a (name, transformer, columns) triple`);
      const trans = est.child(triple[1], path);
      if (trans === 'drop' || trans === null) return;
      const positions = selectPositions(est, triple[2], width, names, `transformers_[${i}] '${String(triple[0])}'`);
      if (positions.length === 0) return;
      const cols = pick(input, positions, est, ctx);
      const weight = weights.get(String(triple[0]));
      if (trans === 'passthrough') parts.push(applyWeight(cols, weight, est, ctx));
      else if (typeof trans === 'string') est.refuse(`transformers_[${i}] is '${trans}'`);
      else parts.push(applyWeight(ctx.transform(trans, cols), weight, est, ctx));
    });
    return stack(parts, est, ctx);
  },
};
