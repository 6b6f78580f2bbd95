/**
 * The shared tree-ensemble IR (src/onnx/tree-ensemble.ts) against a direct JavaScript reading of
 * its documented semantics, through onnxruntime: every split mode including set membership, NaN
 * directions, one-leaf trees, sparse multi-target leaves, sum and average, base values,
 * logistic and softmax, float32 input rounding.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/onnx/graph-builder.js';
import { type TreeEnsembleIR, type TreeIR, type TreeSplit, emitTreeEnsemble } from '../../src/onnx/tree-ensemble.js';

function goesTrue(s: TreeSplit, x: number): boolean {
  if (Number.isNaN(x)) return s.missingTracksTrue;
  switch (s.mode) {
    case 'leq':
      return x <= s.threshold;
    case 'lt':
      return x < s.threshold;
    case 'gte':
      return x >= s.threshold;
    case 'gt':
      return x > s.threshold;
    case 'eq':
      return x === s.threshold;
    case 'neq':
      return x !== s.threshold;
    case 'member':
      return (s.members ?? []).includes(x);
  }
}

/** The IR's semantics, read literally. */
function reference(ir: TreeEnsembleIR, row: readonly number[]): number[] {
  const x = ir.inputPrecision === 'float32' ? row.map((v) => Math.fround(v)) : row;
  const out = new Array<number>(ir.nTargets).fill(0);
  for (const tree of ir.trees) {
    let node = tree.nodes[tree.root ?? 0];
    while (node.kind === 'split') node = tree.nodes[goesTrue(node, x[node.feature]) ? node.trueChild : node.falseChild];
    node.targets.forEach((t, i) => (out[t] += node.kind === 'leaf' ? node.weights[i] : 0));
  }
  let y = out.map((v, t) => (ir.aggregate === 'average' ? v / ir.trees.length : v) + (ir.base?.[t] ?? 0));
  if (ir.postTransform === 'logistic') y = y.map((v) => 1 / (1 + Math.exp(-v)));
  if (ir.postTransform === 'softmax') {
    const m = Math.max(...y);
    const e = y.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    y = e.map((v) => v / s);
  }
  return y;
}

async function run(ir: TreeEnsembleIR, rows: number[][]): Promise<number[][]> {
  const g = new GraphBuilder();
  const x = g.input('X', 'float64', ['N', ir.nFeatures]);
  g.output(emitTreeEnsemble(g, ir, x), 'Y', 'float64', ['N', ir.nTargets]);
  const session = await ort.InferenceSession.create(g.build());
  const out = await session.run({ X: new ort.Tensor('float64', Float64Array.from(rows.flat()), [rows.length, ir.nFeatures]) });
  await session.release();
  const data = Array.from(out.Y.data as Float64Array);
  return rows.map((_, r) => data.slice(r * ir.nTargets, (r + 1) * ir.nTargets));
}

const leaf = (targets: number[], weights: number[]) => ({ kind: 'leaf' as const, targets, weights });
const split = (
  feature: number,
  mode: TreeSplit['mode'],
  threshold: number,
  t: number,
  f: number,
  missingTracksTrue = false,
  members?: number[],
): TreeSplit => ({
  kind: 'split',
  feature,
  mode,
  threshold,
  members,
  trueChild: t,
  falseChild: f,
  missingTracksTrue,
});

const TREES: TreeIR[] = [
  { nodes: [split(0, 'leq', 0.5, 1, 2, true), leaf([0], [1.25]), split(1, 'lt', 2, 3, 4), leaf([1], [-0.5]), leaf([0, 2], [0.1, 3])] },
  {
    nodes: [
      split(2, 'member', 0, 1, 2, false, [1, 4, 7]),
      leaf([2], [2]),
      split(1, 'gte', -1, 3, 4, true),
      leaf([0], [0.3]),
      leaf([1], [0.7]),
    ],
  },
  { nodes: [leaf([0, 1, 2], [0.01, 0.02, 0.03])] },
  {
    root: 2,
    nodes: [
      leaf([1], [5]),
      leaf([2], [6]),
      split(0, 'gt', 3, 0, 3),
      split(1, 'eq', 2, 1, 4),
      split(2, 'neq', 4, 5, 6, true),
      leaf([0], [7]),
      leaf([2], [8]),
    ],
  },
];

const ROWS = [
  [0, 0, 0],
  [0.5, 2, 1],
  [0.6, 1.9999, 4],
  [NaN, NaN, NaN],
  [3, 2, 7],
  [3.0000001, 2, 4],
  [-1, -1, NaN],
  [10, 5, 5],
  [0.49999999999, 1e30, -7],
];

describe('tree-ensemble IR', () => {
  for (const aggregate of ['sum', 'average'] as const) {
    for (const postTransform of ['none', 'logistic', 'softmax'] as const) {
      it(`${aggregate}, ${postTransform}: onnxruntime computes what the IR says`, async () => {
        const ir: TreeEnsembleIR = {
          nFeatures: 3,
          nTargets: 3,
          trees: TREES,
          aggregate,
          postTransform,
          base: [0.5, 0, -1],
          inputPrecision: 'float64',
        };
        const got = await run(ir, ROWS);
        ROWS.forEach((row, r) => got[r].forEach((v, t) => expect(v).toBeCloseTo(reference(ir, row)[t], 14)));
      });
    }
  }

  it('float32 input rounding decides splits at a float64 threshold as scikit-learn does', async () => {
    const t = 0.30000001192092896 + 1e-17; // between float32(0.3) and the next float64
    const ir: TreeEnsembleIR = {
      nFeatures: 1,
      nTargets: 1,
      trees: [{ nodes: [split(0, 'leq', t, 1, 2), leaf([0], [1]), leaf([0], [2])] }],
      aggregate: 'sum',
      inputPrecision: 'float32',
    };
    const rows = [[0.3], [0.30000001], [0.3000001], [t]];
    expect((await run(ir, rows)).map((r) => r[0])).toEqual(rows.map((row) => reference(ir, row)[0]));
    expect((await run({ ...ir, inputPrecision: 'float64' }, [[0.3000000119209291]])).map((r) => r[0])).toEqual([2]);
  });
});
