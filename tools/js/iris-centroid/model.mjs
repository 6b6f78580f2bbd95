/**
 * An example modelgate JS model: a nearest-centroid iris classifier.
 *
 * modelgate imports this module and calls `load(context)` once; the object it returns answers
 * every request through `predict(input, params)`.
 *
 * - `context.state` is what was saved with the model (written with v8.serialize, so typed arrays
 *   survive as typed arrays): the feature names, the per-feature scale and one centroid per class.
 * - `context.artifacts.labels` is the absolute path of the saved `labels.txt` artifact.
 * - `input` is an array of row objects (the model has a column signature, so every request format
 *   — dataframe_split, dataframe_records, instances, inputs, CSV — arrives as rows).
 * - `params` holds the request's params with the signature's defaults filled in.
 */
import { readFile } from 'node:fs/promises';

export async function load(context) {
  const { features, scale, centroids } = context.state;
  const labels = (await readFile(context.artifacts.labels, 'utf8')).trim().split('\n');
  if (labels.length * features.length !== centroids.length) {
    throw new Error(`state has ${centroids.length / features.length} centroids but labels.txt names ${labels.length} classes`);
  }
  const k = features.length;

  const distances = (row) =>
    labels.map((_, c) => {
      let s = 0;
      for (let i = 0; i < k; i++) {
        const d = (row[features[i]] - centroids[c * k + i]) / scale[i];
        s += d * d;
      }
      return Math.sqrt(s);
    });

  return {
    predict(rows, params) {
      return rows.map((row) => {
        const d = distances(row);
        const best = d.indexOf(Math.min(...d));
        return params.return_distances ? { label: labels[best], distances: d } : labels[best];
      });
    },
  };
}
