/**
 * What OneHotEncoder and OrdinalEncoder share (`_BaseEncoder._transform`): each input column
 * becomes an int64 [N, 1] *code*, the index of its value in `categories_[j]` or -1 for a value
 * not seen at fit; the encoders then map codes through a lookup table. String categories match
 * by exact string equality and a None cell matches a None category; numeric ones match by
 * float64 equality and NaN matches a NaN category (numpy's `isin` / `searchsorted`). In a string
 * column None and NaN are different values (feeds.ts flags both, NaN cells hold NAN_CELL): None
 * matches only a None category, NaN only a NaN one.
 */
import { ML_DOMAIN } from '../../../onnx/graph-builder.js';
import type { CompileContext, Value } from '../context.js';
import { NAN_CELL } from '../feeds.js';
import { NdArray, NpDType, PyGlobal, type PyValue } from '../pickle/index.js';
import { type Estimator, asList, scalar, toDoubles } from '../state.js';

/** `categories_` as arrays, one per input column. */
export function categoriesOf(est: Estimator, input: Value): readonly NdArray[] {
  const cats = asList(est.req('categories_'));
  const width = input.kind === 'columns' ? input.columns.length : input.width;
  if (cats === undefined || cats.length !== width) est.refuse(`categories_ does not match its ${width} input columns`);
  if (!cats.every((c): c is NdArray => c instanceof NdArray && c.shape.length === 1)) est.refuse('categories_ is not a list of 1-D arrays');
  return cats;
}

export function isStringCategories(cats: NdArray): boolean {
  return cats.dtype?.kind === 'O' || cats.dtype?.kind === 'U';
}

function column(v: Value, j: number, ctx: CompileContext, est: Estimator, wantStrings: boolean): { x: string; none?: string } {
  const g = ctx.g;
  const gather = (t: string) => g.op('Gather', [t, g.int64([j])], { axis: { i: 1 } });
  if (v.kind === 'columns') {
    const one: Value = { kind: 'columns', columns: [v.columns[j]] };
    if (!wantStrings) return { x: ctx.numeric(one, est).name };
    const s = ctx.strings(one, est);
    return { x: s.name, none: s.none };
  }
  if (wantStrings !== (v.kind === 'strings'))
    est.refuse(`column ${j} has ${wantStrings ? 'string' : 'numeric'} categories but receives ${v.kind} data`);
  return v.kind === 'strings' ? { x: gather(v.name), none: gather(v.none) } : { x: gather(v.name) };
}

function stringCodes(ctx: CompileContext, x: string, none: string, cats: readonly PyValue[]): string {
  const g = ctx.g;
  const strs = cats.flatMap((c, i) => (typeof c === 'string' ? [[c, i] as const] : []));
  g.useDomain(ML_DOMAIN, 2);
  const code = g.op(
    'LabelEncoder',
    [x],
    { keys_strings: { strings: strs.map((s) => s[0]) }, values_int64s: { ints: strs.map((s) => s[1]) }, default_int64: { i: -1 } },
    { domain: ML_DOMAIN },
  );
  const nanAt = cats.findIndex((c) => typeof c === 'number' && Number.isNaN(c));
  const isNan = g.op('And', [none, g.op('Equal', [x, g.constant('string', [], [NAN_CELL])])]);
  const missing = g.op('Where', [isNan, g.int64([nanAt], []), g.int64([cats.indexOf(null)], [])]);
  return g.op('Where', [none, missing, code]);
}

function numericCodes(ctx: CompileContext, x: string, cats: Float64Array): string {
  const g = ctx.g;
  let hit = g.op('Equal', [x, g.double(cats, [1, cats.length])]);
  if (cats.some(Number.isNaN))
    hit = g.op('Or', [hit, g.op('And', [g.op('IsNaN', [x]), g.constant('bool', [1, cats.length], Array.from(cats, Number.isNaN))])]);
  // Categories are unique, so at most one position matches; none leaves -1.
  const positions = g.int64(
    Array.from(cats, (_, i) => i),
    [1, cats.length],
  );
  return g.op('ReduceMax', [g.op('Where', [hit, positions, g.int64([-1], [])]), g.int64([1])], { keepdims: { i: 1 } });
}

/** int64 [N, 1]: the code of column `j` of `input` in `cats`, -1 when unknown. */
export function categoryCodes(est: Estimator, input: Value, j: number, cats: NdArray, ctx: CompileContext): string {
  if (isStringCategories(cats)) {
    const items = cats.data as PyValue[];
    if (!items.every((c) => typeof c === 'string' || c === null || (typeof c === 'number' && Number.isNaN(c))))
      est.refuse(`categories_[${j}] mixes strings with other values`);
    const col = column(input, j, ctx, est, true);
    return stringCodes(ctx, col.x, col.none as string, items);
  }
  const x = column(input, j, ctx, est, false).x;
  // _check_X validates each numeric column with ensure_all_finite='allow-nan'.
  ctx.assertFinite(x, est, { allowNaN: true });
  return numericCodes(
    ctx,
    x,
    toDoubles(cats, () => est.refuse(`categories_[${j}] are not numeric`)),
  );
}

/** Maps each code (-1 for unknown) through `table` (entry 0 is for unknown, entry c + 1 for code c). */
export function lookup(ctx: CompileContext, code: string, table: string): string {
  const g = ctx.g;
  return g.op('Gather', [table, g.op('Add', [code, g.int64([1], [])])], { axis: { i: 0 } });
}

function intList(v: PyValue | undefined, what: string, est: Estimator): number[] | null {
  if (v === null || v === undefined) return null;
  if (!(v instanceof NdArray) || (v.dtype?.kind !== 'i' && v.dtype?.kind !== 'u')) est.refuse(`${what} is not an integer array`);
  return Array.from(v.data as ArrayLike<number | bigint>, Number);
}

/** Infrequent-category grouping of one column (`_BaseEncoder._map_infrequent_categories`). */
export interface Infrequent {
  /** `_default_to_infrequent_mappings[j]`: code → grouped code (the infrequent group is last). */
  readonly mapping: readonly number[];
  /** `_infrequent_indices[j][0]`: the code unknown values are given before grouping. */
  readonly first: number;
}

export function infrequentOf(est: Estimator, j: number, k: number): Infrequent | null {
  if (!est.bool('_infrequent_enabled', false)) return null;
  const indices = asList(est.req('_infrequent_indices'));
  const mappings = asList(est.req('_default_to_infrequent_mappings'));
  if (indices === undefined || mappings === undefined) est.refuse('its infrequent-category state is not a list per column');
  const idx = intList(indices[j], `_infrequent_indices[${j}]`, est);
  const mapping = intList(mappings[j], `_default_to_infrequent_mappings[${j}]`, est);
  if (idx === null || mapping === null) return null;
  if (mapping.length > k || idx.length === 0 || !mapping.every((m) => Number.isInteger(m) && m >= 0 && m < k))
    est.refuse(`its infrequent mapping for column ${j} does not fit categories_[${j}]`);
  return { mapping, first: idx[0] };
}

/**
 * The encoder's output dtype. float16/float32 would make later steps compute in lower precision,
 * and narrow integers or bool would wrap codes, so only these are served.
 */
export function checkOutputDType(est: Estimator): void {
  const d = est.raw('dtype');
  const name = d instanceof PyGlobal ? d.name : d instanceof NpDType ? d.str : typeof scalar(d) === 'string' ? String(scalar(d)) : '';
  if (/^(float64|double|f8|float|int64|int32|i8|i4|int|intp|longlong)$/.test(name)) return;
  est.refuse(`dtype ${name || '(unreadable)'} is not supported (float64, int64 and int32 outputs are)`);
}
