/**
 * Sums emitted term by term in the order the reference adds them, so the rounding is the
 * reference's: C loops (libsvm, scikit-learn's Cython distance metrics) add left to right from
 * 0; numpy's `add.reduce` over a contiguous axis adds pairwise in blocks of eight
 * (`pairwise_sum` in numpy's loops_utils). ONNX ReduceSum promises no order.
 */
import type { GraphBuilder } from '../../../onnx/graph-builder.js';

/** `s = 0; for (t of terms) s += t` over same-shaped tensors (an empty list is refused by the caller). */
export function sequentialSum(g: GraphBuilder, terms: readonly string[]): string {
  let acc = terms[0];
  for (let k = 1; k < terms.length; k++) acc = g.op('Add', [acc, terms[k]]);
  return acc;
}

/** numpy's pairwise summation of `terms` (n < 8: left to right; ≤ 128: eight accumulators; else halves). */
export function numpyPairwiseSum(g: GraphBuilder, terms: readonly string[]): string {
  const n = terms.length;
  if (n < 8) return sequentialSum(g, terms);
  if (n <= 128) {
    const r = terms.slice(0, 8);
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] = g.op('Add', [r[j], terms[i + j]]);
    const add = (a: string, b: string): string => g.op('Add', [a, b]);
    let res = add(add(add(r[0], r[1]), add(r[2], r[3])), add(add(r[4], r[5]), add(r[6], r[7])));
    for (; i < n; i++) res = add(res, terms[i]);
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return g.op('Add', [numpyPairwiseSum(g, terms.slice(0, n2)), numpyPairwiseSum(g, terms.slice(n2))]);
}

/** The `n` columns of a [N, n] (or [..., n]) tensor as [..., 1] tensors. */
export function columns(g: GraphBuilder, x: string, n: number, axis = 1): string[] {
  if (n === 1) return [x];
  return g.node('Split', [x, g.int64(new Array<number>(n).fill(1))], { axis: { i: axis } }, { outputs: n, hint: 'col' });
}

/** {@link numpyPairwiseSum} on numbers known at compile time. */
export function numpyPairwiseSumOf(values: readonly number[]): number {
  const n = values.length;
  if (n < 8) return values.reduce((a, b) => a + b, 0);
  if (n <= 128) {
    const r = values.slice(0, 8);
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += values[i + j];
    let res = r[0] + r[1] + (r[2] + r[3]) + (r[4] + r[5] + (r[6] + r[7]));
    for (; i < n; i++) res += values[i];
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return numpyPairwiseSumOf(values.slice(0, n2)) + numpyPairwiseSumOf(values.slice(n2));
}
