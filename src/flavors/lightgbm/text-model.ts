/**
 * LightGBM's model text format (`Booster.save_model` / `model_to_string`, what a pickled Booster
 * keeps in `_handle`) → validated trees as the shared IR. From `gbdt_model_text.cpp` and
 * `tree.cpp`/`tree.h` (4.x):
 *
 * - header `key=value` lines (`num_class`, `num_tree_per_iteration`, `max_feature_idx`,
 *   `objective`, `feature_names`, a bare `average_output` for random forests), then `Tree=k`
 *   blocks, `end of trees`, parameters, `pandas_categorical:…`;
 * - a tree: `split_feature`, `threshold`, `decision_type` (bit 0 categorical, bit 1 default
 *   left, bits 2-3 missing type None/Zero/NaN), `left_child`/`right_child` (a negative child `c`
 *   is leaf `~c`), `leaf_value`, `cat_boundaries`/`cat_threshold` (a categorical split's
 *   threshold indexes its uint32 bitset), `is_linear`, `shrinkage` (already in the leaf values).
 *
 * Decisions (`NumericalDecision`, `CategoricalDecision`), in double: NaN becomes 0 unless the
 * missing type is NaN; a Zero-type split sends |x| <= 1e-35f to the default side, a NaN-type one
 * sends NaN there; otherwise `x <= threshold` goes left. A categorical split sends NaN and
 * negative values right, else trunc(x) left when it is in the bitset.
 */
import type { TreeIR, TreeNode } from '../../onnx/tree-ensemble.js';
import { TREE_LIMITS } from '../../onnx/tree-ensemble.js';
import type { InputViews } from '../../onnx/tree-inputs.js';
import { GatewayError } from '../../errors.js';

export class UnsupportedLgbModelError extends GatewayError {
  constructor(reason: string) {
    super('INVALID_PARAMETER_VALUE', `Cannot serve this LightGBM model: ${reason}.`);
  }
}

export function refuse(reason: string): never {
  throw new UnsupportedLgbModelError(reason);
}

/** Model strings longer than this are refused. */
export const MAX_LGB_MODEL_CHARS = 1024 * 1024 * 1024;
/** Category-set members over the whole model (bitsets can declare 32 per word). */
const MAX_MEMBERS = 10_000_000;
const MAX_FEATURES = 1_000_000;

export type LgbTransform = 'identity' | 'sigmoid' | 'softmax' | 'ova-sigmoid' | 'exp';

export interface LgbModel {
  readonly objective: string;
  readonly transform: LgbTransform;
  /** `sigmoid:` of binary / multiclassova (1 for cross_entropy). */
  readonly sigmoid: number;
  readonly numClass: number;
  readonly treesPerIteration: number;
  readonly numFeature: number;
  readonly featureNames: readonly string[];
  readonly averageOutput: boolean;
  /** Raw parsed trees; {@link toIR} maps them onto input views. */
  readonly trees: readonly LgbTree[];
  readonly pandasCategorical: boolean;
}

export interface LgbTree {
  readonly numLeaves: number;
  readonly splitFeature: Int32Array;
  readonly threshold: Float64Array;
  readonly decisionType: Int32Array;
  readonly left: Int32Array;
  readonly right: Int32Array;
  readonly leafValue: Float64Array;
  /** Per categorical split (indexed by its threshold): the categories that go left. */
  readonly catSets: readonly (readonly number[])[];
}

const IDENTITY = new Set([
  'regression',
  'regression_l2',
  'regression_l1',
  'huber',
  'fair',
  'quantile',
  'mape',
  'lambdarank',
  'rank_xendcg',
]);
const EXP = new Set(['poisson', 'gamma', 'tweedie']);

function parseObjective(line: string | undefined): { objective: string; transform: LgbTransform; sigmoid: number } {
  if (line === undefined || line.trim() === '') refuse('it records no objective (a custom objective cannot be reproduced)');
  const [objective, ...opts] = line.trim().split(/\s+/);
  const options = new Map(opts.map((o) => o.split(':') as [string, string]));
  const sigmoid = Number(options.get('sigmoid') ?? 1);
  if (!Number.isFinite(sigmoid)) refuse(`objective '${line}' has a bad sigmoid`);
  if (opts.includes('sqrt')) refuse(`objective '${line}' (sqrt-transformed labels) is not supported`);
  if (objective === 'binary') return { objective, transform: 'sigmoid', sigmoid };
  if (objective === 'cross_entropy' || objective === 'xentropy') return { objective, transform: 'sigmoid', sigmoid: 1 };
  if (objective === 'multiclass' || objective === 'softmax') return { objective, transform: 'softmax', sigmoid };
  if (objective === 'multiclassova' || objective === 'ova') return { objective, transform: 'ova-sigmoid', sigmoid };
  if (EXP.has(objective)) return { objective, transform: 'exp', sigmoid };
  if (IDENTITY.has(objective)) return { objective, transform: 'identity', sigmoid };
  return refuse(`objective '${objective}' is not supported`);
}

function numbers(text: string | undefined, what: string, n: number): Float64Array {
  if (n === 0) return new Float64Array(0);
  if (text === undefined) refuse(`${what} is missing`);
  const parts = text.trim().split(' ');
  if (parts.length !== n) refuse(`${what} has ${parts.length} values, expected ${n}`);
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const p = parts[k];
    // LightGBM writes inf/nan for extreme thresholds.
    const v = p === 'inf' ? Infinity : p === '-inf' ? -Infinity : Number(p);
    if (p === '' || Number.isNaN(v)) refuse(`${what} has a value that is not a number`);
    out[k] = v;
  }
  return out;
}

function ints(text: string | undefined, what: string, n: number): Int32Array {
  const v = numbers(text, what, n);
  if (!v.every((x) => Number.isInteger(x) && Math.abs(x) < 2 ** 31)) refuse(`${what} holds a value that is not a 32-bit integer`);
  return Int32Array.from(v);
}

function bitsetMembers(words: Float64Array, from: number, to: number): number[] {
  const out: number[] = [];
  for (let w = from; w < to; w++) {
    const word = words[w] >>> 0;
    for (let bit = 0; bit < 32; bit++) if ((word >>> bit) & 1) out.push((w - from) * 32 + bit);
  }
  return out;
}

function parseTree(kv: Map<string, string>, id: number, budget: { members: number }): LgbTree {
  const numLeaves = Number(kv.get('num_leaves'));
  if (!Number.isInteger(numLeaves) || numLeaves < 1 || numLeaves > TREE_LIMITS.maxNodesTotal) refuse(`tree ${id} has a bad num_leaves`);
  if ((kv.get('is_linear') ?? '0') !== '0')
    refuse('linear trees (linear_tree=true) are not supported: the ONNX TreeEnsemble has constant leaves only');
  const s = numLeaves - 1;
  const numCat = Number(kv.get('num_cat') ?? 0);
  if (!Number.isInteger(numCat) || numCat < 0 || numCat > s) refuse(`tree ${id} has a bad num_cat`);
  const catBounds = numCat > 0 ? ints(kv.get('cat_boundaries'), `tree ${id} cat_boundaries`, numCat + 1) : new Int32Array(0);
  const words = numCat > 0 ? numbers(kv.get('cat_threshold'), `tree ${id} cat_threshold`, catBounds[numCat] ?? 0) : new Float64Array(0);
  const catSets: number[][] = [];
  for (let c = 0; c < numCat; c++) {
    const [from, to] = [catBounds[c], catBounds[c + 1]];
    if (!(from >= 0 && from <= to && to <= words.length)) refuse(`tree ${id} cat_boundaries are out of range`);
    budget.members -= (to - from) * 32;
    if (budget.members < 0) refuse('the categorical splits name too many categories');
    catSets.push(bitsetMembers(words, from, to));
  }
  return {
    numLeaves,
    splitFeature: ints(kv.get('split_feature'), `tree ${id} split_feature`, s),
    threshold: numbers(kv.get('threshold'), `tree ${id} threshold`, s),
    decisionType: ints(kv.get('decision_type'), `tree ${id} decision_type`, s),
    left: ints(kv.get('left_child'), `tree ${id} left_child`, s),
    right: ints(kv.get('right_child'), `tree ${id} right_child`, s),
    leafValue: numbers(kv.get('leaf_value') ?? (numLeaves === 1 ? '0' : undefined), `tree ${id} leaf_value`, numLeaves),
    catSets,
  };
}

/** `key=value` lines of one block. */
function block(lines: readonly string[]): Map<string, string> {
  const kv = new Map<string, string>();
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq > 0) kv.set(line.slice(0, eq), line.slice(eq + 1));
    else if (line.trim() !== '') kv.set(line.trim(), '');
  }
  return kv;
}

function pandasCategorical(text: string): boolean {
  const at = text.lastIndexOf('\npandas_categorical:');
  if (at === -1) return false;
  const v = text.slice(at + '\npandas_categorical:'.length).trim();
  return v !== 'null' && v !== '[]' && v !== '';
}

/** Parses a model string; refuses what prediction could not reproduce. */
export function parseLgbModel(text: string): LgbModel {
  if (text.length > MAX_LGB_MODEL_CHARS) refuse(`the model is ${text.length} characters, more than the ${MAX_LGB_MODEL_CHARS} allowed`);
  if (!text.startsWith('tree\n') && !text.startsWith('tree\r\n')) refuse("the model text does not start with 'tree'");
  const end = text.indexOf('\nend of trees');
  if (end === -1) refuse("the model text has no 'end of trees'");
  const blocks = text.slice(0, end).split(/\r?\nTree=/);
  const head = block(blocks[0].split(/\r?\n/));
  const { objective, transform, sigmoid } = parseObjective(head.get('objective'));
  const numClass = Number(head.get('num_class') ?? 1);
  const perIter = Number(head.get('num_tree_per_iteration') ?? numClass);
  const maxFeature = Number(head.get('max_feature_idx'));
  if (!Number.isInteger(numClass) || numClass < 1 || numClass > TREE_LIMITS.maxTargets) refuse('num_class is not a positive integer');
  if (perIter !== numClass) refuse(`num_tree_per_iteration ${perIter} differs from num_class ${numClass}`);
  if ((transform === 'softmax' || transform === 'ova-sigmoid') !== numClass > 1)
    refuse(`objective ${objective} with num_class ${numClass}`);
  if (!Number.isInteger(maxFeature) || maxFeature < 0 || maxFeature >= MAX_FEATURES) refuse('max_feature_idx is not a valid feature index');
  const featureNames = (head.get('feature_names') ?? '').trim().split(' ');
  if (featureNames.length !== maxFeature + 1) refuse(`feature_names lists ${featureNames.length} names for ${maxFeature + 1} features`);
  const count = blocks.length - 1;
  if (count < 1 || count > TREE_LIMITS.maxTrees) refuse(`the model has ${count} trees`);
  if (count % perIter !== 0) refuse(`${count} trees is not a whole number of iterations of ${perIter}`);
  const budget = { members: MAX_MEMBERS };
  const trees = blocks.slice(1).map((b, k) => {
    const lines = b.split(/\r?\n/);
    if (Number(lines[0]) !== k) refuse(`tree blocks are out of order at Tree=${lines[0]}`);
    return parseTree(block(lines.slice(1)), k, budget);
  });
  return {
    objective,
    transform,
    sigmoid,
    numClass,
    treesPerIteration: perIter,
    numFeature: maxFeature + 1,
    featureNames,
    averageOutput: head.has('average_output'),
    trees,
    pandasCategorical: pandasCategorical(text),
  };
}

/** The node at child pointer `c`: leaves (negative `c`) follow the splits. */
function nodeIndex(c: number, splits: number, tree: number): number {
  const k = c < 0 ? splits + ~c : c;
  if (!Number.isInteger(c) || k < 0 || k >= splits + (splits + 1)) refuse(`tree ${tree} has child ${c} out of range`);
  return k;
}

/**
 * One tree as IR over `views` of the input; leaves add to target `target`. Splits come first
 * (0..s-1), then leaves; the IR's own check refuses cycles and unreachable nodes.
 */
export function toIR(t: LgbTree, id: number, target: number, numFeature: number, views: InputViews): TreeIR {
  const s = t.numLeaves - 1;
  if (s === 0) return { nodes: [{ kind: 'leaf', targets: [target], weights: [t.leafValue[0]] }] };
  const nodes: TreeNode[] = [];
  for (let k = 0; k < s; k++) {
    const f = t.splitFeature[k];
    if (f < 0 || f >= numFeature) refuse(`tree ${id} splits on feature ${f}, the model has ${numFeature}`);
    const dt = t.decisionType[k];
    const left = nodeIndex(t.left[k], s, id);
    const right = nodeIndex(t.right[k], s, id);
    if (dt & 1) {
      const set = t.catSets[t.threshold[k]];
      if (!Number.isInteger(t.threshold[k]) || set === undefined) refuse(`tree ${id} split ${k} names a missing category set`);
      nodes.push({
        kind: 'split',
        feature: views.column('trunc', f),
        mode: 'member',
        threshold: 0,
        members: set,
        trueChild: left,
        falseChild: right,
        missingTracksTrue: false,
      });
      continue;
    }
    const missing = (dt >> 2) & 3;
    const defaultLeft = (dt & 2) !== 0;
    const view = missing === 0 ? 'nan-to-zero' : missing === 1 ? 'zero-to-nan' : 'raw';
    if (missing === 3) refuse(`tree ${id} split ${k} has an unknown missing type`);
    if (Number.isNaN(t.threshold[k])) refuse(`tree ${id} split ${k} has a NaN threshold`);
    nodes.push({
      kind: 'split',
      feature: views.column(view, f),
      mode: 'leq',
      threshold: t.threshold[k],
      trueChild: left,
      falseChild: right,
      missingTracksTrue: defaultLeft,
    });
  }
  for (let l = 0; l < t.numLeaves; l++) nodes.push({ kind: 'leaf', targets: [target], weights: [t.leafValue[l]] });
  return { nodes };
}
