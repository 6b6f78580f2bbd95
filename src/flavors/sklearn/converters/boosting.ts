/**
 * What the boosted-tree converters share: the constant a boosted model starts from as a one-leaf
 * tree ahead of the others (so every sum adds up in scikit-learn's order: start value first,
 * then the trees in fit order), and the raw-score → probability / label transforms, written op
 * by op as scikit-learn computes them.
 */
import { type GraphBuilder, math } from '../../../onnx/graph-builder.js';
import type { TreeIR } from '../../../onnx/tree-ensemble.js';
import { NdArray, PyObject } from '../pickle/index.js';
import type { Estimator } from '../state.js';

/** A one-leaf tree adding `values[k]` to target k. */
export function constantTree(values: readonly number[]): TreeIR {
  return { nodes: [{ kind: 'leaf', targets: values.map((_, k) => k), weights: [...values] }] };
}

/** The fitted class path of a loss (or link) object, refusing anything else. */
export function lossClass(est: Estimator, key: string): string {
  const v = est.raw(key);
  if (!(v instanceof PyObject)) est.refuse(`'${key}' is not a fitted loss object`);
  return v.cls.path;
}

/** An attribute that is an object array of fitted estimators, as a flat list with its shape. */
export function objectGrid(est: Estimator, key: string): { items: Estimator[]; shape: number[] } {
  const a = est.array(key);
  if (!(a instanceof NdArray) || a.dtype?.kind !== 'O') est.refuse(`'${key}' is not an object array`);
  const items = (a.data as unknown[]).map((v, i) => {
    const child = est.child(v as PyObject, `${est.path}.${key}[${i}]`);
    if (typeof child === 'string' || child === null) est.refuse(`${key}[${i}] is not a fitted estimator`);
    return child;
  });
  return { items, shape: a.shape };
}

/** `[1 - p, p]` from the positive-class probability p ([N, 1]), as `proba[:, 0] = 1 - proba[:, 1]`. */
export function binaryProba(g: GraphBuilder, p: string): string {
  return g.op('Concat', [g.op('Sub', [g.double([1], []), p]), p], { axis: { i: 1 } });
}

/** `expit(scale * raw)` for a [N, 1] raw score, as two probability columns. */
export function expitProba(g: GraphBuilder, raw: string, scale = 1): string {
  const z = scale === 1 ? raw : g.op('Mul', [g.double([scale], []), raw]);
  return binaryProba(g, math.expit(g, z));
}

/** `exp(raw - logsumexp(raw))` per row, scipy's logsumexp: `log(sum(exp(raw - max))) + max`. */
export function logsumexpProba(g: GraphBuilder, raw: string): string {
  const axes = g.int64([1]);
  const max = g.op('ReduceMax', [raw, axes], { keepdims: { i: 1 } });
  const sum = g.op('ReduceSum', [g.op('Exp', [g.op('Sub', [raw, max])]), axes], { keepdims: { i: 1 } });
  return g.op('Exp', [g.op('Sub', [raw, g.op('Add', [g.op('Log', [sum]), max])])]);
}

/** The first arg-max per row (numpy's tie rule), int64 [N]. */
export function argMax(g: GraphBuilder, x: string): string {
  return g.op('ArgMax', [x], { axis: { i: 1 }, keepdims: { i: 0 } });
}

/** 1 where `raw >= 0` (or `raw > 0` when `strict`), else 0, int64 [N] from a [N, 1] raw score. */
export function signLabel(g: GraphBuilder, raw: string, strict: boolean): string {
  const r = g.op('Squeeze', [raw, g.int64([1])]);
  const zero = g.double([0], []);
  return g.op('Cast', [g.op(strict ? 'Greater' : 'GreaterOrEqual', [r, zero])], { to: { i: 7 } });
}
