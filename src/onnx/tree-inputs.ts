/**
 * Per-split views of a feature that a tree library computes before it compares, which ONNX's
 * TreeEnsemble cannot: LightGBM turns NaN into 0 (missing type None) or treats zero and NaN as
 * missing (type Zero), and both libraries truncate a categorical value to an integer before the
 * set test. Each view used is one transformed copy of the input matrix; a split reads view `v`
 * of feature `f` as column `v * width + f` of their concatenation.
 */
import type { GraphBuilder } from './graph-builder.js';

export type InputView =
  /** the value itself */
  | 'raw'
  /** floor(x): XGBoost's category of x >= 0 (negative values match no category either way) */
  | 'floor'
  /** trunc(x), LightGBM's `static_cast<int>` of a category (-0.5 → 0) */
  | 'trunc'
  /** NaN → 0 */
  | 'nan-to-zero'
  /** |x| <= float32(1e-35) or NaN → NaN (LightGBM's `IsZero`, so the split's missing direction applies) */
  | 'zero-to-nan';

/** LightGBM's kZeroThreshold, a float constant compared with double values. */
export const LGBM_ZERO_THRESHOLD = Math.fround(1e-35);

export class InputViews {
  private readonly order: InputView[] = ['raw'];

  constructor(readonly width: number) {}

  /** The column a split on `feature` seen through `view` reads. */
  column(view: InputView, feature: number): number {
    let at = this.order.indexOf(view);
    if (at === -1) at = this.order.push(view) - 1;
    return at * this.width + feature;
  }

  /** Total columns of the emitted matrix. */
  get columns(): number {
    return this.order.length * this.width;
  }

  /** The concatenated views of `x` (double [N, width]). */
  emit(g: GraphBuilder, x: string): string {
    const parts = this.order.map((v) => view(g, x, v));
    return parts.length === 1 ? parts[0] : g.op('Concat', parts, { axis: { i: 1 } });
  }
}

function view(g: GraphBuilder, x: string, v: InputView): string {
  switch (v) {
    case 'raw':
      return x;
    case 'floor':
      return g.op('Floor', [x]);
    case 'trunc':
      // ceil for negatives keeps -0.5 → -0 (== 0); NaN is not < 0 and stays NaN through Floor.
      return g.op('Where', [g.op('Less', [x, g.double([0], [])]), g.op('Ceil', [x]), g.op('Floor', [x])]);
    case 'nan-to-zero':
      return g.op('Where', [g.op('IsNaN', [x]), g.double([0], []), x]);
    case 'zero-to-nan': {
      const zero = g.op('LessOrEqual', [g.op('Abs', [x]), g.double([LGBM_ZERO_THRESHOLD], [])]);
      return g.op('Where', [g.op('Or', [zero, g.op('IsNaN', [x])]), g.double([NaN], []), x]);
    }
  }
}
