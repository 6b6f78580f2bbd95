/**
 * libsvm models (SVC, NuSVC, SVR, NuSVR) as scikit-learn's fork of `svm.cpp` predicts them, on
 * the internal `_dual_coef_` / `_intercept_` (= -rho) / `_n_support`, support vectors grouped
 * by class in `classes_` order:
 * - kernels (`k_function`): linear `x·y`, poly `powi(γ x·y + coef0, degree)` (repeated
 *   squaring), rbf `exp(-γ Σ (x-y)²)`, sigmoid `tanh(γ x·y + coef0)`, each sum left to right;
 * - pair (i, j) of classes i < j: `Σ_{sv of i} coef[j-1] K + Σ_{sv of j} coef[i] K - rho`; a
 *   value > 0 votes for i, else for j; predict is the first class with the most votes, or with
 *   `break_ties` (ovr, > 2 classes) the arg-max of `_ovr_decision_function`;
 * - predict_proba: Platt's sigmoid per pair clipped to [1e-7, 1 - 1e-7], coupled by
 *   `multiclass_probability` (Wu, Lin and Weng's second method, iterated per row until it
 *   converges, at most max(100, k) times) — also for two classes, as the fork has no shortcut;
 * - regression: `Σ coef K - rho`.
 */
import type { GraphBuilder } from '../../../onnx/graph-builder.js';
import type { CompileContext, Converter, Prediction, Value } from '../context.js';
import type { NdArray } from '../pickle/index.js';
import { type Estimator, scalar } from '../state.js';
import { columns, sequentialSum } from './exact-sums.js';

const KERNELS = ['linear', 'poly', 'rbf', 'sigmoid'] as const;
type Kernel = (typeof KERNELS)[number];

interface Libsvm {
  readonly kernel: Kernel;
  readonly gamma: number;
  readonly coef0: number;
  readonly degree: number;
  /** [S, n_features], row-major. */
  readonly sv: Float64Array;
  readonly nSv: number;
  readonly nFeatures: number;
  /** [rows, S]: k-1 rows (classification) or 1 (regression). */
  readonly dualCoef: Float64Array;
  /** -rho, one per pair (or one for regression). */
  readonly intercept: Float64Array;
}

function readLibsvm(est: Estimator, coefRows: number, pairs: number): Libsvm {
  if (est.bool('_sparse', false)) est.refuse('models fitted on sparse input are not supported');
  const k = scalar(est.raw('kernel'));
  if (typeof k !== 'string') est.refuse('a callable kernel is not supported');
  if (!(KERNELS as readonly string[]).includes(k)) est.refuse(`kernel '${k}' is not supported`);
  const nFeatures = est.int('n_features_in_');
  const svArr = est.array('support_vectors_');
  const nSv = svArr.shape[0];
  if (svArr.shape.length !== 2 || svArr.shape[1] !== nFeatures) est.refuse('support_vectors_ does not have n_features_in_ columns');
  const dual = est.array('_dual_coef_');
  if (dual.shape.length !== 2 || dual.shape[0] !== coefRows || dual.shape[1] !== nSv)
    est.refuse(`_dual_coef_ is not (${coefRows}, ${nSv})`);
  return {
    kernel: k as Kernel,
    gamma: est.num('_gamma'),
    coef0: est.num('coef0'),
    degree: est.int('degree'),
    sv: est.doubles('support_vectors_'),
    nSv,
    nFeatures,
    dualCoef: est.doubles('_dual_coef_'),
    intercept: est.doubles('_intercept_', pairs),
  };
}

/** `powi`: repeated squaring, as libsvm computes integer powers. */
function powi(g: GraphBuilder, base: string, times: number): string {
  let ret: string | undefined;
  let tmp = base;
  for (let t = times; t > 0; t = Math.floor(t / 2)) {
    if (t % 2 === 1) ret = ret === undefined ? tmp : g.op('Mul', [ret, tmp]);
    if (t > 1) tmp = g.op('Mul', [tmp, tmp]);
  }
  return ret ?? g.op('Add', [g.op('Mul', [base, g.double([0], [])]), g.double([1], [])]);
}

/** float64 [N, S]: the kernel of every row with every support vector, sums in feature order. */
function kernelMatrix(ctx: CompileContext, x: string, m: Libsvm): string {
  const g = ctx.g;
  const xs = columns(g, x, m.nFeatures);
  const svCol = (j: number): string =>
    g.double(
      Float64Array.from({ length: m.nSv }, (_, s) => m.sv[s * m.nFeatures + j]),
      [1, m.nSv],
      'sv',
    );
  if (m.kernel === 'rbf') {
    const sq = xs.map((xj, j) => {
      const d = g.op('Sub', [xj, svCol(j)]);
      return g.op('Mul', [d, d]);
    });
    return g.op('Exp', [g.op('Mul', [g.double([-m.gamma], []), sequentialSum(g, sq)])]);
  }
  const dot = sequentialSum(
    g,
    xs.map((xj, j) => g.op('Mul', [xj, svCol(j)])),
  );
  if (m.kernel === 'linear') return dot;
  const t = g.op('Add', [g.op('Mul', [g.double([m.gamma], []), dot]), g.double([m.coef0], [])]);
  return m.kernel === 'poly' ? powi(g, t, m.degree) : g.op('Tanh', [t]);
}

interface Classes {
  readonly classes: NdArray;
  readonly k: number;
  /** First support vector of each class, and how many. */
  readonly start: number[];
  readonly count: number[];
}

function svcClasses(est: Estimator, nSv: number): Classes {
  const classes = est.array('classes_');
  const k = classes.size;
  if (classes.shape.length !== 1 || k < 2) est.refuse('classes_ must list at least two classes');
  const count = Array.from(est.doubles('_n_support', k));
  if (count.reduce((a, b) => a + b, 0) !== nSv) est.refuse('_n_support does not add up to the support vectors (altered model)');
  const start = count.map((_, c) => count.slice(0, c).reduce((a, b) => a + b, 0));
  return { classes, k, start, count };
}

/** The (i, j) pairs in libsvm's order. */
function pairsOf(k: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < k; i++) for (let j = i + 1; j < k; j++) out.push([i, j]);
  return out;
}

/** float64 [N, pairs]: libsvm's decision values (> 0 favours the first class of the pair). */
function ovoDecision(ctx: CompileContext, kernel: string, m: Libsvm, c: Classes): string {
  const g = ctx.g;
  const S = m.nSv;
  const cols = pairsOf(c.k).map(([i, j], p) => {
    const idx: number[] = [];
    const w: number[] = [];
    for (let s = 0; s < c.count[i]; s++) {
      idx.push(c.start[i] + s);
      w.push(m.dualCoef[(j - 1) * S + c.start[i] + s]);
    }
    for (let s = 0; s < c.count[j]; s++) {
      idx.push(c.start[j] + s);
      w.push(m.dualCoef[i * S + c.start[j] + s]);
    }
    // Only the pair's own support vectors, as libsvm: another class's inf kernel value must not reach it as 0 * inf.
    const kv = g.op('Gather', [kernel, g.int64(idx)], { axis: { i: 1 } });
    return g.op('Add', [g.op('MatMul', [kv, g.double(w, [w.length, 1], 'dual')]), g.double([m.intercept[p]], [1, 1], 'icpt')]);
  });
  return cols.length === 1 ? cols[0] : g.op('Concat', cols, { axis: { i: 1 } });
}

/** libsvm's vote: int64 [N], the first class with the most votes. */
function vote(ctx: CompileContext, dec: string, k: number): string {
  const g = ctx.g;
  const pairs = pairsOf(k);
  const first = new Float64Array(pairs.length * k);
  const second = new Float64Array(pairs.length * k);
  pairs.forEach(([i, j], p) => {
    first[p * k + i] = 1;
    second[p * k + j] = 1;
  });
  const wins = g.op('Cast', [g.op('Greater', [dec, g.double([0], [])])], { to: { i: 11 } });
  const losses = g.op('Sub', [g.double([1], []), wins]);
  const votes = g.op('Add', [
    g.op('MatMul', [wins, g.double(first, [pairs.length, k])]),
    g.op('MatMul', [losses, g.double(second, [pairs.length, k])]),
  ]);
  return g.op('ArgMax', [votes], { axis: { i: 1 }, keepdims: { i: 0 } });
}

/** `_ovr_decision_function(dec < 0, -dec, k)` arg-max, for break_ties. */
function brokenTies(ctx: CompileContext, dec: string, k: number): string {
  const g = ctx.g;
  const pairs = pairsOf(k);
  const d = columns(g, dec, pairs.length);
  const conf = d.map((v) => g.op('Neg', [v]));
  const toJ = d.map((v) => g.op('Cast', [g.op('Less', [v, g.double([0], [])])], { to: { i: 11 } }));
  const votes: string[][] = Array.from({ length: k }, () => []);
  const sums: (string | undefined)[] = new Array<string | undefined>(k).fill(undefined);
  pairs.forEach(([i, j], p) => {
    sums[i] = sums[i] === undefined ? g.op('Neg', [conf[p]]) : g.op('Sub', [sums[i] as string, conf[p]]);
    sums[j] = sums[j] === undefined ? conf[p] : g.op('Add', [sums[j] as string, conf[p]]);
    votes[i].push(g.op('Sub', [g.double([1], []), toJ[p]]));
    votes[j].push(toJ[p]);
  });
  const score = sums.map((s, c) => {
    const sc = s as string;
    const transformed = g.op('Div', [sc, g.op('Mul', [g.double([3], []), g.op('Add', [g.op('Abs', [sc]), g.double([1], [])])])]);
    return g.op('Add', [sequentialSum(g, votes[c]), transformed]);
  });
  return g.op('ArgMax', [g.op('Concat', score, { axis: { i: 1 } })], { axis: { i: 1 }, keepdims: { i: 0 } });
}

/** Platt's `sigmoid_predict`, clipped to [1e-7, 1 - 1e-7] with C's `min(max(·))` (NaN becomes 1e-7). */
function pairwiseProba(ctx: CompileContext, dec: string, probA: Float64Array, probB: Float64Array): string {
  const g = ctx.g;
  const P = probA.length;
  const fApB = g.op('Add', [g.op('Mul', [dec, g.double(probA, [1, P], 'probA')]), g.double(probB, [1, P], 'probB')]);
  const one = g.double([1], []);
  const e = g.op('Exp', [g.op('Neg', [fApB])]);
  const pos = g.op('Div', [e, g.op('Add', [one, e])]);
  const neg = g.op('Div', [one, g.op('Add', [one, g.op('Exp', [fApB])])]);
  const p = g.op('Where', [g.op('GreaterOrEqual', [fApB, g.double([0], [])]), pos, neg]);
  const lo = g.double([1e-7], []);
  const hi = g.double([1 - 1e-7], []);
  const atLeastLo = g.op('Where', [g.op('Greater', [p, lo]), p, lo]);
  return g.op('Where', [g.op('Less', [atLeastLo, hi]), atLeastLo, hi]);
}

interface Coupling {
  /** Q[:, t, :] as [N, k], per t. */
  readonly qRow: string[];
  /** Q[:, :, j] as [N, k], per j. */
  readonly qCol: string[];
  /** Q[:, t, t] as [N, 1], per t. */
  readonly qDiag: string[];
}

/** `multiclass_probability`'s Q from the pairwise probabilities r[i][j] (i < j given, r[j][i] = 1 - r[i][j]). */
function couplingMatrix(ctx: CompileContext, pairwise: string, k: number): Coupling {
  const g = ctx.g;
  const pairs = pairsOf(k);
  const rp = columns(g, pairwise, pairs.length);
  const r = (i: number, j: number): string => {
    const p = pairs.findIndex(([a, b]) => a === Math.min(i, j) && b === Math.max(i, j));
    return i < j ? rp[p] : g.op('Sub', [g.double([1], []), rp[p]]);
  };
  const q: string[][] = Array.from({ length: k }, () => new Array<string>(k));
  const diag: string[] = [];
  for (let t = 0; t < k; t++) {
    const terms: string[] = [];
    for (let j = 0; j < k; j++) {
      if (j === t) continue;
      const rjt = r(j, t);
      terms.push(g.op('Mul', [rjt, rjt]));
      if (j > t) q[t][j] = g.op('Neg', [g.op('Mul', [rjt, r(t, j)])]);
    }
    diag.push(sequentialSum(g, terms));
    q[t][t] = diag[t];
    for (let j = 0; j < t; j++) q[t][j] = q[j][t];
  }
  const concat = (xs: string[]): string => g.op('Concat', xs, { axis: { i: 1 } });
  return {
    qRow: q.map((row) => concat(row)),
    qCol: Array.from({ length: k }, (_, j) => concat(q.map((row) => row[j]))),
    qDiag: diag,
  };
}

/** One iteration of `multiclass_probability` for rows not yet converged: [p, done] → [p', done']. */
function couplingStep(sub: GraphBuilder, q: Coupling, k: number, p: string, done: string): [string, string] {
  let qp: string | undefined;
  for (let j = 0; j < k; j++) {
    const term = sub.op('Mul', [q.qCol[j], sub.op('Gather', [p, sub.int64([j], [1])], { axis: { i: 1 } })]);
    qp = qp === undefined ? term : sub.op('Add', [qp, term]);
  }
  let qpAll = qp as string;
  const pc = columns(sub, p, k);
  const qc = columns(sub, qpAll, k);
  let pQp = sequentialSum(
    sub,
    pc.map((pt, t) => sub.op('Mul', [pt, qc[t]])),
  );
  const maxError = sub.op('ReduceMax', [sub.op('Abs', [sub.op('Sub', [qpAll, pQp])]), sub.int64([1])], { keepdims: { i: 1 } });
  const stop = sub.op('Or', [done, sub.op('Less', [maxError, sub.double([0.005 / k], [])])]);
  let pNew = p;
  const one = sub.double([1], []);
  for (let t = 0; t < k; t++) {
    const qpt = sub.op('Gather', [qpAll, sub.int64([t], [1])], { axis: { i: 1 } });
    const diff = sub.op('Div', [sub.op('Add', [sub.op('Neg', [qpt]), pQp]), q.qDiag[t]]);
    const onePlus = sub.op('Add', [one, diff]);
    const mask = sub.constant(
      'bool',
      [1, k],
      Array.from({ length: k }, (_, j) => j === t),
    );
    pNew = sub.op('Where', [mask, sub.op('Add', [pNew, diff]), pNew]);
    const inner = sub.op('Add', [sub.op('Mul', [diff, q.qDiag[t]]), sub.op('Mul', [sub.double([2], []), qpt])]);
    pQp = sub.op('Div', [sub.op('Div', [sub.op('Add', [pQp, sub.op('Mul', [diff, inner])]), onePlus]), onePlus]);
    qpAll = sub.op('Div', [sub.op('Add', [qpAll, sub.op('Mul', [diff, q.qRow[t]])]), onePlus]);
    pNew = sub.op('Div', [pNew, onePlus]);
  }
  return [sub.op('Where', [stop, p, pNew]), stop];
}

/** `multiclass_probability`: float64 [N, k], iterated until every row has converged (or max(100, k) times). */
function couple(ctx: CompileContext, pairwise: string, k: number): string {
  const g = ctx.g;
  const q = couplingMatrix(ctx, pairwise, k);
  const n = g.op('Slice', [g.op('Shape', [pairwise]), g.int64([0]), g.int64([1])]);
  const p0 = g.op('Expand', [
    g.double(new Array<number>(k).fill(1 / k), [1, k], 'p0'),
    g.op('Concat', [n, g.int64([k])], { axis: { i: 0 } }),
  ]);
  const done0 = g.op('Expand', [g.constant('bool', [1, 1], [false]), g.op('Concat', [n, g.int64([1])], { axis: { i: 0 } })]);
  const body = g.subgraph(
    'coupling',
    [
      { dtype: 'int64', shape: [] },
      { dtype: 'bool', shape: [] },
      { dtype: 'float64', shape: ['N', k] },
      { dtype: 'bool', shape: ['N', 1] },
    ],
    (sub, [, , p, done]) => {
      const [pNext, doneNext] = couplingStep(sub, q, k, p, done);
      const allDone = sub.op('Cast', [sub.op('ReduceMin', [sub.op('Cast', [doneNext], { to: { i: 6 } })], { keepdims: { i: 0 } })], {
        to: { i: 9 },
      });
      const cond = sub.op('Not', [allDone]);
      return [
        { name: cond, dtype: 'bool', shape: [] },
        { name: pNext, dtype: 'float64', shape: ['N', k] },
        { name: doneNext, dtype: 'bool', shape: ['N', 1] },
      ];
    },
  );
  const [p] = g.node(
    'Loop',
    [g.int64([Math.max(100, k)], []), g.constant('bool', [], [true]), p0, done0],
    { body: { g: body } },
    { outputs: 2 },
  );
  return p;
}

/** Whether predict_proba exists: `probability=True` at fit (1.9's default is the string 'deprecated') and Platt parameters stored. */
function probabilityParams(est: Estimator, pairs: number): { probA: Float64Array; probB: Float64Array } | string {
  const flag = scalar(est.raw('_effective_probability') ?? est.raw('probability'));
  if (flag !== true) return `${est.name} was fitted with probability=False, so it has no predict_proba`;
  const probA = est.doubles('_probA');
  const probB = est.doubles('_probB');
  if (probA.length === 0 || probB.length === 0) return `${est.name} has no Platt scaling parameters, so no predict_proba`;
  if (probA.length !== pairs || probB.length !== pairs) est.refuse(`_probA/_probB do not have one value per class pair (${pairs})`);
  return { probA, probB };
}

interface Svc {
  readonly m: Libsvm;
  readonly c: Classes;
  /** float64 [N, pairs], computed once. */
  readonly dec: () => string;
}

function svc(est: Estimator, input: Value, ctx: CompileContext): Svc {
  const k = est.array('classes_').size;
  const m = readLibsvm(est, Math.max(k - 1, 1), (k * (k - 1)) / 2);
  const c = svcClasses(est, m.nSv);
  let dec: string | undefined;
  return {
    m,
    c,
    dec() {
      if (dec !== undefined) return dec;
      const x = ctx.numeric(input, est);
      if (x.width !== m.nFeatures) est.refuse(`it was fitted on ${m.nFeatures} features but receives ${x.width}`);
      ctx.assertFinite(x.name, est, { allowNaN: false });
      dec = ovoDecision(ctx, kernelMatrix(ctx, x.name, m), m, c);
      return dec;
    },
  };
}

/** A binary SVC's decision_function, float64 [N] (scikit-learn flips libsvm's sign for two classes). */
export function svcBinaryDecision(est: Estimator, input: Value, ctx: CompileContext): string {
  const s = svc(est, input, ctx);
  if (s.c.k !== 2) est.refuse('a binary SVC is expected here');
  return ctx.g.op('Neg', [ctx.g.op('Squeeze', [s.dec(), ctx.g.int64([1])])]);
}

export const svcConverter: Converter = {
  predict(est: Estimator, input: Value, ctx: CompileContext): Prediction {
    const s = svc(est, input, ctx);
    const shape = est.str('decision_function_shape');
    const breakTies = est.bool('break_ties', false);
    if (breakTies && shape === 'ovo') est.refuse("break_ties=True with decision_function_shape='ovo' makes predict raise");
    const proba = probabilityParams(est, (s.c.k * (s.c.k - 1)) / 2);
    return {
      kind: 'classifier',
      classes: s.c.classes,
      label: () => (breakTies && shape === 'ovr' && s.c.k > 2 ? brokenTies(ctx, s.dec(), s.c.k) : vote(ctx, s.dec(), s.c.k)),
      proba() {
        if (typeof proba === 'string') est.refuse(proba);
        return couple(ctx, pairwiseProba(ctx, s.dec(), proba.probA, proba.probB), s.c.k);
      },
    };
  },
};

export const svrConverter: Converter = {
  predict(est: Estimator, input: Value, ctx: CompileContext): Prediction {
    const m = readLibsvm(est, 1, 1);
    return {
      kind: 'regressor',
      targets: 1,
      value() {
        const g = ctx.g;
        const x = ctx.numeric(input, est);
        if (x.width !== m.nFeatures) est.refuse(`it was fitted on ${m.nFeatures} features but receives ${x.width}`);
        ctx.assertFinite(x.name, est, { allowNaN: false });
        const y = g.op('MatMul', [kernelMatrix(ctx, x.name, m), g.double(m.dualCoef, [m.nSv], 'dual')]);
        return g.op('Add', [y, g.double([m.intercept[0]], [], 'icpt')]);
      },
    };
  },
};
