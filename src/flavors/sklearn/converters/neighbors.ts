/**
 * `KNeighborsClassifier` / `KNeighborsRegressor` (euclidean and manhattan, uniform and distance
 * weights). Distances are scikit-learn's reduced distances, summed feature by feature
 * (`Σ (x-y)²`, `Σ |x-y|`), exactly as its trees and DistanceMetric compute them.
 *
 * Which of several equidistant training rows scikit-learn keeps is decided by the order in
 * which its search visits them and by its bounded max-heap (`heap_push`: a candidate equal to
 * the current k-th distance is dropped, an eviction removes whichever equal entry sits at the
 * root), not by index. Where that order is known — brute force over at most one chunk of 256
 * training rows, or a KD/ball tree, whose depth-first visit order is recomputed from the
 * pickled nodes — a batch with such a tie is replayed through the same heap in that order.
 * (MLflow hands scikit-learn a DataFrame, so 1.9's class-mode reduction, which needs a numpy
 * array, is never used.) Where it is not (larger brute-force
 * searches, split across a machine-dependent number of threads), or where scikit-learn's own
 * distances are only approximate (brute-force euclidean uses ‖x‖² - 2x·y + ‖y‖², which turns
 * near-ties and near-zero distances into rounding noise), rows whose answer would depend on it
 * are refused with a 400, as are rows whose distances overflow. An exact duplicate of a
 * training row is served from 1.9 on, whose brute-force distance to it was observed to be 0.
 */
import type { GraphBuilder } from '../../../onnx/graph-builder.js';
import type { CompileContext, Converter, Prediction, Value } from '../context.js';
import { NdArray, PyDict, PyObject, PyTuple } from '../pickle/index.js';
import { type Estimator, atLeast, scalar, toDoubles } from '../state.js';
import { columns, numpyPairwiseSum, sequentialSum } from './exact-sums.js';

type Metric = 'euclidean' | 'manhattan';

/** A KD or ball tree's nodes: children of node i are 2i+1 and 2i+2, leaves hold idx_array[start:end]. */
interface TreeNodes {
  readonly kind: 'kd' | 'ball';
  readonly idxArray: number[];
  readonly start: number[];
  readonly end: number[];
  readonly radius: number[];
  /** kd: [lo, hi] per node and feature; ball: the centroid per node and feature. */
  readonly bounds: Float64Array;
  readonly nInternal: number;
}

type Order = { readonly kind: 'index' } | { readonly kind: 'tree'; readonly tree: TreeNodes } | { readonly kind: 'unknown' };

interface Knn {
  readonly k: number;
  readonly n: number;
  readonly d: number;
  readonly fitX: Float64Array;
  readonly metric: Metric;
  readonly weights: 'uniform' | 'distance';
  /** float64 [n, t]: class indices (t = 1) or regression targets. */
  readonly y: Float64Array;
  readonly t: number;
  readonly order: Order;
  /** Brute-force euclidean through ArgKmin: scikit-learn's distances carry rounding noise. */
  readonly noisy: boolean;
  /** Its distance from a row to an identical training row is exactly 0 (seen with 1.9's BLAS calls, not 1.2's). */
  readonly exactZeros: boolean;
}

/** ArgKmin's default `pairwise_dist_chunk_size`: up to this many training rows are scanned by one thread, in order. */
const CHUNK = 256;

function metricOf(est: Estimator): Metric {
  const m = est.str('effective_metric_');
  const params = est.raw('effective_metric_params_');
  if (params instanceof PyDict && [...params.strings.keys()].some((key) => key !== 'p'))
    est.refuse('metric parameters other than p are not supported');
  const p = params instanceof PyDict ? scalar(params.get('p')) : undefined;
  if (m === 'euclidean' || (m === 'minkowski' && p === 2)) return 'euclidean';
  if (m === 'manhattan' || (m === 'minkowski' && p === 1)) return 'manhattan';
  est.refuse(`metric '${m}' is not supported (euclidean and manhattan are)`);
}

function readKnn(est: Estimator, classifier: boolean): Knn {
  const weights = scalar(est.raw('weights'));
  if (weights !== 'uniform' && weights !== 'distance') est.refuse('only weights uniform and distance are supported');
  const metricParams = est.raw('metric_params');
  if (metricParams !== null && metricParams !== undefined && !(metricParams instanceof PyDict && metricParams.size === 0))
    est.refuse('metric_params are not supported');
  if (est.bool('outputs_2d_', false) && classifier) est.refuse('multi-output classifiers are not supported');
  const fit = est.array('_fit_X');
  const [n, d] = fit.shape;
  if (fit.shape.length !== 2 || d !== est.int('n_features_in_')) est.refuse('_fit_X does not have n_features_in_ columns');
  const k = est.int('n_neighbors');
  if (k < 1 || k > n) est.refuse(`n_neighbors ${k} is not between 1 and the ${n} training rows`);
  const yArr = est.array('_y');
  const t = yArr.shape.length === 2 ? yArr.shape[1] : 1;
  if (yArr.shape[0] !== n) est.refuse('_y does not have one row per training row');
  const metric = metricOf(est);
  const method = est.str('_fit_method');
  const brute = method === 'brute';
  if (!brute && method !== 'kd_tree' && method !== 'ball_tree') est.refuse(`_fit_method '${method}' is not supported`);
  const order: Order = brute
    ? n <= CHUNK
      ? { kind: 'index' }
      : { kind: 'unknown' }
    : { kind: 'tree', tree: readTree(est, method, n, d, metric) };
  return {
    k,
    n,
    d,
    fitX: est.doubles('_fit_X'),
    metric,
    weights,
    y: est.doubles('_y'),
    t,
    order,
    noisy: brute && metric === 'euclidean',
    exactZeros: atLeast(est.version, 1, 9),
  };
}

function readTree(est: Estimator, method: string, n: number, d: number, metric: Metric): TreeNodes {
  const obj = est.req('_tree');
  const state = obj instanceof PyObject ? obj.state : undefined;
  if (!(state instanceof PyTuple) || state.items.length < 4) est.refuse('_tree is not a pickled KDTree or BallTree');
  // The tree searches with its own DistanceMetric (EuclideanDistance, ManhattanDistance64, ...).
  const own = state.items.find((v): v is PyObject => v instanceof PyObject && v.cls.name.includes('Distance'));
  if (own === undefined || !own.cls.name.toLowerCase().startsWith(metric)) est.refuse(`_tree does not search with the ${metric} distance`);
  const [, idx, nodes, bounds] = state.items;
  if (!(idx instanceof NdArray) || !(nodes instanceof NdArray) || !(bounds instanceof NdArray) || nodes.fields === undefined)
    est.refuse('_tree state is not (data, idx_array, node_data, node_bounds, ...)');
  const fail = (): never => est.refuse('_tree arrays are not numeric');
  const field = (name: string): number[] => {
    const f = nodes.fields?.[name];
    if (f === undefined) est.refuse(`_tree.node_data has no '${name}'`);
    return Array.from(f as ArrayLike<number | bigint>, Number);
  };
  const nNodes = nodes.size;
  const isLeaf = field('is_leaf');
  const nInternal = Math.floor(nNodes / 2);
  if (nNodes < 1 || (nNodes + 1) & nNodes || isLeaf.some((l, i) => (l !== 0) !== i >= nInternal))
    est.refuse('_tree is not a complete binary tree');
  const tree: TreeNodes = {
    kind: method === 'kd_tree' ? 'kd' : 'ball',
    idxArray: Array.from(toDoubles(idx, fail)),
    start: field('idx_start'),
    end: field('idx_end'),
    radius: field('radius'),
    bounds: toDoubles(bounds, fail),
    nInternal,
  };
  const boundRows = tree.kind === 'kd' ? 2 : 1;
  if (tree.idxArray.length !== n || bounds.size !== boundRows * nNodes * d) est.refuse('_tree does not index the training rows');
  const leaves = tree.start.slice(nInternal).map((st, i) => [st, tree.end[nInternal + i]]);
  if (leaves.some(([st, e], i) => st !== (i === 0 ? 0 : leaves[i - 1][1]) || e < st) || leaves[leaves.length - 1][1] !== n)
    est.refuse('_tree leaves do not partition the training rows in order');
  return tree;
}

/** float64 [N, n]: reduced distances to every training row, `s = 0; s += term` per feature. */
function reducedDistances(g: GraphBuilder, x: string, knn: Knn, d: number, points: (j: number) => number[]): string {
  const terms = columns(g, x, d).map((xj, j) => {
    const diff = g.op('Sub', [xj, g.double(points(j), [1, points(j).length], 'fit')]);
    return knn.metric === 'euclidean' ? g.op('Mul', [diff, diff]) : g.op('Abs', [diff]);
  });
  return sequentialSum(g, terms);
}

/** float64 [N, nodes]: `min_rdist` of each row to each node (kd: to the bounding box; ball: to the sphere). */
function nodeLowerBounds(g: GraphBuilder, x: string, knn: Knn, tree: TreeNodes): string {
  const nNodes = tree.start.length;
  const at = (row: number, j: number): number[] => Array.from({ length: nNodes }, (_, i) => tree.bounds[(row * nNodes + i) * knn.d + j]);
  if (tree.kind === 'ball') {
    const rd = reducedDistances(g, x, knn, knn.d, (j) => at(0, j));
    const dist = knn.metric === 'euclidean' ? g.op('Sqrt', [rd]) : rd;
    const gap = g.op('Sub', [dist, g.double(tree.radius, [1, nNodes], 'radius')]);
    const min = g.op('Where', [g.op('Greater', [gap, g.double([0], [])]), gap, g.double([0], [])]);
    return knn.metric === 'euclidean' ? g.op('Mul', [min, min]) : min;
  }
  const terms = columns(g, x, knn.d).map((xj, j) => {
    const lo = g.op('Sub', [g.double(at(0, j), [1, nNodes], 'lo'), xj]);
    const hi = g.op('Sub', [xj, g.double(at(1, j), [1, nNodes], 'hi')]);
    const twice = g.op('Add', [g.op('Add', [lo, g.op('Abs', [lo])]), g.op('Add', [hi, g.op('Abs', [hi])])]);
    const half = g.op('Mul', [g.double([0.5], []), twice]);
    return knn.metric === 'euclidean' ? g.op('Mul', [half, half]) : half;
  });
  return sequentialSum(g, terms);
}

/** Per leaf: offset = S @ a + b, S[:, i] = 1 where internal node i visits its right child first. */
function leafOffsets(tree: TreeNodes): { a: Float64Array; b: number[]; nLeaves: number } {
  const size = (i: number): number => tree.end[i] - tree.start[i];
  const nLeaves = tree.start.length - tree.nInternal;
  const a = new Float64Array(tree.nInternal * nLeaves);
  const b = new Array<number>(nLeaves).fill(0);
  for (let leaf = 0; leaf < nLeaves; leaf++) {
    for (let c = tree.nInternal + leaf; c > 0; c = Math.floor((c - 1) / 2)) {
      const parent = Math.floor((c - 1) / 2);
      if (c === 2 * parent + 1) a[parent * nLeaves + leaf] = size(2 * parent + 2);
      else {
        a[parent * nLeaves + leaf] = -size(2 * parent + 1);
        b[leaf] += size(2 * parent + 1);
      }
    }
  }
  return { a, b, nLeaves };
}

/** int64 [N, n]: training rows in the order `_query_single_depthfirst` visits them (closer child first, ties left). */
function treeVisitOrder(g: GraphBuilder, x: string, knn: Knn, tree: TreeNodes): string {
  const { a, b, nLeaves } = leafOffsets(tree);
  const lb = nodeLowerBounds(g, x, knn, tree);
  const internal = Array.from({ length: tree.nInternal }, (_, i) => i);
  const left = g.op('Gather', [lb, g.int64(internal.map((i) => 2 * i + 1))], { axis: { i: 1 } });
  const right = g.op('Gather', [lb, g.int64(internal.map((i) => 2 * i + 2))], { axis: { i: 1 } });
  const rightFirst = g.op('Cast', [g.op('Not', [g.op('LessOrEqual', [left, right])])], { to: { i: 11 } });
  const offsets = g.op('Add', [
    g.op('MatMul', [rightFirst, g.double(a, [tree.nInternal, nLeaves], 'leafrank')]),
    g.double(b, [1, nLeaves], 'leafbase'),
  ]);
  const leafOfPos: number[] = [];
  const posInLeaf: number[] = [];
  for (let leaf = 0; leaf < nLeaves; leaf++) {
    const node = tree.nInternal + leaf;
    for (let q = tree.start[node]; q < tree.end[node]; q++) {
      leafOfPos.push(leaf);
      posInLeaf.push(q - tree.start[node]);
    }
  }
  const rank = g.op('Add', [g.op('Gather', [offsets, g.int64(leafOfPos)], { axis: { i: 1 } }), g.double(posInLeaf, [1, knn.n], 'inleaf')]);
  const [, positions] = g.node('TopK', [rank, g.int64([knn.n])], { axis: { i: 1 }, largest: { i: 0 }, sorted: { i: 1 } }, { outputs: 2 });
  return g.op('Gather', [g.int64(tree.idxArray), positions]);
}

/** One `heap_push(values, indices, k, val, j)` on every row, as a max-heap of the k smallest. */
function heapPush(sub: GraphBuilder, k: number, heap: [string, string], val: string, j: string): [string, string] {
  let [values, idx] = heap;
  const gather = (t: string, at: string): string => sub.op('GatherElements', [t, at], { axis: { i: 1 } });
  const scatter = (t: string, at: string, v: string): string => sub.op('ScatterElements', [t, at, v], { axis: { i: 1 } });
  const accept = sub.op('Less', [val, gather(values, sub.op('Mul', [j, sub.int64([0], [])]))]);
  let cur = sub.op('Mul', [j, sub.int64([0], [])]);
  let active = accept;
  const last = sub.int64([k - 1], []);
  for (let level = 0; level < Math.floor(Math.log2(k)); level++) {
    const ic1 = sub.op('Add', [sub.op('Mul', [cur, sub.int64([2], [])]), sub.int64([1], [])]);
    const ic2 = sub.op('Add', [ic1, sub.int64([1], [])]);
    const has1 = sub.op('Less', [ic1, sub.int64([k], [])]);
    const has2 = sub.op('Less', [ic2, sub.int64([k], [])]);
    const c1 = sub.op('Min', [ic1, last]);
    const c2 = sub.op('Min', [ic2, last]);
    const v1 = gather(values, c1);
    const v2 = gather(values, c2);
    const toRight = sub.op('And', [has2, sub.op('Not', [sub.op('GreaterOrEqual', [v1, v2])])]);
    const vs = sub.op('Where', [toRight, v2, v1]);
    const swap = sub.op('Where', [toRight, c2, c1]);
    const move = sub.op('And', [active, sub.op('And', [has1, sub.op('Less', [val, vs])])]);
    values = scatter(values, cur, sub.op('Where', [move, vs, gather(values, cur)]));
    idx = scatter(idx, cur, sub.op('Where', [move, gather(idx, swap), gather(idx, cur)]));
    cur = sub.op('Where', [move, swap, cur]);
    active = move;
  }
  values = scatter(values, cur, sub.op('Where', [accept, val, gather(values, cur)]));
  idx = scatter(idx, cur, sub.op('Where', [accept, j, gather(idx, cur)]));
  return [values, idx];
}

/** int64 [N, k]: the rows a bounded heap keeps when fed `rd` in the order `perm` (int64 [N, n]). */
function heapSelect(g: GraphBuilder, rd: string, perm: string, knn: Knn): string {
  const rows = g.op('Slice', [g.op('Shape', [rd]), g.int64([0]), g.int64([1])]);
  const shape = g.op('Concat', [rows, g.int64([knn.k])], { axis: { i: 0 } });
  const values0 = g.op('Expand', [g.double([Infinity], [1, 1]), shape]);
  const idx0 = g.op('Expand', [g.int64([-1], [1, 1]), shape]);
  const body = g.subgraph(
    'heap',
    [
      { dtype: 'int64', shape: [] },
      { dtype: 'bool', shape: [] },
      { dtype: 'float64', shape: ['N', knn.k] },
      { dtype: 'int64', shape: ['N', knn.k] },
    ],
    (sub, [t, cond, values, idx]) => {
      const j = sub.op('Unsqueeze', [sub.op('Gather', [perm, t], { axis: { i: 1 } }), sub.int64([1])]);
      const val = sub.op('GatherElements', [rd, j], { axis: { i: 1 } });
      const [v, i] = heapPush(sub, knn.k, [values, idx], val, j);
      return [
        { name: sub.op('Identity', [cond]), dtype: 'bool', shape: [] },
        { name: v, dtype: 'float64', shape: ['N', knn.k] },
        { name: i, dtype: 'int64', shape: ['N', knn.k] },
      ];
    },
  );
  const [, idx] = g.node(
    'Loop',
    [g.int64([knn.n], []), g.constant('bool', [], [true]), values0, idx0],
    { body: { g: body } },
    { outputs: 2 },
  );
  return idx;
}

/** bool [N, 1]: the k-th distance is shared (or, for noisy distances, nearly shared) beyond the k slots by rows with different outcomes. */
function ambiguousTie(g: GraphBuilder, rd: string, kth: string, knn: Knn): string {
  // kth ± kth·1e-9, not kth·(1 ± 1e-9): onnxruntime drops a Mul by a double that rounds to 1 in float32.
  const margin = g.op('Mul', [kth, g.double([knn.noisy ? 1e-9 : 0], [])]);
  const lo = g.op('Sub', [kth, margin]);
  const hi = g.op('Add', [kth, margin]);
  const tied = g.op('And', [g.op('GreaterOrEqual', [rd, lo]), g.op('LessOrEqual', [rd, hi])]);
  const count = (b: string): string => g.op('ReduceSum', [g.op('Cast', [b], { to: { i: 11 } }), g.int64([1])], { keepdims: { i: 1 } });
  const crowded = g.op('Greater', [g.op('Add', [count(tied), count(g.op('Less', [rd, lo]))]), g.double([knn.k], [])]);
  const differs = Array.from({ length: knn.t }, (_, c) => {
    const y = g.double(
      Array.from({ length: knn.n }, (_, j) => knn.y[j * knn.t + c]),
      [1, knn.n],
      'y',
    );
    const max = g.op('ReduceMax', [g.op('Where', [tied, y, g.double([-Infinity], [])]), g.int64([1])], { keepdims: { i: 1 } });
    const min = g.op('ReduceMin', [g.op('Where', [tied, y, g.double([Infinity], [])]), g.int64([1])], { keepdims: { i: 1 } });
    return g.op('Not', [g.op('Equal', [max, min])]);
  });
  return g.op('And', [crowded, differs.reduce((a, b) => g.op('Or', [a, b]))]);
}

/** int64 [N, n]: every row visits the training rows in index order. */
function indexOrder(g: GraphBuilder, rd: string, n: number): string {
  return g.op('Expand', [
    g.int64(
      Array.from({ length: n }, (_, j) => j),
      [1, n],
    ),
    g.op('Shape', [rd]),
  ]);
}

interface Neighbours {
  /** int64 [N, k], nearest first. */
  readonly idx: string;
  /** float64 [N, k]: their reduced distances. */
  readonly rd: string;
}

/** scikit-learn's k neighbours of each row, or a 400 for the rows where they cannot be known. */
function neighbours(ctx: CompileContext, est: Estimator, x: string, knn: Knn): Neighbours {
  const g = ctx.g;
  const rd = reducedDistances(g, x, knn, knn.d, (j) => Array.from({ length: knn.n }, (_, r) => knn.fitX[r * knn.d + j]));
  ctx.assert(
    g.op('Or', [g.op('IsInf', [rd]), g.op('IsNaN', [rd])]),
    `the distances of this row overflow, where ${est.name}'s neighbours are arbitrary`,
  );
  const [vals, top] = g.node('TopK', [rd, g.int64([knn.k])], { axis: { i: 1 }, largest: { i: 0 }, sorted: { i: 1 } }, { outputs: 2 });
  const kth = g.op('Gather', [vals, g.int64([knn.k - 1], [1])], { axis: { i: 1 } });
  const ambiguous = ambiguousTie(g, rd, kth, knn);
  let idx = top;
  if (knn.order.kind === 'unknown' || knn.noisy) {
    const why = knn.noisy ? 'brute-force euclidean distances are approximate' : 'a multi-threaded brute-force search picks among them';
    ctx.assert(ambiguous, `equidistant neighbours of this row have different targets, and ${why} in ${est.name}`);
  } else {
    const order = knn.order;
    const branch = (name: string, build: (sub: GraphBuilder) => string) =>
      g.subgraph(name, [], (sub) => [{ name: build(sub), dtype: 'int64', shape: ['N', knn.k] }]);
    const replay = branch('replay', (sub) => {
      const perm = order.kind === 'tree' && order.tree.nInternal > 0 ? treeVisitOrder(sub, x, knn, order.tree) : indexOrder(sub, rd, knn.n);
      return heapSelect(sub, rd, perm, knn);
    });
    const keep = branch('topk', (sub) => sub.op('Identity', [top]));
    const anyTie = g.op('Cast', [g.op('ReduceMax', [g.op('Cast', [ambiguous], { to: { i: 6 } })], { keepdims: { i: 0 } })], {
      to: { i: 9 },
    });
    idx = g.node('If', [anyTie], { then_branch: { g: replay }, else_branch: { g: keep } }, { outputs: 1 })[0];
  }
  const picked = g.op('GatherElements', [rd, idx], { axis: { i: 1 } });
  const [sorted, order] = g.node(
    'TopK',
    [picked, g.int64([knn.k])],
    { axis: { i: 1 }, largest: { i: 0 }, sorted: { i: 1 } },
    { outputs: 2 },
  );
  const nb = { idx: g.op('GatherElements', [idx, order], { axis: { i: 1 } }), rd: sorted };
  if (knn.noisy && knn.weights === 'distance') refuseNearZero(ctx, est, x, knn, nb);
  return nb;
}

/** Brute-force euclidean with distance weights: a distance near 0 is rounding noise in scikit-learn, and 1/d magnifies it. */
function refuseNearZero(ctx: CompileContext, est: Estimator, x: string, knn: Knn, nb: Neighbours): void {
  const g = ctx.g;
  const sq = columns(g, x, knn.d).map((c) => g.op('Mul', [c, c]));
  const xNorm = sequentialSum(g, sq);
  const fitNorm = Array.from({ length: knn.n }, (_, r) => knn.fitX.subarray(r * knn.d, (r + 1) * knn.d).reduce((a, v) => a + v * v, 0));
  const yNorm = g.op('Gather', [g.double(fitNorm, [knn.n], 'norm'), nb.idx]);
  const scale = g.op('Mul', [g.double([1e-8], []), g.op('Add', [xNorm, yNorm])]);
  const near = g.op('LessOrEqual', [nb.rd, scale]);
  const flags = knn.exactZeros ? g.op('And', [near, g.op('Greater', [nb.rd, g.double([0], [])])]) : near;
  ctx.assert(flags, `this row is (nearly) at a training row, where ${est.name}'s brute-force distance is rounding noise`);
}

/** float64 [N, k] weights, or undefined for uniform: 1/d, or (d == 0) on rows with a zero distance. */
function neighbourWeights(g: GraphBuilder, knn: Knn, nb: Neighbours): string | undefined {
  if (knn.weights === 'uniform') return undefined;
  const dist = knn.metric === 'euclidean' ? g.op('Sqrt', [nb.rd]) : nb.rd;
  const zero = g.op('Equal', [dist, g.double([0], [])]);
  const zeroRow = g.op('Greater', [
    g.op('ReduceMax', [g.op('Cast', [zero], { to: { i: 11 } }), g.int64([1])], { keepdims: { i: 1 } }),
    g.double([0], []),
  ]);
  return g.op('Where', [zeroRow, g.op('Cast', [zero], { to: { i: 11 } }), g.op('Div', [g.double([1], []), dist])]);
}

/** float64 [N, k]: target column c of each neighbour. */
function neighbourTargets(g: GraphBuilder, knn: Knn, nb: Neighbours, c: number): string {
  const y = Array.from({ length: knn.n }, (_, j) => knn.y[j * knn.t + c]);
  return g.op('Gather', [g.double(y, [knn.n], 'y'), nb.idx]);
}

/** Per-class weight sums [N, C], one neighbour after the other (`proba_k[rows, idx] += w`) or numpy-pairwise (`weighted_mode`). */
function classScores(g: GraphBuilder, knn: Knn, nb: Neighbours, nClasses: number, pairwise: boolean): string {
  const labels = g.op('Unsqueeze', [neighbourTargets(g, knn, nb, 0), g.int64([2])]);
  const onehot = g.op(
    'Cast',
    [
      g.op('Equal', [
        labels,
        g.double(
          Array.from({ length: nClasses }, (_, c) => c),
          [1, 1, nClasses],
          'classes',
        ),
      ]),
    ],
    { to: { i: 11 } },
  );
  const w = neighbourWeights(g, knn, nb);
  const weighted = w === undefined ? onehot : g.op('Mul', [onehot, g.op('Unsqueeze', [w, g.int64([2])])]);
  const perNeighbour = columns(g, weighted, knn.k).map((t) => g.op('Squeeze', [t, g.int64([1])]));
  return pairwise ? numpyPairwiseSum(g, perNeighbour) : sequentialSum(g, perNeighbour);
}

function fitInput(ctx: CompileContext, est: Estimator, input: Value, knn: Knn): string {
  const x = ctx.numeric(input, est);
  if (x.width !== knn.d) est.refuse(`it was fitted on ${knn.d} features but receives ${x.width}`);
  ctx.assertFinite(x.name, est, { allowNaN: false });
  return x.name;
}

export const kNeighborsClassifierConverter: Converter = {
  predict(est: Estimator, input: Value, ctx: CompileContext): Prediction {
    const g = ctx.g;
    const classes = est.array('classes_');
    const knn = readKnn(est, true);
    let nb: Neighbours | undefined;
    const once = (): Neighbours => (nb ??= neighbours(ctx, est, fitInput(ctx, est, input, knn), knn));
    return {
      kind: 'classifier',
      classes,
      label: () =>
        g.op('ArgMax', [classScores(g, knn, once(), classes.size, knn.weights === 'distance')], { axis: { i: 1 }, keepdims: { i: 0 } }),
      proba() {
        const scores = classScores(g, knn, once(), classes.size, false);
        const total = numpyPairwiseSum(g, columns(g, scores, classes.size));
        return g.op('Div', [scores, g.op('Where', [g.op('Equal', [total, g.double([0], [])]), g.double([1], []), total])]);
      },
      logProba: () => est.refuse('KNeighborsClassifier has no predict_log_proba'),
    };
  },
};

export const kNeighborsRegressorConverter: Converter = {
  predict(est: Estimator, input: Value, ctx: CompileContext): Prediction {
    const g = ctx.g;
    const knn = readKnn(est, false);
    const twoD = est.array('_y').shape.length === 2;
    return {
      kind: 'regressor',
      targets: knn.t,
      value() {
        const nb = neighbours(ctx, est, fitInput(ctx, est, input, knn), knn);
        const w = neighbourWeights(g, knn, nb);
        const sumOver = (t: string): string => numpyPairwiseSum(g, columns(g, t, knn.k));
        const denom = w === undefined ? g.double([knn.k], []) : sumOver(w);
        const cols = Array.from({ length: knn.t }, (_, c) => {
          const y = neighbourTargets(g, knn, nb, c);
          return g.op('Div', [sumOver(w === undefined ? y : g.op('Mul', [y, w])), denom]);
        });
        const y = cols.length === 1 ? cols[0] : g.op('Concat', cols, { axis: { i: 1 } });
        return twoD ? y : g.op('Squeeze', [y, g.int64([1])]);
      },
    };
  },
};
