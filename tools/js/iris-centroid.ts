/**
 * Builds the example JS model (tools/js/iris-centroid/model.mjs) with `saveModel`: a
 * nearest-centroid iris classifier whose centroids and feature scales are the saved state
 * (v8.serialize), whose class names are a `labels` artifact, with a column signature, a
 * `return_distances` param and an input example.
 *
 *   npm run build && node dist/tools/js/iris-centroid.js <outDir>
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type SavedModel, saveModel } from '../../src/core/save.js';
import { IRIS_CLASS_NAMES, IRIS_FEATURES, IRIS_FEATURE_NAMES, IRIS_LABELS } from '../iris/iris-data.js';
import { isMain } from '../is-main.js';

/** The module's source file, found from src/ (tests) or dist/ (built tools) alike. */
export function irisCentroidModule(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  const rel = join('tools', 'js', 'iris-centroid', 'model.mjs');
  while (!existsSync(join(dir, rel))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`${rel} not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  return join(dir, rel);
}

export interface IrisCentroidState {
  features: string[];
  /** Per-feature standard deviation over the whole data set. */
  scale: Float64Array;
  /** Row-major [class, feature]. */
  centroids: Float64Array;
}

export function irisCentroidState(): IrisCentroidState {
  const k = IRIS_FEATURE_NAMES.length;
  const centroids = new Float64Array(IRIS_CLASS_NAMES.length * k);
  const counts = new Array<number>(IRIS_CLASS_NAMES.length).fill(0);
  const mean = new Float64Array(k);
  IRIS_FEATURES.forEach((row, r) => {
    const c = IRIS_LABELS[r];
    counts[c]++;
    for (let i = 0; i < k; i++) {
      centroids[c * k + i] += row[i];
      mean[i] += row[i] / IRIS_FEATURES.length;
    }
  });
  for (let c = 0; c < counts.length; c++) for (let i = 0; i < k; i++) centroids[c * k + i] /= counts[c];
  const scale = new Float64Array(k);
  for (const row of IRIS_FEATURES) for (let i = 0; i < k; i++) scale[i] += (row[i] - mean[i]) ** 2 / IRIS_FEATURES.length;
  for (let i = 0; i < k; i++) scale[i] = Math.sqrt(scale[i]);
  return { features: [...IRIS_FEATURE_NAMES], scale, centroids };
}

/**
 * Rows 1, 56 and 101: one flower of each class, as DataFrame records. (Row 51 is on the wrong
 * side of the versicolor/virginica boundary for a nearest-centroid rule, which gets 128/150.)
 */
export const IRIS_CENTROID_EXAMPLE = [0, 55, 100].map((r) =>
  Object.fromEntries(IRIS_FEATURE_NAMES.map((f, i) => [f, IRIS_FEATURES[r][i]])),
);

export async function writeIrisCentroidModel(dir: string): Promise<SavedModel> {
  const work = await mkdtemp(join(tmpdir(), 'modelgate-js-example-'));
  try {
    const labels = join(work, 'labels.txt');
    await writeFile(labels, `${IRIS_CLASS_NAMES.join('\n')}\n`);
    return await saveModel(dir, {
      flavor: 'js',
      module: irisCentroidModule(),
      state: irisCentroidState(),
      artifacts: { labels },
      signature: {
        inputs: IRIS_FEATURE_NAMES.map((name) => ({ type: 'double', name, required: true })),
        outputs: [{ type: 'string', required: true }],
        params: [{ name: 'return_distances', type: 'boolean', default: false, shape: null }],
      },
      inputExample: IRIS_CENTROID_EXAMPLE,
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) {
  const out = resolve(process.argv[2] ?? 'iris-centroid-model');
  await writeIrisCentroidModel(out);
  console.log(`wrote the example JS model to ${out}`);
}
