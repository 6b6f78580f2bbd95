/**
 * Multinomial (softmax) logistic regression on the iris data, trained by deterministic
 * full-batch gradient descent. Features are standardised internally; the returned weights
 * apply to raw features (the scaling is folded back in).
 */
import { IRIS_FEATURES, IRIS_LABELS } from './iris-data.js';

export interface TrainIrisOptions {
  /** Gradient-descent steps. @default 5000 */
  iterations?: number;
  /** Step size (on standardised features). @default 0.5 */
  learningRate?: number;
  /** L2 penalty on the (standardised) weights, not on the biases. @default 1e-3 */
  l2?: number;
  /**
   * Decimal places the returned weights and bias are rounded to, so the model bytes do not
   * depend on the last bits of floating-point arithmetic. @default 6
   */
  decimals?: number;
}

export interface IrisLogReg {
  /** 3x4: logits = weights · x + bias, on raw features. */
  weights: number[][];
  bias: number[];
  /** Training accuracy of the returned (rounded) weights over all 150 rows. */
  accuracy: number;
}

const N_FEATURES = 4;
const N_CLASSES = 3;

export function trainIrisLogReg(opts: TrainIrisOptions = {}): IrisLogReg {
  const iterations = opts.iterations ?? 5000;
  const lr = opts.learningRate ?? 0.5;
  const l2 = opts.l2 ?? 1e-3;
  const decimals = opts.decimals ?? 6;

  const x = IRIS_FEATURES;
  const y = IRIS_LABELS;
  const n = x.length;

  // Standardise.
  const mean = new Array<number>(N_FEATURES).fill(0);
  const std = new Array<number>(N_FEATURES).fill(0);
  for (const row of x) for (let j = 0; j < N_FEATURES; j++) mean[j] += row[j] / n;
  for (const row of x) for (let j = 0; j < N_FEATURES; j++) std[j] += (row[j] - mean[j]) ** 2 / n;
  for (let j = 0; j < N_FEATURES; j++) std[j] = Math.sqrt(std[j]);
  const z = x.map((row) => row.map((v, j) => (v - mean[j]) / std[j]));

  const w = Array.from({ length: N_CLASSES }, () => new Array<number>(N_FEATURES).fill(0));
  const b = new Array<number>(N_CLASSES).fill(0);
  const p = new Array<number>(N_CLASSES);

  for (let it = 0; it < iterations; it++) {
    const gw = Array.from({ length: N_CLASSES }, () => new Array<number>(N_FEATURES).fill(0));
    const gb = new Array<number>(N_CLASSES).fill(0);
    for (let i = 0; i < n; i++) {
      softmaxInto(p, w, b, z[i]);
      for (let c = 0; c < N_CLASSES; c++) {
        const err = p[c] - (y[i] === c ? 1 : 0);
        gb[c] += err / n;
        for (let j = 0; j < N_FEATURES; j++) gw[c][j] += (err * z[i][j]) / n;
      }
    }
    for (let c = 0; c < N_CLASSES; c++) {
      b[c] -= lr * gb[c];
      for (let j = 0; j < N_FEATURES; j++) w[c][j] -= lr * (gw[c][j] + l2 * w[c][j]);
    }
  }

  // Fold the standardisation back: w·(x-μ)/σ + b = (w/σ)·x + (b - Σ w μ/σ).
  const round = (v: number): number => {
    const r = Number(v.toFixed(decimals));
    return Object.is(r, -0) ? 0 : r;
  };
  const weights = w.map((row) => row.map((v, j) => round(v / std[j])));
  const bias = b.map((bc, c) => round(bc - w[c].reduce((s, v, j) => s + (v * mean[j]) / std[j], 0)));

  let correct = 0;
  for (let i = 0; i < n; i++) if (argmax(logits(weights, bias, x[i])) === y[i]) correct++;
  return { weights, bias, accuracy: correct / n };
}

/** logits = W·x + b. */
export function logits(weights: readonly (readonly number[])[], bias: readonly number[], x: readonly number[]): number[] {
  return weights.map((row, c) => row.reduce((s, v, j) => s + v * x[j], bias[c]));
}

export function argmax(v: readonly number[]): number {
  let best = 0;
  for (let k = 1; k < v.length; k++) if (v[k] > v[best]) best = k;
  return best;
}

function softmaxInto(out: number[], w: number[][], b: number[], x: readonly number[]): void {
  let max = -Infinity;
  for (let c = 0; c < N_CLASSES; c++) {
    let s = b[c];
    for (let j = 0; j < N_FEATURES; j++) s += w[c][j] * x[j];
    out[c] = s;
    if (s > max) max = s;
  }
  let total = 0;
  for (let c = 0; c < N_CLASSES; c++) {
    out[c] = Math.exp(out[c] - max);
    total += out[c];
  }
  for (let c = 0; c < N_CLASSES; c++) out[c] /= total;
}
