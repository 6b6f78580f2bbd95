/**
 * A format-neutral tree-ensemble IR (scikit-learn, XGBoost, LightGBM all fit it) and its emission
 * as one `ai.onnx.ml` opset-5 `TreeEnsemble` node, whose thresholds, leaf weights and output are
 * doubles, so the graph computes what the source library computes.
 *
 * Semantics, per tree, for one input row `x` (a vector of `nFeatures` values):
 * - Evaluation starts at `nodes[root]` (default 0) and ends at a leaf.
 * - A split on `feature` f tests `x[f] <mode> threshold`: `leq` `x <= t` (scikit-learn,
 *   LightGBM numeric), `lt` `x < t` (XGBoost), `gte`, `gt`, `eq`, `neq`; `member` tests
 *   `x[f] ∈ members` (categorical set splits, e.g. LightGBM's; members are category values as
 *   numbers). True goes to `trueChild`, false to `falseChild`.
 * - A NaN `x[f]` goes to `trueChild` if `missingTracksTrue`, else to `falseChild` (ONNX's
 *   `nodes_missing_value_tracks_true`; with `leq` and `false` that is what a plain comparison
 *   does, since NaN compares false).
 * - A leaf adds `weights[i]` to target `targets[i]` (sparse: targets a leaf does not name get 0).
 *
 * Ensemble: per target, the trees' contributions are summed in tree order (`aggregate: 'sum'`),
 * or summed and then divided by the number of trees (`'average'`, as scikit-learn's forests do),
 * then `base[target]` is added, then `postTransform` applies (`logistic` = 1/(1+exp(-s)) per
 * target, `softmax` over targets, row max subtracted first).
 *
 * `inputPrecision: 'float32'` rounds `x` to float32 before comparing (scikit-learn trees cast X
 * to float32, XGBoost also stores its thresholds as float32); thresholds stay doubles either way.
 */
import { GatewayError } from '../errors.js';
import { type GraphBuilder, ML_DOMAIN, math } from './graph-builder.js';

export type SplitMode = 'leq' | 'lt' | 'gte' | 'gt' | 'eq' | 'neq' | 'member';

export interface TreeSplit {
  readonly kind: 'split';
  readonly feature: number;
  readonly mode: SplitMode;
  /** Ignored for `member`. */
  readonly threshold: number;
  /** The set for `member` splits. */
  readonly members?: readonly number[];
  readonly trueChild: number;
  readonly falseChild: number;
  readonly missingTracksTrue: boolean;
}

export interface TreeLeaf {
  readonly kind: 'leaf';
  readonly targets: readonly number[];
  readonly weights: readonly number[];
}

export type TreeNode = TreeSplit | TreeLeaf;

export interface TreeIR {
  readonly nodes: readonly TreeNode[];
  /** @default 0 */
  readonly root?: number;
}

export interface TreeEnsembleIR {
  readonly nFeatures: number;
  readonly nTargets: number;
  readonly trees: readonly TreeIR[];
  readonly aggregate: 'sum' | 'average';
  /** Added per target after aggregation; absent means zeros. */
  readonly base?: readonly number[];
  readonly postTransform?: 'none' | 'logistic' | 'softmax';
  readonly inputPrecision: 'float32' | 'float64';
}

/** Hard caps that keep a hostile model from building a huge graph. */
export const TREE_LIMITS = { maxTrees: 100_000, maxNodesTotal: 50_000_000, maxTargets: 100_000 } as const;

const MODE_CODE: Readonly<Record<SplitMode, number>> = { leq: 0, lt: 1, gte: 2, gt: 3, eq: 4, neq: 5, member: 6 };

export class InvalidTreeError extends GatewayError {
  constructor(message: string) {
    super('INVALID_PARAMETER_VALUE', `Invalid tree ensemble: ${message}`);
  }
}

function checkTree(tree: TreeIR, t: number, ir: TreeEnsembleIR): void {
  const n = tree.nodes.length;
  const root = tree.root ?? 0;
  if (n === 0 || !Number.isInteger(root) || root < 0 || root >= n) throw new InvalidTreeError(`tree ${t} has no valid root`);
  // Every node must be reached exactly once from the root: no cycles, no shared or orphan nodes.
  const seen = new Uint8Array(n);
  const todo = [root];
  let reached = 0;
  while (todo.length > 0) {
    const k = todo.pop() as number;
    if (seen[k]) throw new InvalidTreeError(`tree ${t} node ${k} is reached twice (a cycle or a shared child)`);
    seen[k] = 1;
    reached++;
    const node = tree.nodes[k];
    if (node.kind === 'leaf') {
      if (node.targets.length !== node.weights.length) throw new InvalidTreeError(`tree ${t} leaf ${k} has unpaired targets and weights`);
      for (const target of node.targets) {
        if (!Number.isInteger(target) || target < 0 || target >= ir.nTargets)
          throw new InvalidTreeError(`tree ${t} leaf ${k} names target ${target}`);
      }
      continue;
    }
    if (!Number.isInteger(node.feature) || node.feature < 0 || node.feature >= ir.nFeatures) {
      throw new InvalidTreeError(`tree ${t} node ${k} splits on feature ${node.feature}, the input has ${ir.nFeatures}`);
    }
    if (node.mode === 'member' ? !(node.members && node.members.every(Number.isFinite)) : Number.isNaN(node.threshold)) {
      throw new InvalidTreeError(`tree ${t} node ${k} has no valid threshold or set`);
    }
    for (const c of [node.trueChild, node.falseChild]) {
      if (!Number.isInteger(c) || c < 0 || c >= n) throw new InvalidTreeError(`tree ${t} node ${k} has child ${c} out of range`);
      todo.push(c);
    }
  }
  if (reached !== n) throw new InvalidTreeError(`tree ${t} has ${n - reached} nodes not reachable from its root`);
}

/** Throws {@link InvalidTreeError} unless every tree is a well-formed tree over the declared features and targets. */
export function validateTreeEnsemble(ir: TreeEnsembleIR): void {
  if (!Number.isInteger(ir.nFeatures) || ir.nFeatures < 1) throw new InvalidTreeError('nFeatures must be a positive integer');
  if (!Number.isInteger(ir.nTargets) || ir.nTargets < 1 || ir.nTargets > TREE_LIMITS.maxTargets) throw new InvalidTreeError('bad nTargets');
  if (ir.trees.length === 0 || ir.trees.length > TREE_LIMITS.maxTrees) throw new InvalidTreeError(`${ir.trees.length} trees`);
  if (ir.base !== undefined && ir.base.length !== ir.nTargets) throw new InvalidTreeError('base must have one value per target');
  let total = 0;
  ir.trees.forEach((tree, t) => {
    total += tree.nodes.length;
    if (total > TREE_LIMITS.maxNodesTotal) throw new InvalidTreeError('too many nodes');
    checkTree(tree, t, ir);
  });
}

/** The opset-5 attribute arrays, grown tree by tree. */
class Encoder {
  readonly roots: number[] = [];
  readonly features: number[] = [];
  readonly splits: number[] = [];
  readonly modes: number[] = [];
  readonly trueIds: number[] = [];
  readonly trueLeaf: number[] = [];
  readonly falseIds: number[] = [];
  readonly falseLeaf: number[] = [];
  readonly missingTrue: number[] = [];
  readonly members: number[] = [];
  readonly leafTargets: number[] = [];
  readonly leafWeights: number[] = [];

  /** Emits `tree` with only its contributions to `target` (ONNX leaves hold one weight each). */
  addTree(tree: TreeIR, target: number): void {
    const ids = new Map<number, number>();
    const leafIds = new Map<number, number>();
    const root = tree.root ?? 0;
    const rootNode = tree.nodes[root];
    if (rootNode.kind === 'leaf') {
      // A one-leaf tree: ONNX wants a split whose both branches reach the same leaf.
      this.roots.push(this.pushSplit(0, 'leq', 0, true));
      const leaf = this.leaf(rootNode, target);
      this.link(this.roots[this.roots.length - 1], leaf, true, leaf, true);
      return;
    }
    // Interior nodes get consecutive positions in depth-first order, then links are filled in.
    const order: number[] = [];
    const todo = [root];
    while (todo.length > 0) {
      const k = todo.pop() as number;
      const node = tree.nodes[k];
      if (node.kind === 'leaf') {
        leafIds.set(k, this.leaf(node, target));
        continue;
      }
      ids.set(k, this.pushSplit(node.feature, node.mode, node.threshold, node.missingTracksTrue, node.members));
      order.push(k);
      todo.push(node.falseChild, node.trueChild);
    }
    this.roots.push(ids.get(root) as number);
    for (const k of order) {
      const node = tree.nodes[k] as TreeSplit;
      const t = node.trueChild;
      const f = node.falseChild;
      this.link(
        ids.get(k) as number,
        ids.get(t) ?? (leafIds.get(t) as number),
        leafIds.has(t),
        ids.get(f) ?? (leafIds.get(f) as number),
        leafIds.has(f),
      );
    }
  }

  private pushSplit(feature: number, mode: SplitMode, threshold: number, missingTrue: boolean, members?: readonly number[]): number {
    this.features.push(feature);
    this.modes.push(MODE_CODE[mode]);
    this.splits.push(mode === 'member' ? 0 : threshold);
    this.missingTrue.push(missingTrue ? 1 : 0);
    if (mode === 'member') {
      for (const m of members ?? []) this.members.push(m);
      this.members.push(NaN);
    }
    this.trueIds.push(0);
    this.trueLeaf.push(0);
    this.falseIds.push(0);
    this.falseLeaf.push(0);
    return this.features.length - 1;
  }

  private link(at: number, t: number, tLeaf: boolean, f: number, fLeaf: boolean): void {
    this.trueIds[at] = t;
    this.trueLeaf[at] = tLeaf ? 1 : 0;
    this.falseIds[at] = f;
    this.falseLeaf[at] = fLeaf ? 1 : 0;
  }

  private leaf(leaf: TreeLeaf, target: number): number {
    let w = 0;
    leaf.targets.forEach((tg, i) => {
      if (tg === target) w += leaf.weights[i];
    });
    this.leafTargets.push(target);
    this.leafWeights.push(w);
    return this.leafTargets.length - 1;
  }
}

/** Targets each tree contributes to, in ascending order. */
function treeTargets(tree: TreeIR): number[] {
  const set = new Set<number>();
  for (const node of tree.nodes) if (node.kind === 'leaf') for (const t of node.targets) set.add(t);
  return [...set].sort((a, b) => a - b);
}

/**
 * Emits the ensemble over `x` (double [N, nFeatures]); returns a double [N, nTargets] value.
 * Validates first: a malformed tree is refused, never emitted.
 */
export function emitTreeEnsemble(g: GraphBuilder, ir: TreeEnsembleIR, x: string): string {
  validateTreeEnsemble(ir);
  const enc = new Encoder();
  // Per target the trees keep their order, so the sums add up in the source library's order.
  for (const tree of ir.trees) for (const target of treeTargets(tree)) enc.addTree(tree, target);
  if (enc.roots.length === 0) throw new InvalidTreeError('no tree has a leaf with a value');
  g.useDomain(ML_DOMAIN, 5);
  const input = ir.inputPrecision === 'float32' ? g.op('Cast', [g.op('Cast', [x], { to: { i: 1 } })], { to: { i: 11 } }) : x;
  const tensor = (dtype: 'float64' | 'uint8', data: number[]) => ({ t: { name: '', dtype, dims: [data.length], data } });
  const attrs = {
    n_targets: { i: ir.nTargets },
    aggregate_function: { i: 1 },
    post_transform: { i: 0 },
    tree_roots: { ints: enc.roots },
    nodes_featureids: { ints: enc.features },
    nodes_splits: tensor('float64', enc.splits),
    nodes_modes: tensor('uint8', enc.modes),
    nodes_truenodeids: { ints: enc.trueIds },
    nodes_trueleafs: { ints: enc.trueLeaf },
    nodes_falsenodeids: { ints: enc.falseIds },
    nodes_falseleafs: { ints: enc.falseLeaf },
    nodes_missing_value_tracks_true: { ints: enc.missingTrue },
    leaf_targetids: { ints: enc.leafTargets },
    leaf_weights: tensor('float64', enc.leafWeights),
    ...(enc.members.length > 0 ? { membership_values: tensor('float64', enc.members) } : {}),
  };
  let y = g.op('TreeEnsemble', [input], attrs, { domain: ML_DOMAIN, hint: 'trees' });
  if (ir.aggregate === 'average') y = g.op('Div', [y, g.double([ir.trees.length], [])]);
  if (ir.base !== undefined && ir.base.some((b) => b !== 0)) y = g.op('Add', [y, g.double(ir.base, [1, ir.nTargets])]);
  if (ir.postTransform === 'logistic') y = math.expit(g, y);
  if (ir.postTransform === 'softmax') y = math.softmax(g, y);
  return y;
}
