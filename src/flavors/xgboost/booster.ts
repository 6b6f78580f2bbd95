/**
 * An XGBoost model in the JSON schema's shape (`doc/model.schema`: from JSON, UBJSON or the
 * legacy binary format) → a validated booster: objective, base score, feature names and types,
 * trees as the shared IR (one target per output group), and the attributes prediction depends
 * on (`best_iteration`, the sklearn wrapper's `scikit_learn` parameters).
 *
 * Tree semantics (`predictor/predict_fn.h`, `common/categorical.h`): a missing value (NaN, or
 * the DMatrix's `missing`) takes the default child; a numeric split sends `x < cond` left (x and
 * cond float32); a categorical split sends `x` right when trunc(x) is one of the node's
 * categories and left otherwise (negative, too large and unseen categories go left).
 */
import type { TreeIR, TreeNode } from '../../onnx/tree-ensemble.js';
import { TREE_LIMITS } from '../../onnx/tree-ensemble.js';
import { GatewayError } from '../../errors.js';

export class UnsupportedXgbModelError extends GatewayError {
  constructor(reason: string) {
    super('INVALID_PARAMETER_VALUE', `Cannot serve this XGBoost model: ${reason}.`);
  }
}

export function refuse(reason: string): never {
  throw new UnsupportedXgbModelError(reason);
}

/** How an objective's margin becomes the prediction, and its `ProbToMargin` for base_score. */
export type XgbTransform = 'identity' | 'logistic' | 'exp' | 'softprob' | 'softmax';

const OBJECTIVES: Readonly<Record<string, XgbTransform>> = {
  'reg:squarederror': 'identity',
  'reg:linear': 'identity',
  'reg:squaredlogerror': 'identity',
  'reg:pseudohubererror': 'identity',
  'reg:absoluteerror': 'identity',
  'reg:logistic': 'logistic',
  'binary:logistic': 'logistic',
  'binary:logitraw': 'identity',
  'binary:hinge': 'identity',
  'count:poisson': 'exp',
  'reg:gamma': 'exp',
  'reg:tweedie': 'exp',
  'rank:pairwise': 'identity',
  'rank:ndcg': 'identity',
  'rank:map': 'identity',
  'multi:softprob': 'softprob',
  'multi:softmax': 'softmax',
};

/** Objectives whose base_score is given as a probability (logit margin) or a mean (log margin). */
const LOGIT_BASE = new Set(['reg:logistic', 'binary:logistic', 'binary:logitraw']);
const LOG_BASE = new Set(['count:poisson', 'reg:gamma', 'reg:tweedie']);

export interface XgbBooster {
  readonly objective: string;
  readonly transform: XgbTransform;
  /** Output groups (classes for multi:*, else 1). */
  readonly groups: number;
  /** float32 margin each group starts from (base_score after ProbToMargin). */
  readonly baseMargin: readonly number[];
  readonly numFeature: number;
  readonly featureNames?: readonly string[];
  /** One IR tree per XGBoost tree; leaves name target 0 (the caller assigns targets). */
  readonly trees: readonly TreeIR[];
  readonly treeInfo: readonly number[];
  /** Trees per boosting round: num_parallel_tree × groups. */
  readonly layerSize: number;
  readonly attributes: Readonly<Record<string, string>>;
  /** Features that categorical splits read (they are truncated before the set test). */
  readonly categorical: ReadonlySet<number>;
}

type Obj = Readonly<Record<string, unknown>>;

function obj(v: unknown, what: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || ArrayBuffer.isView(v)) refuse(`${what} is not an object`);
  return v as Obj;
}

function list(v: unknown, what: string): readonly unknown[] {
  if (!Array.isArray(v)) refuse(`${what} is not a list`);
  return v;
}

/** Numbers of a JSON list or a UBJSON typed array, `n` of them when given. */
function numbers(v: unknown, what: string, n?: number): ArrayLike<number> {
  let out: ArrayLike<number>;
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    if (v instanceof BigInt64Array || v instanceof BigUint64Array) out = Float64Array.from(v, Number);
    else out = v as unknown as ArrayLike<number>;
  } else if (Array.isArray(v) && v.every((x) => typeof x === 'number')) out = v as number[];
  else refuse(`${what} is not a list of numbers`);
  if (n !== undefined && out.length !== n) refuse(`${what} has ${out.length} entries, expected ${n}`);
  return out;
}

/** XGBoost writes its parameters as strings ("5E-1", "3"); older files as numbers. */
function num(v: unknown, what: string): number {
  const x = typeof v === 'string' ? Number(v) : v;
  if (typeof x !== 'number' || Number.isNaN(x)) refuse(`${what} is not a number`);
  return x;
}

function int(v: unknown, what: string, max: number): number {
  const x = num(v, what);
  if (!Number.isInteger(x) || x < 0 || x > max) refuse(`${what} is ${x}, expected an integer in [0, ${max}]`);
  return x;
}

/** Per node: its categories (node id → sorted category list). */
function categories(t: Obj, n: number, id: number): Map<number, number[]> {
  const out = new Map<number, number[]>();
  if (t.categories_nodes === undefined) return out;
  const cats = numbers(t.categories, `tree ${id} categories`);
  const nodes = numbers(t.categories_nodes, `tree ${id} categories_nodes`);
  const segs = numbers(t.categories_segments, `tree ${id} categories_segments`, nodes.length);
  const sizes = numbers(t.categories_sizes, `tree ${id} categories_sizes`, nodes.length);
  for (let k = 0; k < nodes.length; k++) {
    const node = nodes[k];
    const [beg, size] = [segs[k], sizes[k]];
    if (!Number.isInteger(node) || node < 0 || node >= n) refuse(`tree ${id} names categories for node ${node}`);
    if (!Number.isInteger(beg) || !Number.isInteger(size) || beg < 0 || size < 0 || beg + size > cats.length)
      refuse(`tree ${id} has a category segment out of range`);
    const set = Array.from({ length: size }, (_, i) => cats[beg + i]);
    // Categories at or above 2^24 cannot be matched (XGBoost treats them as invalid).
    if (!set.every((c) => Number.isInteger(c) && c >= 0 && c < 2 ** 24)) refuse(`tree ${id} node ${node} has an invalid category`);
    out.set(node, set);
  }
  return out;
}

/**
 * One tree as IR, keeping only the nodes reachable from the root (a pruned tree keeps deleted
 * nodes in its arrays). Refuses child indices out of range and cycles.
 */
function treeIR(t: Obj, id: number, numFeature: number, categorical: Set<number>): TreeIR {
  const left = numbers(t.left_children, `tree ${id} left_children`);
  const n = left.length;
  if (n < 1) refuse(`tree ${id} has no nodes`);
  const right = numbers(t.right_children, `tree ${id} right_children`, n);
  const index = numbers(t.split_indices, `tree ${id} split_indices`, n);
  // XGBoost reads JSON's decimal thresholds and leaf values into float32.
  const cond = Float32Array.from(numbers(t.split_conditions, `tree ${id} split_conditions`, n));
  const dflt = numbers(t.default_left, `tree ${id} default_left`, n);
  const type = t.split_type === undefined ? undefined : numbers(t.split_type, `tree ${id} split_type`, n);
  const cats = categories(t, n, id);
  const at = new Map<number, number>([[0, 0]]);
  const nodes: TreeNode[] = [];
  const todo = [0];
  // Renumber depth-first: an IR node's children get the next free positions.
  const pos = (k: number): number => {
    if (!Number.isInteger(k) || k < 0 || k >= n) refuse(`tree ${id} has child ${k} out of range`);
    if (at.has(k)) refuse(`tree ${id} node ${k} is reached twice`);
    at.set(k, at.size);
    todo.push(k);
    return at.size - 1;
  };
  for (let head = 0; head < todo.length; head++) {
    const k = todo[head];
    const me = at.get(k) as number;
    if (left[k] === -1) {
      nodes[me] = { kind: 'leaf', targets: [0], weights: [cond[k]] };
      continue;
    }
    const f = index[k];
    if (!Number.isInteger(f) || f < 0 || f >= numFeature)
      refuse(`tree ${id} node ${k} splits on feature ${f}, the model has ${numFeature}`);
    const l = pos(left[k]);
    const r = pos(right[k]);
    if (type !== undefined && type[k] === 1) {
      const members = cats.get(k);
      if (members === undefined) refuse(`tree ${id} node ${k} is categorical but has no categories`);
      categorical.add(f);
      // Members go right; missing follows default_left.
      nodes[me] = {
        kind: 'split',
        feature: f,
        mode: 'member',
        threshold: 0,
        members,
        trueChild: r,
        falseChild: l,
        missingTracksTrue: dflt[k] === 0,
      };
    } else {
      if (Number.isNaN(cond[k])) refuse(`tree ${id} node ${k} has a NaN threshold`);
      nodes[me] = {
        kind: 'split',
        feature: f,
        mode: 'lt',
        threshold: cond[k],
        trueChild: l,
        falseChild: r,
        missingTracksTrue: dflt[k] !== 0,
      };
    }
    if (nodes.length > TREE_LIMITS.maxNodesTotal) refuse('a tree has too many nodes');
  }
  return { nodes };
}

/** base_score as a float32 margin, as `ObjFunction::ProbToMargin` computes it in 1.7-2.x. */
function baseMargin(objective: string, base: number): number {
  const f = Math.fround;
  if (LOGIT_BASE.has(objective)) {
    if (!(base > 0 && base < 1)) refuse(`base_score ${base} must lie in (0, 1) for ${objective}`);
    return f(-f(Math.log(f(f(1 / f(base)) - 1))));
  }
  if (LOG_BASE.has(objective)) {
    if (!(base > 0)) refuse(`base_score ${base} must be positive for ${objective}`);
    return f(Math.log(f(base)));
  }
  return f(base);
}

/** `[0.5]`, `5E-1` or a number: XGBoost 3 may write base_score as a bracketed list. */
function baseScores(v: unknown, groups: number): number[] {
  const text = typeof v === 'string' ? v.trim() : v;
  if (typeof text === 'string' && text.startsWith('[')) {
    const items = text
      .slice(1, -1)
      .split(',')
      .filter((s) => s.trim() !== '')
      .map((s) => num(s, 'base_score'));
    if (items.length === 1) return Array.from({ length: groups }, () => items[0]);
    if (items.length !== groups) refuse(`base_score has ${items.length} values for ${groups} outputs`);
    return items;
  }
  const b = num(text ?? 0.5, 'base_score');
  return Array.from({ length: groups }, () => b);
}

function stringList(v: unknown, n: number, what: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  const names = list(v, what);
  if (names.length === 0) return undefined;
  if (names.length !== n || !names.every((s) => typeof s === 'string')) refuse(`${what} does not name ${n} features`);
  return names as string[];
}

function readAttributes(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v === undefined) return out;
  for (const [k, x] of Object.entries(obj(v, 'learner.attributes'))) if (typeof x === 'string') out[k] = x;
  return out;
}

/** The learner's trees and parameters; refuses anything prediction would not reproduce exactly. */
export function readBooster(doc: unknown): XgbBooster {
  const learner = obj(obj(doc, 'the model').learner, 'learner');
  const param = obj(learner.learner_model_param, 'learner_model_param');
  const objective = obj(learner.objective, 'learner.objective').name;
  if (typeof objective !== 'string') refuse('the objective has no name');
  const transform = OBJECTIVES[objective];
  if (transform === undefined) refuse(`objective '${objective}' is not supported (a custom objective's output transform is not recorded)`);
  const gb = obj(learner.gradient_booster, 'gradient_booster');
  if (gb.name === 'dart')
    refuse('DART boosters are not supported (their per-tree weights are applied in an order modelgate does not reproduce exactly)');
  if (gb.name !== 'gbtree') refuse(`booster '${String(gb.name)}' is not supported (only gbtree)`);
  const model = obj(gb.model, 'gradient_booster.model');
  const numFeature = int(param.num_feature, 'num_feature', 1_000_000);
  if (numFeature < 1) refuse('num_feature is 0');
  const numClass = int(param.num_class ?? 0, 'num_class', TREE_LIMITS.maxTargets);
  if (param.num_target !== undefined && int(param.num_target, 'num_target', 1_000_000) > 1) refuse('multi-target models are not supported');
  const multi = transform === 'softprob' || transform === 'softmax';
  if (multi && numClass < 2) refuse(`${objective} needs num_class >= 2`);
  const groups = multi ? numClass : 1;
  const treeList = list(model.trees, 'trees');
  if (treeList.length === 0 || treeList.length > TREE_LIMITS.maxTrees) refuse(`the model has ${treeList.length} trees`);
  const info = numbers(model.tree_info, 'tree_info', treeList.length);
  if (!Array.from(info).every((g) => Number.isInteger(g) && g >= 0 && g < groups)) refuse('tree_info names an output group out of range');
  const gparam = model.gbtree_model_param === undefined ? {} : obj(model.gbtree_model_param, 'gbtree_model_param');
  const parallel =
    gparam.num_parallel_tree === undefined ? 1 : Math.max(1, int(gparam.num_parallel_tree, 'num_parallel_tree', TREE_LIMITS.maxTrees));
  const categorical = new Set<number>();
  let total = 0;
  const trees = treeList.map((t, k) => {
    const ir = treeIR(obj(t, `tree ${k}`), k, numFeature, categorical);
    total += ir.nodes.length;
    if (total > TREE_LIMITS.maxNodesTotal) refuse('the model has too many nodes');
    return ir;
  });
  return {
    objective,
    transform,
    groups,
    baseMargin: baseScores(param.base_score, groups).map((b) => baseMargin(objective, b)),
    numFeature,
    featureNames: stringList(learner.feature_names, numFeature, 'feature_names'),
    trees,
    treeInfo: Array.from(info),
    layerSize: parallel * groups,
    attributes: readAttributes(learner.attributes),
    categorical,
  };
}

/** Trees a prediction over `[0, rounds)` boosting rounds uses (0 = all), as `iteration_range` does. */
export function treesForRounds(b: XgbBooster, rounds: number): number {
  if (rounds <= 0) return b.trees.length;
  return Math.min(b.trees.length, rounds * b.layerSize);
}
