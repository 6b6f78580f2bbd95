/** `sklearn.pipeline.Pipeline`: steps in order; `None`/'passthrough' steps are identities. */
import type { CompileContext, Converter, Prediction, Value } from '../context.js';
import { type Estimator, asList } from '../state.js';

interface Step {
  readonly step: Estimator | null;
  readonly path: string;
}

function steps(est: Estimator): Step[] {
  const list = est.list('steps');
  if (list.length === 0) est.refuse('it has no steps');
  return list.map((item, i) => {
    const pair = asList(item);
    const path = `${est.path}.steps[${i}]`;
    if (pair === undefined || pair.length !== 2) est.refuse(`steps[${i}] is not a (name, estimator) pair`);
    const child = est.child(pair[1], path);
    if (typeof child === 'string' && child !== 'passthrough') est.refuse(`steps[${i}] is '${child}'`);
    return { step: typeof child === 'string' ? null : child, path };
  });
}

function transformAll(list: readonly Step[], input: Value, ctx: CompileContext): Value {
  let v = input;
  for (const s of list) if (s.step !== null) v = ctx.transform(s.step, v);
  return v;
}

export const pipelineConverter: Converter = {
  transform(est, input, ctx) {
    return transformAll(steps(est), input, ctx);
  },
  predict(est: Estimator, input: Value, ctx: CompileContext): Prediction {
    const list = steps(est);
    const last = list[list.length - 1];
    if (last.step === null) est.refuse('its last step is passthrough, so it has no predict');
    return ctx.predict(last.step, transformAll(list.slice(0, -1), input, ctx));
  },
};

/** The first step that is not passthrough (where the pipeline's input columns are declared). */
export function firstStep(est: Estimator): Estimator | undefined {
  return steps(est).find((s) => s.step !== null)?.step ?? undefined;
}
