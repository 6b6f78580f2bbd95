/**
 * `HistGradientBoostingClassifier` / `HistGradientBoostingRegressor`, as `_raw_predict` and the
 * Cython `_predict_from_raw_data` compute them: X stays float64 (no float32 cast; `x <=
 * num_threshold` in doubles), NaN and infinity are accepted, a NaN goes where the node's
 * `missing_go_to_left` says (set at fit time also for features that had no missing values).
 * The raw score is `_baseline_prediction` plus every predictor's leaf value, iteration by
 * iteration; predictions are the loss link's inverse (identity, exp, expit, softmax).
 *
 * Categorical splits: a value goes left when its category is in the node's
 * `raw_left_cat_bitsets` row, right when it is another known category of the feature, and
 * the missing direction otherwise (NaN, negative, unknown). The category of a raw value is
 * C's `(uint8_t)x`: measured on scikit-learn's x86-64 builds as `floor(x) mod 256` below 2^31
 * and 0 from 2^31 on (infinity included). From 1.4 a fitted `_preprocessor` (OrdinalEncoder
 * for categorical columns, placed first; `check_array` for the rest) maps each category to its
 * index first (a None cell to a fitted None category), unknown and NaN-missing ones to NaN, and
 * refuses infinity in numeric categorical columns. Both become one graph column per categorical
 * feature holding a known category or NaN, split on with the IR's `member` mode.
 *
 * Labels: the arg-max of `predict_proba` before 1.4; from 1.4 `raw > 0` (binary) or the arg-max
 * of the raw scores. There is no `predict_log_proba`.
 */
import { type GraphBuilder, ML_DOMAIN, math } from '../../../onnx/graph-builder.js';
import { type TreeIR, type TreeNode, emitTreeEnsemble } from '../../../onnx/tree-ensemble.js';
import type { CompileContext, Converter, Prediction, Value } from '../context.js';
import { NdArray, PyDict, PyGlobal, PyObject, PyTuple, type PyValue } from '../pickle/index.js';
import { Estimator, asList, atLeast, scalar, toDoubles } from '../state.js';
import { argMax, constantTree, expitProba, lossClass, signLabel } from './boosting.js';

const LOSS = 'sklearn._loss.loss.';
const LINK = 'sklearn._loss.link.';
const REGRESSOR_LINKS: Readonly<Record<string, string>> = {
  HalfSquaredError: 'IdentityLink',
  AbsoluteError: 'IdentityLink',
  PinballLoss: 'IdentityLink',
  HalfPoissonLoss: 'LogLink',
  HalfGammaLoss: 'LogLink',
};

/** The tree input: a float64 matrix and, per model feature, the matrix column it reads. */
interface TreeInput {
  readonly x: string;
  readonly width: number;
  readonly column: readonly number[];
}

function field(nodes: NdArray, names: readonly string[], est: Estimator): Float64Array {
  for (const n of names) {
    const f = nodes.fields?.[n];
    if (f !== undefined) return Float64Array.from(f as ArrayLike<number | bigint>, Number);
  }
  est.refuse(`predictor nodes have no '${names[0]}' field`);
}

function bitsetMembers(bitsets: NdArray, row: number, est: Estimator): number[] {
  if (bitsets.shape.length !== 2 || bitsets.shape[1] !== 8 || row < 0 || row >= bitsets.shape[0])
    est.refuse(`raw_left_cat_bitsets has no row ${row}`);
  const words = Array.from(bitsets.data as ArrayLike<number> as Uint32Array).slice(row * 8, row * 8 + 8);
  const out: number[] = [];
  words.forEach((w, i) => {
    for (let b = 0; b < 32; b++) if ((w >>> b) & 1) out.push(i * 32 + b);
  });
  return out;
}

/** One TreePredictor as IR; its leaves feed `target`. */
function predictorToIR(p: Estimator, target: number, input: TreeInput, categorical: readonly boolean[]): TreeIR {
  const nodes = p.array('nodes');
  const n = nodes.size;
  const [value, feature, threshold, missLeft, left, right, leaf] = [
    ['value'],
    ['feature_idx'],
    ['num_threshold', 'threshold'],
    ['missing_go_to_left'],
    ['left'],
    ['right'],
    ['is_leaf'],
  ].map((names) => field(nodes, names, p));
  const isCat = nodes.fields?.is_categorical === undefined ? new Float64Array(n) : field(nodes, ['is_categorical'], p);
  const bitsetIdx = nodes.fields?.bitset_idx === undefined ? undefined : field(nodes, ['bitset_idx'], p);
  const out: TreeNode[] = [];
  for (let k = 0; k < n; k++) {
    if (leaf[k]) {
      out.push({ kind: 'leaf', targets: [target], weights: [value[k]] });
      continue;
    }
    const f = feature[k];
    if (!Number.isInteger(f) || f < 0 || f >= input.column.length) p.refuse(`node ${k} splits on feature ${f}`);
    if (Boolean(isCat[k]) !== categorical[f]) p.refuse(`node ${k} disagrees with is_categorical_ on feature ${f}`);
    const base = {
      kind: 'split' as const,
      feature: input.column[f],
      trueChild: left[k],
      falseChild: right[k],
      missingTracksTrue: !!missLeft[k],
    };
    if (!isCat[k]) out.push({ ...base, mode: 'leq', threshold: threshold[k] });
    else {
      if (bitsetIdx === undefined) p.refuse('categorical nodes without bitset_idx');
      out.push({ ...base, mode: 'member', threshold: 0, members: bitsetMembers(p.array('raw_left_cat_bitsets'), bitsetIdx[k], p) });
    }
  }
  return { nodes: out };
}

/** `(uint8_t)v` as measured (see the header), kept only when v >= 0 and the category is known; else NaN. */
function knownCategory(g: GraphBuilder, v: string, known: readonly number[]): string {
  const floor = g.op('Floor', [v]);
  const wrapped = g.op('Sub', [floor, g.op('Mul', [g.double([256], []), g.op('Floor', [g.op('Div', [floor, g.double([256], [])])])])]);
  const u8 = g.op('Where', [g.op('Less', [v, g.double([2 ** 31], [])]), wrapped, g.double([0], [])]);
  const isKnown = g.op(
    'ReduceMax',
    [g.op('Cast', [g.op('Equal', [u8, g.double(known, [1, known.length])])], { to: { i: 11 } }), g.int64([1])],
    {
      keepdims: { i: 1 },
    },
  );
  const ok = g.op('And', [g.op('GreaterOrEqual', [v, g.double([0], [])]), g.op('Greater', [isKnown, g.double([0], [])])]);
  return g.op('Where', [ok, u8, g.double([NaN], [])]);
}

/** Per model feature: whether it is categorical, and its known category codes (`_bin_mapper.bin_thresholds_`). */
function categories(est: Estimator, n: number): { categorical: boolean[]; known: (number[] | undefined)[] } {
  const child = est.child(est.req('_bin_mapper'), `${est.path}._bin_mapper`);
  if (!(child instanceof Estimator)) est.refuse('_bin_mapper is not a fitted binner');
  const mapper: Estimator = child;
  const flags = mapper.doubles('is_categorical_', n);
  const thresholds = mapper.list('bin_thresholds_');
  if (thresholds.length !== n) mapper.refuse(`bin_thresholds_ has ${thresholds.length} features, expected ${n}`);
  const categorical = Array.from(flags, (f) => f !== 0);
  const known = categorical.map((c, f) => {
    if (!c) return undefined;
    const t = thresholds[f];
    if (!(t instanceof NdArray)) mapper.refuse(`bin_thresholds_[${f}] is not an array`);
    const cats = Array.from(toDoubles(t, () => mapper.refuse(`bin_thresholds_[${f}] is not numeric`)));
    if (cats.length === 0 || !cats.every((v) => Number.isInteger(v) && v >= 0 && v < 256))
      mapper.refuse(`categories of feature ${f} are not integers in [0, 255]`);
    return cats;
  });
  return { categorical, known };
}

/** The model's columns of `input` at `positions`, as a Value of the same kind. */
function pick(input: Value, positions: readonly number[], ctx: CompileContext): Value {
  if (input.kind === 'columns') return { kind: 'columns', columns: positions.map((p) => input.columns[p]) };
  const gather = (x: string) => ctx.g.op('Gather', [x, ctx.g.int64([...positions])], { axis: { i: 1 } });
  if (input.kind === 'numeric') return { kind: 'numeric', name: gather(input.name), width: positions.length };
  return { kind: 'strings', name: gather(input.name), none: gather(input.none), width: positions.length };
}

function width(v: Value): number {
  return v.kind === 'columns' ? v.columns.length : v.width;
}

type Categories = ReturnType<typeof categories>;

/**
 * Appends one known-category column per categorical feature after `base` (the numeric columns);
 * `coded` holds the encoded value of a feature, else it is read from `base`.
 */
function withCategories(
  g: GraphBuilder,
  base: { name: string; width: number } | undefined,
  column: number[],
  cats: Categories,
  coded: ReadonlyMap<number, string>,
): TreeInput {
  const baseWidth = base?.width ?? 0;
  const extra: string[] = [];
  cats.categorical.forEach((c, f) => {
    if (!c) return;
    const v = coded.get(f) ?? g.op('Gather', [(base as { name: string }).name, g.int64([column[f]])], { axis: { i: 1 } });
    column[f] = baseWidth + extra.length;
    extra.push(knownCategory(g, v, cats.known[f] as number[]));
  });
  const parts = [...(base === undefined ? [] : [base.name]), ...extra];
  const x = parts.length === 1 ? parts[0] : g.op('Concat', parts, { axis: { i: 1 } });
  return { x, width: baseWidth + extra.length, column };
}

/** Without a preprocessor: `check_array(X, dtype=float64, force_all_finite=False)` and raw categories. */
function rawInput(est: Estimator, input: Value, ctx: CompileContext, cats: Categories): TreeInput {
  const x = ctx.numeric(input, est);
  if (x.width !== cats.categorical.length) est.refuse(`it was fitted on ${cats.categorical.length} features but receives ${x.width}`);
  return withCategories(
    ctx.g,
    x,
    cats.categorical.map((_, f) => f),
    cats,
    new Map(),
  );
}

/** `functools.partial(check_array, dtype=[numpy.float64], ensure_all_finite=False)`, nothing else. */
function isFloatCheck(t: Estimator): boolean {
  const f = t.raw('func');
  if (!(f instanceof PyObject) || f.cls.path !== 'functools.partial' || !(f.state instanceof PyTuple)) return false;
  const [fn, args, kwargs] = f.state.items;
  if (!(fn instanceof PyGlobal) || fn.path !== 'sklearn.utils.validation.check_array') return false;
  if (!(args instanceof PyTuple) || args.items.length !== 0 || !(kwargs instanceof PyDict)) return false;
  const keys = [...kwargs.strings.keys()].sort();
  const finite = kwargs.get('ensure_all_finite') ?? kwargs.get('force_all_finite');
  const dtype = asList(kwargs.get('dtype'));
  const float64 = dtype?.length === 1 && dtype[0] instanceof PyGlobal && dtype[0].path === 'numpy.float64';
  const plain = t.raw('kw_args') === null && !t.bool('validate', false);
  return plain && finite === false && float64 && keys.length === 2 && keys.includes('dtype');
}

function maskPositions(spec: PyValue, n: number, est: Estimator): number[] {
  // HistGradientBoosting selects its columns with boolean masks (is_categorical_ and its negation).
  const items =
    spec instanceof NdArray && spec.dtype?.kind === 'b' ? Array.from(spec.data as Uint8Array, Boolean) : asList(spec)?.map(scalar);
  if (items === undefined || (items.length !== n && items.length !== 0) || !items.every((b) => typeof b === 'boolean'))
    est.refuse('_preprocessor selects columns with something other than a boolean mask');
  return items.flatMap((b, i) => (b ? [i] : []));
}

/** OrdinalEncoder(handle_unknown='use_encoded_value', unknown_value=nan, encoded_missing_value=nan) of one column. */
function ordinalCode(enc: Estimator, j: number, col: Value, ctx: CompileContext): string {
  const g = ctx.g;
  const cats = asList(enc.req('categories_'))?.[j];
  if (!(cats instanceof NdArray)) enc.refuse(`categories_[${j}] is not an array`);
  const nan = g.double([NaN], []);
  if (cats.dtype?.kind === 'O' || cats.dtype?.kind === 'U') {
    const s = ctx.strings(col, enc);
    const items = cats.data as PyValue[];
    const keys = items.flatMap((c, i) => (typeof c === 'string' ? [[c, i] as const] : []));
    g.useDomain(ML_DOMAIN, 2);
    const code = g.op(
      'LabelEncoder',
      [s.name],
      { keys_strings: { strings: keys.map((k) => k[0]) }, values_int64s: { ints: keys.map((k) => k[1]) }, default_int64: { i: -1 } },
      { domain: ML_DOMAIN },
    );
    const known = g.op('Where', [g.op('Less', [code, g.int64([0], [])]), nan, g.op('Cast', [code], { to: { i: 11 } })]);
    // None is a category like any other when fitted as one (only a NaN category is "missing").
    const noneAt = items.indexOf(null);
    return g.op('Where', [s.none, g.double([noneAt >= 0 && !missingIndex(enc, j, noneAt) ? noneAt : NaN], []), known]);
  }
  const values = toDoubles(cats, () => enc.refuse(`categories_[${j}] are neither strings nor numbers`));
  const x = ctx.numeric(col, enc).name;
  ctx.assert(g.op('IsInf', [x]), `Input contains infinity or a value too large for dtype('float64') (${enc.name}).`);
  const hit = g.op('Cast', [g.op('Equal', [x, g.double(values, [1, values.length])])], { to: { i: 11 } });
  const found = g.op('ReduceMax', [hit, g.int64([1])], { keepdims: { i: 1 } });
  const index = g.op('Cast', [g.op('ArgMax', [hit], { axis: { i: 1 }, keepdims: { i: 1 } })], { to: { i: 11 } });
  return g.op('Where', [g.op('Greater', [found, g.double([0], [])]), index, nan]);
}

/** Whether `_missing_indices` marks category `at` of column j as the missing-value slot. */
function missingIndex(enc: Estimator, j: number, at: number): boolean {
  const m = enc.raw('_missing_indices');
  if (!(m instanceof PyDict)) return false;
  return m.others.some(([k, v]) => Number(scalar(k)) === j && Number(scalar(v)) === at);
}

function checkEncoder(enc: Estimator): void {
  if (enc.classPath !== 'sklearn.preprocessing._encoders.OrdinalEncoder') enc.refuse('an unexpected categorical encoder');
  const nan = (k: string) => Number.isNaN(scalar(enc.raw(k)) as number);
  if (enc.str('handle_unknown') !== 'use_encoded_value' || !nan('unknown_value') || !nan('encoded_missing_value'))
    enc.refuse('the encoder does not map unknown and missing categories to NaN');
  if (enc.bool('_infrequent_enabled', false)) enc.refuse('infrequent categories are not supported');
}

/** With the fitted `_preprocessor`: encoded categorical columns first, then the float-checked rest. */
function preprocessedInput(est: Estimator, pre: Estimator, input: Value, ctx: CompileContext, cats: Categories): TreeInput {
  const n = width(input);
  const coded = new Map<number, string>();
  const numeric: number[] = [];
  const column: number[] = [];
  pre.list('transformers_').forEach((item, i) => {
    const [name, trans, spec] = asList(item) ?? [];
    const positions = maskPositions(spec, n, pre);
    if (positions.length === 0) return;
    const t = pre.child(trans, `${pre.path}.transformers_[${i}]`);
    if (t instanceof Estimator && name === 'encoder') {
      checkEncoder(t);
      positions.forEach((p, j) => {
        coded.set(column.length, ordinalCode(t, j, pick(input, [p], ctx), ctx));
        column.push(-1);
      });
    } else if (
      t instanceof Estimator &&
      t.classPath === 'sklearn.preprocessing._function_transformer.FunctionTransformer' &&
      isFloatCheck(t)
    ) {
      for (const p of positions) {
        column.push(numeric.length);
        numeric.push(p);
      }
    } else pre.refuse(`transformers_[${i}] '${String(name)}' is not HistGradientBoosting's own preprocessing`);
  });
  if (column.length !== cats.categorical.length)
    pre.refuse(`it outputs ${column.length} features, the model has ${cats.categorical.length}`);
  column.forEach((c, f) => {
    if ((c === -1) !== cats.categorical[f]) pre.refuse(`feature ${f} is categorical in one place and not the other`);
  });
  const base = numeric.length > 0 ? ctx.numeric(pick(input, numeric, ctx), est) : undefined;
  return withCategories(ctx.g, base, column, cats, coded);
}

function treeInput(est: Estimator, input: Value, ctx: CompileContext): { tin: TreeInput; categorical: boolean[] } {
  const n = est.int('n_features_in_');
  if (width(input) !== n) est.refuse(`it was fitted on ${n} features but receives ${width(input)}`);
  const pre = est.child(est.raw('_preprocessor') ?? null, `${est.path}._preprocessor`);
  const cats = categories(est, n);
  if (pre === null) return { tin: rawInput(est, input, ctx, cats), categorical: cats.categorical };
  if (!(pre instanceof Estimator) || pre.classPath !== 'sklearn.compose._column_transformer.ColumnTransformer')
    est.refuse('_preprocessor is not a fitted ColumnTransformer');
  return { tin: preprocessedInput(est, pre, input, ctx, cats), categorical: cats.categorical };
}

/** float64 [N, k]: baseline plus every predictor, iteration by iteration. */
function rawScore(est: Estimator, input: Value, ctx: CompileContext, k: number): string {
  const baseline = est.doubles('_baseline_prediction', k);
  const stages = est.list('_predictors');
  if (stages.length === 0) est.refuse('it has no fitted predictors');
  const { tin, categorical } = treeInput(est, input, ctx);
  const trees: TreeIR[] = [constantTree(Array.from(baseline))];
  stages.forEach((stage, i) => {
    const ps = asList(stage);
    if (ps === undefined || ps.length !== k) est.refuse(`_predictors[${i}] does not hold ${k} predictors`);
    ps.forEach((p, j) => {
      const pred = est.child(p, `${est.path}._predictors[${i}][${j}]`);
      if (!(pred instanceof Estimator) || !pred.classPath.endsWith('.predictor.TreePredictor'))
        est.refuse(`_predictors[${i}][${j}] is not a TreePredictor`);
      trees.push(predictorToIR(pred, j, tin, categorical));
    });
  });
  return emitTreeEnsemble(ctx.g, { nFeatures: tin.width, nTargets: k, trees, aggregate: 'sum', inputPrecision: 'float64' }, tin.x);
}

/** The loss's inverse link, from the pickled `_loss` and its `link` (both must be scikit-learn's). */
function link(est: Estimator): string {
  const loss = lossClass(est, '_loss');
  const lossObj = est.child(est.raw('_loss'), `${est.path}._loss`) as Estimator;
  const linkPath = lossClass(lossObj, 'link');
  if (!loss.startsWith(LOSS) || !linkPath.startsWith(LINK)) est.refuse(`its loss ${loss} is not one of scikit-learn's`);
  return `${loss.slice(LOSS.length)}/${linkPath.slice(LINK.length)}`;
}

/** float64 [N, n_trees_per_iteration_]: `_raw_predict`, what `decision_function` returns (before its ravel). */
export function histGradientBoostingDecision(est: Estimator, input: Value, ctx: CompileContext): string {
  return rawScore(est, input, ctx, est.int('n_trees_per_iteration_'));
}

export const histGradientBoostingClassifierConverter: Converter = {
  predict(est: Estimator, input: Value, ctx: CompileContext): Prediction {
    const g = ctx.g;
    if (ctx.method === 'predict_log_proba') est.refuse('it has no predict_log_proba');
    const classes = est.array('classes_');
    const nClasses = classes.size;
    const k = est.int('n_trees_per_iteration_');
    const binary = nClasses === 2;
    const expected = binary ? 'HalfBinomialLoss/LogitLink' : 'HalfMultinomialLoss/MultinomialLogit';
    if (classes.shape.length !== 1 || nClasses < 2 || k !== (binary ? 1 : nClasses))
      est.refuse('classes_ and n_trees_per_iteration_ disagree');
    if (link(est) !== expected) est.refuse(`loss ${link(est)} is not supported for ${nClasses} classes`);
    let raw: string | undefined;
    const score = (): string => (raw ??= rawScore(est, input, ctx, k));
    const proba = (): string => (binary ? expitProba(g, score()) : math.softmax(g, score()));
    const byProba = !atLeast(est.version, 1, 4);
    return {
      kind: 'classifier',
      classes,
      label: () => (byProba ? argMax(g, proba()) : binary ? signLabel(g, score(), true) : argMax(g, score())),
      proba,
    };
  },
};

export const histGradientBoostingRegressorConverter: Converter = {
  predict(est: Estimator, input: Value, ctx: CompileContext): Prediction {
    const [loss, inverse] = link(est).split('/');
    if (REGRESSOR_LINKS[loss] !== inverse) est.refuse(`loss ${loss} with link ${inverse} is not supported`);
    if (est.int('n_trees_per_iteration_') !== 1) est.refuse('n_trees_per_iteration_ is not 1');
    return {
      kind: 'regressor',
      targets: 1,
      value: () => {
        const y = ctx.g.op('Squeeze', [rawScore(est, input, ctx, 1), ctx.g.int64([1])]);
        return inverse === 'LogLink' ? ctx.g.op('Exp', [y]) : y;
      },
    };
  },
};
