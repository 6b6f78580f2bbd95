/**
 * `MLPClassifier` / `MLPRegressor` forward passes (`_forward_pass_fast`) in float64: each layer
 * `a @ coefs_[i] + intercepts_[i]`, the hidden activation (identity, logistic = scipy's expit,
 * tanh, relu = `np.maximum(a, 0)`, which keeps NaN) between layers and `out_activation_`
 * (identity, logistic, softmax as `inplace_softmax`, exp for the Poisson loss) at the end.
 * Classifier labels go through the LabelBinarizer's inverse: the first arg-max, or with one
 * output `p > (pos_label + neg_label) / 2`; predict_proba is the output (`[1 - p, p]` for one).
 */
import { math } from '../../../onnx/graph-builder.js';
import type { CompileContext, Converter, Prediction, Value } from '../context.js';
import { Estimator, toDoubles } from '../state.js';
import { NdArray } from '../pickle/index.js';

const HIDDEN = ['identity', 'logistic', 'tanh', 'relu'] as const;
const OUTPUT = ['identity', 'logistic', 'softmax', 'exp'] as const;

interface Layer {
  readonly w: Float64Array;
  readonly b: Float64Array;
  readonly nIn: number;
  readonly nOut: number;
}

function layers(est: Estimator): Layer[] {
  const coefs = est.list('coefs_');
  const intercepts = est.list('intercepts_');
  if (coefs.length === 0 || coefs.length !== intercepts.length) est.refuse('coefs_ and intercepts_ do not describe the same layers');
  if (est.int('n_layers_') !== coefs.length + 1) est.refuse('n_layers_ does not match coefs_');
  let nIn = est.int('n_features_in_');
  return coefs.map((c, i) => {
    const b = intercepts[i];
    if (!(c instanceof NdArray) || !(b instanceof NdArray) || c.shape.length !== 2 || c.shape[0] !== nIn || b.size !== c.shape[1])
      est.refuse(`coefs_[${i}] / intercepts_[${i}] do not chain from ${nIn} inputs`);
    const fail = (): never => est.refuse(`coefs_[${i}] is not numeric`);
    const layer = { w: toDoubles(c, fail), b: toDoubles(b, fail), nIn, nOut: c.shape[1] };
    nIn = layer.nOut;
    return layer;
  });
}

function activate(ctx: CompileContext, kind: string, a: string): string {
  const g = ctx.g;
  switch (kind) {
    case 'identity':
      return a;
    case 'logistic':
      return math.expit(g, a);
    case 'tanh':
      return g.op('Tanh', [a]);
    case 'relu':
      return g.op('Where', [g.op('Less', [a, g.double([0], [])]), g.double([0], []), a]);
    case 'exp':
      return g.op('Exp', [a]);
    case 'softmax':
    default:
      return math.softmax(g, a);
  }
}

/** float64 [N, n_outputs]: the network's output layer. */
function forward(est: Estimator, input: Value, ctx: CompileContext): { out: string; width: number } {
  const g = ctx.g;
  const hidden = est.str('activation');
  const output = est.str('out_activation_');
  if (!(HIDDEN as readonly string[]).includes(hidden)) est.refuse(`activation '${hidden}' is not supported`);
  if (!(OUTPUT as readonly string[]).includes(output)) est.refuse(`out_activation_ '${output}' is not supported`);
  const ls = layers(est);
  const x = ctx.numeric(input, est);
  if (x.width !== ls[0].nIn) est.refuse(`it was fitted on ${ls[0].nIn} features but receives ${x.width}`);
  ctx.assertFinite(x.name, est, { allowNaN: false });
  let a = x.name;
  ls.forEach((l, i) => {
    a = g.op('Add', [g.op('MatMul', [a, g.double(l.w, [l.nIn, l.nOut], 'coef')]), g.double(l.b, [1, l.nOut], 'intercept')]);
    a = activate(ctx, i === ls.length - 1 ? output : hidden, a);
  });
  return { out: a, width: ls[ls.length - 1].nOut };
}

function binarizer(est: Estimator): Estimator {
  const lb = est.child(est.req('_label_binarizer'), `${est.path}._label_binarizer`);
  if (!(lb instanceof Estimator)) est.refuse('_label_binarizer is not a LabelBinarizer');
  const type = lb.str('y_type_');
  if (type !== 'binary' && type !== 'multiclass') est.refuse(`'${type}' targets are not supported (multi-label)`);
  return lb;
}

export const mlpClassifierConverter: Converter = {
  predict(est: Estimator, input: Value, ctx: CompileContext): Prediction {
    const g = ctx.g;
    const classes = est.array('classes_');
    const lb = binarizer(est);
    const threshold = (lb.num('pos_label', 1) + lb.num('neg_label', 0)) / 2;
    let net: { out: string; width: number } | undefined;
    const once = (): { out: string; width: number } => {
      net ??= forward(est, input, ctx);
      if (net.width !== (classes.size === 2 ? 1 : classes.size)) est.refuse(`${net.width} outputs for ${classes.size} classes`);
      return net;
    };
    return {
      kind: 'classifier',
      classes,
      label() {
        const { out, width } = once();
        if (width > 1) return g.op('ArgMax', [out], { axis: { i: 1 }, keepdims: { i: 0 } });
        const p = g.op('Squeeze', [out, g.int64([1])]);
        return g.op('Cast', [g.op('Greater', [p, g.double([threshold], [])])], { to: { i: 7 } });
      },
      proba() {
        const { out, width } = once();
        return width > 1 ? out : g.op('Concat', [g.op('Sub', [g.double([1], []), out]), out], { axis: { i: 1 } });
      },
    };
  },
};

export const mlpRegressorConverter: Converter = {
  predict(est: Estimator, input: Value, ctx: CompileContext): Prediction {
    const targets = est.int('n_outputs_');
    return {
      kind: 'regressor',
      targets,
      value() {
        const { out, width } = forward(est, input, ctx);
        if (width !== targets) est.refuse(`${width} outputs for n_outputs_ ${targets}`);
        return targets === 1 ? ctx.g.op('Squeeze', [out, ctx.g.int64([1])]) : out;
      },
    };
  },
};
