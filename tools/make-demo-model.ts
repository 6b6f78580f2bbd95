/**
 * Builds the bundled iris demo model as an MLflow-style model directory.
 *
 *   npm run build && node dist/tools/make-demo-model.js [outDir]   (default examples/iris)
 *
 * Output is byte-for-byte reproducible: no clocks, no randomness; the trained weights are rounded
 * before they are embedded.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Scalar, stringify } from 'yaml';
import { IRIS_CLASS_NAMES, IRIS_FEATURES } from './iris/iris-data.js';
import { isMain } from './is-main.js';
import { trainIrisLogReg } from './iris/train.js';
import { irisClassifier } from './onnx/models.js';

export const DEFAULT_DEMO_DIR = 'examples/iris';

/** Fixed creation time, so the MLmodel file never changes between runs. */
const UTC_TIME_CREATED = '2026-01-01 00:00:00.000000';
const ONNX_VERSION = '1.13.0';
/** Rows 1, 51 and 101: the first flower of each class. */
const EXAMPLE_ROWS = [0, 50, 100];

/**
 * Serialises like Python's `json.dumps(value)` (separators ', ' and ': ') or, with `indent`,
 * `json.dumps(value, indent=indent)`. With `floats`, integral numbers are written as `7.0`,
 * as Python writes a float.
 */
export function pythonJson(value: unknown, opts: { indent?: number; floats?: boolean } = {}): string {
  const write = (v: unknown, depth: number): string => {
    if (v === null) return 'null';
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new RangeError(`pythonJson: non-finite number ${v}`);
      return opts.floats && Number.isInteger(v) ? `${v}.0` : String(v);
    }
    if (typeof v === 'string' || typeof v === 'boolean') return JSON.stringify(v);
    const entries: [string | null, unknown][] = Array.isArray(v)
      ? v.map((item): [null, unknown] => [null, item])
      : Object.entries(v as Record<string, unknown>);
    const [open, close] = Array.isArray(v) ? ['[', ']'] : ['{', '}'];
    if (entries.length === 0) return open + close;
    const items = entries.map(([k, item]) => (k === null ? '' : `${JSON.stringify(k)}: `) + write(item, depth + 1));
    if (opts.indent === undefined) return open + items.join(', ') + close;
    const pad = (d: number): string => '\n' + ' '.repeat(opts.indent! * d);
    return open + pad(depth + 1) + items.join(',' + pad(depth + 1)) + pad(depth) + close;
  };
  return write(value, 0);
}

function singleQuoted(value: string): Scalar {
  const s = new Scalar(value);
  s.type = Scalar.QUOTE_SINGLE;
  return s;
}

function tensorSpec(name: string, dtype: string, shape: number[]): Record<string, unknown> {
  return { type: 'tensor', 'tensor-spec': { dtype, shape }, name };
}

/** All files of the demo model directory, in write order: name → contents. */
export function demoModelFiles(): Map<string, Uint8Array | string> {
  const model = trainIrisLogReg();
  const onnx = irisClassifier({ weights: model.weights, bias: model.bias, inputDtype: 'float32', label: true });
  const sha256 = createHash('sha256').update(onnx).digest('hex');

  const mlmodel = {
    flavors: {
      onnx: {
        code: null,
        data: 'model.onnx',
        onnx_session_options: null,
        onnx_version: ONNX_VERSION,
        providers: ['CPUExecutionProvider'],
      },
      python_function: {
        data: 'model.onnx',
        loader_module: 'mlflow.onnx',
      },
    },
    model_size_bytes: onnx.length,
    model_uuid: sha256.slice(0, 32),
    saved_input_example_info: {
      artifact_path: 'input_example.json',
      serving_input_path: 'serving_input_example.json',
      type: 'ndarray',
    },
    signature: {
      inputs: singleQuoted(pythonJson([tensorSpec('input', 'float32', [-1, 4])])),
      outputs: singleQuoted(pythonJson([tensorSpec('probabilities', 'float32', [-1, 3]), tensorSpec('label', 'int64', [-1])])),
      params: null,
    },
    utc_time_created: singleQuoted(UTC_TIME_CREATED),
  };

  const example = EXAMPLE_ROWS.map((i) => [...IRIS_FEATURES[i]]);
  const pct = (model.accuracy * 100).toFixed(1);

  const readme = `# iris demo model

An MLflow-style ONNX model directory, bundled with modelgate as its demo model.

It classifies iris flowers from four measurements in cm (\`sepal_length\`, \`sepal_width\`,
\`petal_length\`, \`petal_width\`) into ${IRIS_CLASS_NAMES.map((c, i) => `${i} = ${c}`).join(', ')}.

| file | what |
|---|---|
| \`model.onnx\` | ONNX (IR 8, opset 13, ${onnx.length} bytes, sha256 \`${sha256}\`) |
| \`MLmodel\` | MLflow model metadata: \`onnx\` and \`python_function\` flavours, tensor signature |
| \`input_example.json\` | rows 1, 51 and 101 of the iris data (one flower per class), as an ndarray |
| \`serving_input_example.json\` | the same rows as an \`/invocations\` request body: \`{"inputs": [...]}\` |

**Graph.** \`input\` float32 [N,4] → \`Gemm(W[3x4], b[3], transB=1)\` → \`Softmax(axis=1)\` →
\`probabilities\` float32 [N,3] → \`ArgMax(axis=1, keepdims=0)\` → \`label\` int64 [N].

**How it was made.** \`tools/make-demo-model.ts\` trains a multinomial logistic regression on
Fisher's 150-row iris data (\`tools/iris/\`) by deterministic full-batch gradient descent on
standardised features with a small L2 penalty, folds the scaling back into raw-feature weights,
rounds them to 6 decimals and writes the graph with the repo's own protobuf writer
(\`src/onnx/writer.ts\`). No Python, no MLflow. Training accuracy: ${pct}% (${Math.round(model.accuracy * IRIS_FEATURES.length)}/${IRIS_FEATURES.length}).

The output is byte-for-byte reproducible (\`test/tools/demo-model.test.ts\` checks it). To regenerate:

\`\`\`sh
npm run build
node dist/tools/make-demo-model.js examples/iris
\`\`\`
`;

  return new Map<string, Uint8Array | string>([
    ['model.onnx', onnx],
    ['MLmodel', stringify(mlmodel, { indentSeq: false, lineWidth: 0, singleQuote: true })],
    ['input_example.json', pythonJson(example, { floats: true })],
    ['serving_input_example.json', pythonJson({ inputs: example }, { indent: 2, floats: true })],
    ['README.md', readme],
  ]);
}

/** Writes the demo model directory (creating it) and returns the names of the files written. */
export function writeDemoModel(outDir: string = DEFAULT_DEMO_DIR): string[] {
  mkdirSync(outDir, { recursive: true });
  const files = demoModelFiles();
  for (const [name, contents] of files) writeFileSync(join(outDir, name), contents);
  return [...files.keys()];
}

if (isMain(import.meta.url)) {
  const outDir = resolve(process.argv[2] ?? DEFAULT_DEMO_DIR);
  const written = writeDemoModel(outDir);
  console.log(`wrote ${written.join(', ')} to ${outDir}`);
}
