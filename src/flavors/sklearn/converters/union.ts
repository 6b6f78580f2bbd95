/**
 * `sklearn.pipeline.FeatureUnion`: every fitted transformer of `transformer_list` reads the
 * whole input ('passthrough' is the identity, 'drop' and None are skipped), each output is
 * multiplied by its `transformer_weights` entry when it has one (`res * weight`, exact in
 * float64) and the outputs are stacked side by side.
 */
import type { CompileContext, Converter, Value } from '../context.js';
import { PyDict } from '../pickle/index.js';
import { type Estimator, asList, scalar } from '../state.js';

/** `transformer_weights` by transformer name (empty when unset); ColumnTransformer has the same. */
export function transformerWeights(est: Estimator): Map<string, number> {
  const w = est.raw('transformer_weights');
  const out = new Map<string, number>();
  if (w === null || w === undefined) return out;
  if (!(w instanceof PyDict) || w.others.length > 0) est.refuse('transformer_weights is not a dict keyed by transformer name');
  for (const [name, v] of w.strings) {
    const n = scalar(v);
    const x = typeof n === 'bigint' || typeof n === 'boolean' ? Number(n) : n;
    if (typeof x !== 'number') est.refuse(`transformer_weights['${name}'] is not a number`);
    out.set(name, x);
  }
  return out;
}

/** `_transform_one`: `res * weight` when the transformer has a weight. */
export function applyWeight(part: Value, weight: number | undefined, est: Estimator, ctx: CompileContext): Value {
  if (weight === undefined) return part;
  const m = ctx.numeric(part, est);
  return { kind: 'numeric', name: ctx.g.op('Mul', [m.name, ctx.g.double([weight], [])]), width: m.width };
}

export const featureUnionConverter: Converter = {
  transform(est: Estimator, input: Value, ctx: CompileContext): Value {
    const g = ctx.g;
    const weight = transformerWeights(est);
    const parts: { name: string; width: number }[] = [];
    est.list('transformer_list').forEach((item, i) => {
      const pair = asList(item);
      const path = `${est.path}.transformer_list[${i}]`;
      if (pair === undefined || pair.length !== 2 || typeof pair[0] !== 'string')
        est.refuse(`transformer_list[${i}] is not a (name, transformer) pair`);
      const trans = est.child(pair[1], path);
      if (trans === 'drop' || trans === null) return;
      if (typeof trans === 'string' && trans !== 'passthrough') est.refuse(`transformer_list[${i}] is '${trans}'`);
      // The stacked output is numeric: string columns (passed through or produced) are refused here.
      const out = ctx.numeric(
        applyWeight(typeof trans === 'string' ? input : ctx.transform(trans, input), weight.get(pair[0]), est, ctx),
        est,
      );
      parts.push({ name: out.name, width: out.width });
    });
    if (parts.length === 0) est.refuse('all its transformers are dropped (the output has no columns)');
    const name =
      parts.length === 1
        ? parts[0].name
        : g.op(
            'Concat',
            parts.map((p) => p.name),
            { axis: { i: 1 } },
          );
    return { kind: 'numeric', name, width: parts.reduce((a, p) => a + p.width, 0) };
  },
};
