/**
 * A graph under construction for {@link buildOnnxModel}: unique value names, initializers,
 * nodes and the opsets they need. Compilers (scikit-learn state, tree ensembles) emit into one
 * builder and call `build()` once.
 */
import { type AttrValue, type GraphSpec, type OnnxDType, type TensorInit, type ValueInfo, buildOnnxModel } from './writer.js';

/** Default-domain opset: ReduceMax/ReduceSum take `axes` as an input from 18 on. */
export const DEFAULT_OPSET = 21;
export const ML_DOMAIN = 'ai.onnx.ml';

export interface NodeOptions {
  domain?: string;
  /** Number of outputs. @default 1 */
  outputs?: number;
  /** A readable stem for the output names. */
  hint?: string;
}

/** A typed value of a nested graph's signature. */
export interface SubgraphValue {
  readonly name: string;
  readonly dtype: OnnxDType;
  readonly shape: (number | string)[];
}

export class GraphBuilder {
  private readonly nodes: { op: string; inputs: string[]; outputs: string[]; attrs?: Record<string, AttrValue>; domain?: string }[] = [];
  private readonly initializers: TensorInit[] = [];
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];

  /** Nested graphs share the names and opsets of the graph that encloses them. */
  constructor(
    private readonly names = new Set<string>(),
    private readonly domains = new Map<string, number>(),
  ) {}

  /** A name not used before, from `hint`. */
  fresh(hint: string): string {
    const stem = hint.replace(/[^A-Za-z0-9_]/g, '_') || 'v';
    let name = stem;
    for (let k = 1; this.names.has(name); k++) name = `${stem}_${k}`;
    this.names.add(name);
    return name;
  }

  /** Declares that the graph uses `domain` at `version` (the highest request wins). */
  useDomain(domain: string, version: number): void {
    this.domains.set(domain, Math.max(version, this.domains.get(domain) ?? 0));
  }

  node(op: string, inputs: string[], attrs?: Record<string, AttrValue>, opts: NodeOptions = {}): string[] {
    const outputs = Array.from({ length: opts.outputs ?? 1 }, () => this.fresh(opts.hint ?? op.toLowerCase()));
    this.nodes.push({ op, inputs, outputs, attrs, domain: opts.domain });
    return outputs;
  }

  /** A node with one output. */
  op(op: string, inputs: string[], attrs?: Record<string, AttrValue>, opts: NodeOptions = {}): string {
    return this.node(op, inputs, attrs, { ...opts, outputs: 1 })[0];
  }

  constant(dtype: OnnxDType, dims: number[], data: TensorInit['data'], hint = 'const'): string {
    const name = this.fresh(hint);
    this.initializers.push({ name, dtype, dims, data });
    return name;
  }

  double(values: ArrayLike<number>, dims: number[] = [values.length], hint = 'c'): string {
    return this.constant('float64', dims, values, hint);
  }

  int64(values: readonly number[], dims: number[] = [values.length], hint = 'i'): string {
    return this.constant('int64', dims, values, hint);
  }

  input(hint: string, dtype: OnnxDType, shape: (number | string)[]): string {
    const name = this.fresh(hint);
    this.inputs.push({ name, dtype, shape });
    return name;
  }

  /** Fixes an input's shape once it is known (compilers learn their column counts as they go). */
  reshapeInput(name: string, shape: (number | string)[]): void {
    const input = this.inputs.find((i) => i.name === name);
    if (input === undefined) throw new Error(`no graph input named '${name}'`);
    input.shape = shape;
  }

  /** Marks `value` as a graph output (renamed through Identity when the output name differs). */
  output(value: string, name: string, dtype: OnnxDType, shape: (number | string)[]): string {
    const out = this.names.has(name) ? this.fresh(name) : (this.names.add(name), name);
    this.nodes.push({ op: 'Identity', inputs: [value], outputs: [out] });
    this.outputs.push({ name: out, dtype, shape });
    return out;
  }

  /**
   * A nested graph (a Loop body, an If branch). Its inputs are named from `inputs` hints; `body`
   * emits its nodes (it may read this graph's values) and returns its outputs. Names come from
   * this builder, so no value of the nested graph shadows one of an enclosing graph.
   */
  subgraph(
    hint: string,
    inputs: readonly Omit<SubgraphValue, 'name'>[],
    body: (sub: GraphBuilder, inputs: string[]) => SubgraphValue[],
  ): GraphSpec {
    const sub = new GraphBuilder(this.names, this.domains);
    const names = inputs.map((v, k) => sub.input(`${hint}_in${k}`, v.dtype, v.shape));
    for (const out of body(sub, names)) sub.output(out.name, `${hint}_out`, out.dtype, out.shape);
    return { name: this.fresh(hint), inputs: sub.inputs, outputs: sub.outputs, nodes: sub.nodes, initializers: sub.initializers };
  }

  build(docString?: string): Uint8Array {
    return buildOnnxModel({
      inputs: this.inputs,
      outputs: this.outputs,
      nodes: this.nodes,
      initializers: this.initializers,
      opset: DEFAULT_OPSET,
      domains: Object.fromEntries(this.domains),
      producer: 'modelgate',
      irVersion: 10,
      docString,
    });
  }
}

/** Double-precision building blocks shared by compilers, written out op by op so the arithmetic is the reference's. */
export const math = {
  /** `1 / (1 + exp(-x))`, scipy's `expit`. */
  expit(g: GraphBuilder, x: string): string {
    const one = g.double([1], []);
    return g.op('Div', [one, g.op('Add', [one, g.op('Exp', [g.op('Neg', [x])])])]);
  },
  /** Row softmax as scikit-learn computes it: subtract the row max, exp, divide by the row sum. */
  softmax(g: GraphBuilder, x: string): string {
    const axes = g.int64([1]);
    const shifted = g.op('Sub', [x, g.op('ReduceMax', [x, axes], { keepdims: { i: 1 } })]);
    const e = g.op('Exp', [shifted]);
    return g.op('Div', [e, g.op('ReduceSum', [e, axes], { keepdims: { i: 1 } })]);
  },
  /** 1.0 where any element of a row of `flags` (bool [N, k]) is set, else 0.0: one value per row. */
  anyPerRow(g: GraphBuilder, flags: string): string {
    return g.op('ReduceMax', [g.op('Cast', [flags], { to: { i: 11 } }), g.int64([1])], { keepdims: { i: 0 } });
  },
};
