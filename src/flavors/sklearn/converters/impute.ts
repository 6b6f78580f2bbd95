/**
 * `sklearn.impute.SimpleImputer`, numeric (mean, median, most_frequent, constant) and string
 * (most_frequent, constant) data. Missing means NaN for `missing_values=np.nan` (numpy's
 * `X != X`, so a None cell in an object column is *not* missing, as in scikit-learn), equality
 * for a number or string, and None cells for `missing_values=None`. Columns whose statistic is
 * NaN (all missing at fit) are dropped, as scikit-learn drops them.
 */
import type { CompileContext, Converter, Value } from '../context.js';
import { type Estimator, scalar } from '../state.js';

type Missing = { kind: 'nan' } | { kind: 'none' } | { kind: 'number'; value: number } | { kind: 'string'; value: string };

function missingValues(est: Estimator): Missing {
  const mv = scalar(est.raw('missing_values'));
  if (typeof mv === 'number') return Number.isNaN(mv) ? { kind: 'nan' } : { kind: 'number', value: mv };
  if (mv === null) return { kind: 'none' };
  if (typeof mv === 'string') return { kind: 'string', value: mv };
  est.refuse('its missing_values is neither NaN, a number, a string nor None');
}

/** Column positions kept: scikit-learn drops those whose statistic is NaN, except for 'constant'. */
function keptColumns(stats: ArrayLike<unknown>, strategy: string): number[] {
  const out: number[] = [];
  for (let k = 0; k < stats.length; k++) {
    const s = stats[k];
    if (strategy === 'constant' || !(typeof s === 'number' && Number.isNaN(s))) out.push(k);
  }
  return out;
}

function imputeNumeric(est: Estimator, input: Value, ctx: CompileContext, missing: Missing, strategy: string): Value {
  const g = ctx.g;
  if (missing.kind === 'string' || missing.kind === 'none') est.refuse('it imputes a string or None marker in numeric data');
  const x = ctx.numeric(input, est);
  const stats = est.doubles('statistics_', x.width);
  ctx.assertFinite(x.name, est, { allowNaN: missing.kind === 'nan' });
  const mask = missing.kind === 'nan' ? g.op('IsNaN', [x.name]) : g.op('Equal', [x.name, g.double([missing.value], [])]);
  const filled = g.op('Where', [mask, g.double(stats, [1, stats.length]), x.name]);
  const kept = keptColumns(stats, strategy);
  if (kept.length === x.width) return { kind: 'numeric', name: filled, width: x.width };
  return { kind: 'numeric', name: g.op('Gather', [filled, g.int64(kept)], { axis: { i: 1 } }), width: kept.length };
}

function imputeStrings(est: Estimator, input: Value, ctx: CompileContext, missing: Missing, strategy: string): Value {
  const g = ctx.g;
  const x = ctx.strings(input, est);
  const stats = est.array('statistics_').data as unknown[];
  if (stats.length !== x.width) est.refuse(`statistics_ has ${stats.length} values for ${x.width} columns`);
  const kept = keptColumns(stats, strategy);
  if (kept.some((k) => typeof stats[k] !== 'string')) est.refuse('its fill values are not all strings');
  const keep = (t: string) => (kept.length === x.width ? t : g.op('Gather', [t, g.int64(kept)], { axis: { i: 1 } }));
  if (missing.kind === 'nan' || missing.kind === 'number') {
    // Only NaN (or that number) is missing, and string columns hold neither: the data passes unchanged.
    return { kind: 'strings', name: keep(x.name), none: keep(x.none), width: kept.length };
  }
  const mask =
    missing.kind === 'none'
      ? x.none
      : g.op('And', [g.op('Equal', [x.name, g.constant('string', [], [missing.value])]), g.op('Not', [x.none])]);
  const fill = g.constant('string', [1, stats.length], stats as string[]);
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
    const kind = est.array('statistics_').dtype?.kind;
    if (kind === 'f' || kind === 'i' || kind === 'u' || kind === 'b') return imputeNumeric(est, input, ctx, missing, strategy);
    if (kind === 'O' || kind === 'U') return imputeStrings(est, input, ctx, missing, strategy);
    est.refuse(`statistics_ of dtype '${kind}' are not supported`);
  },
};
