/**
 * `sklearn.impute.SimpleImputer`, numeric (mean, median, most_frequent, constant) and string
 * (most_frequent, constant) data; the statistic is fitted, so every strategy is a fill. Missing
 * means NaN for `missing_values=np.nan` (numpy's `X != X`: NaN cells of a string column, see
 * feeds.ts; a None cell is *not* missing, as in scikit-learn: it reaches the next step as None),
 * equality for a number or a string, and None cells for `missing_values=None`; with any marker
 * but NaN, a NaN cell fails the request as scikit-learn's finiteness check does. Whether the data is numeric or strings is
 * the fitted `_fit_dtype` (1.9 stores a constant's statistics as objects even for numbers).
 * Columns whose statistic is NaN (all missing at fit) are dropped, except with
 * `keep_empty_features` and, before 1.8, with strategy 'constant'.
 */
import type { CompileContext, Converter, Value } from '../context.js';
import { NAN_CELL } from '../feeds.js';
import { NpDType } from '../pickle/index.js';
import { type Estimator, atLeast, scalar, toDoubles } from '../state.js';

type Missing = { kind: 'nan' } | { kind: 'none' } | { kind: 'number'; value: number } | { kind: 'string'; value: string };

function missingValues(est: Estimator): Missing {
  const mv = scalar(est.raw('missing_values'));
  if (typeof mv === 'number') return Number.isNaN(mv) ? { kind: 'nan' } : { kind: 'number', value: mv };
  if (mv === null) return { kind: 'none' };
  if (typeof mv === 'string') return { kind: 'string', value: mv };
  est.refuse('its missing_values is neither NaN, a number, a string nor None');
}

/** Column positions kept: those whose statistic is not NaN, unless empty features are kept. */
function keptColumns(est: Estimator, stats: ArrayLike<unknown>, strategy: string): number[] {
  const keepAll = est.bool('keep_empty_features', false) || (strategy === 'constant' && !atLeast(est.version, 1, 8));
  const out: number[] = [];
  for (let k = 0; k < stats.length; k++) {
    const s = stats[k];
    if (keepAll || !(typeof s === 'number' && Number.isNaN(s))) out.push(k);
  }
  return out;
}

/** The fitted data's dtype kind: `_fit_dtype`, or for older pickles the statistics' own dtype. */
function fitKind(est: Estimator): string | undefined {
  const fd = est.raw('_fit_dtype');
  if (fd instanceof NpDType) return fd.kind;
  return est.array('statistics_').dtype?.kind;
}

/** statistics_ as float64 (an object array of numbers too). */
function numericStats(est: Estimator, width: number): Float64Array {
  const a = est.array('statistics_');
  if (a.size !== width) est.refuse(`statistics_ has ${a.size} values for ${width} columns`);
  if (a.dtype?.kind !== 'O') return toDoubles(a, () => est.refuse('statistics_ is not numeric'));
  return Float64Array.from(a.data as unknown[], (v) => {
    const x = scalar(v as never);
    if (typeof x !== 'number') est.refuse('its fill values are not all numbers');
    return x;
  });
}

function imputeNumeric(est: Estimator, input: Value, ctx: CompileContext, missing: Missing, strategy: string): Value {
  const g = ctx.g;
  if (missing.kind === 'string' || missing.kind === 'none') est.refuse('it imputes a string or None marker in numeric data');
  const x = ctx.numeric(input, est);
  const stats = numericStats(est, x.width);
  const kind = fitKind(est);
  // Integer data is filled in its own dtype; its statistics are integers already.
  if ((kind === 'i' || kind === 'u') && !stats.every((v) => Number.isInteger(v) || Number.isNaN(v)))
    est.refuse('it fills integer data with non-integer values');
  ctx.assertFinite(x.name, est, { allowNaN: missing.kind === 'nan' });
  const mask = missing.kind === 'nan' ? g.op('IsNaN', [x.name]) : g.op('Equal', [x.name, g.double([missing.value], [])]);
  const filled = g.op('Where', [mask, g.double(stats, [1, stats.length]), x.name]);
  const kept = keptColumns(est, stats, strategy);
  if (kept.length === x.width) return { kind: 'numeric', name: filled, width: x.width };
  return { kind: 'numeric', name: g.op('Gather', [filled, g.int64(kept)], { axis: { i: 1 } }), width: kept.length };
}

/** bool [N, w]: the cells of a string matrix that are NaN (flagged, holding NAN_CELL). */
function nanCells(ctx: CompileContext, x: Extract<Value, { kind: 'strings' }>): string {
  const g = ctx.g;
  return g.op('And', [x.none, g.op('Equal', [x.name, g.constant('string', [], [NAN_CELL])])]);
}

function imputeStrings(est: Estimator, input: Value, ctx: CompileContext, missing: Missing, strategy: string): Value {
  const g = ctx.g;
  const x = ctx.strings(input, est);
  const stats = est.array('statistics_').data as unknown[];
  if (stats.length !== x.width) est.refuse(`statistics_ has ${stats.length} values for ${x.width} columns`);
  const kept = keptColumns(est, stats, strategy);
  if (kept.some((k) => typeof stats[k] !== 'string')) est.refuse('its fill values are not all strings');
  const keep = (t: string) => (kept.length === x.width ? t : g.op('Gather', [t, g.int64(kept)], { axis: { i: 1 } }));
  const nan = nanCells(ctx, x);
  let mask: string;
  if (missing.kind === 'nan') mask = nan;
  else {
    // check_array(ensure_all_finite=True) refuses NaN in object data when NaN is not the marker.
    ctx.assert(nan, `Input X contains NaN (${est.name} imputes ${missing.kind === 'none' ? 'None' : String(missing.value)}, not NaN).`);
    if (missing.kind === 'number') return { kind: 'strings', name: keep(x.name), none: keep(x.none), width: kept.length };
    mask =
      missing.kind === 'none'
        ? x.none
        : g.op('And', [g.op('Equal', [x.name, g.constant('string', [], [missing.value])]), g.op('Not', [x.none])]);
  }
  const fill = g.constant(
    'string',
    [1, stats.length],
    stats.map((v) => (typeof v === 'string' ? v : '')),
  );
  const values = g.op('Where', [mask, fill, x.name]);
  const none = g.op('And', [x.none, g.op('Not', [mask])]);
  return { kind: 'strings', name: keep(values), none: keep(none), width: kept.length };
}

export const simpleImputerConverter: Converter = {
  transform(est: Estimator, input: Value, ctx: CompileContext): Value {
    if (est.bool('add_indicator', false)) est.refuse('add_indicator=True is not supported');
    const strategy = est.str('strategy');
    if (!['mean', 'median', 'most_frequent', 'constant'].includes(strategy)) est.refuse(`strategy '${strategy}' is not supported`);
    const missing = missingValues(est);
    const kind = fitKind(est);
    if (kind === 'f' || kind === 'i' || kind === 'u' || kind === 'b') return imputeNumeric(est, input, ctx, missing, strategy);
    if (kind === 'O' || kind === 'U') return imputeStrings(est, input, ctx, missing, strategy);
    est.refuse(`data of dtype kind '${kind}' is not supported`);
  },
};
