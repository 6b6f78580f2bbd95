/**
 * Saving a model directory from code, as MLflow's `save_model` does: the model's files, an
 * MLflow-style MLmodel (flavour entry, signature, example info) and the input example in MLflow's
 * two files (`input_example.json`, and `serving_input_example.json`, the example as an
 * /invocations body). The saved directory is then loaded and its example scored, so a model that
 * cannot serve is refused here rather than at registration.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { Scalar } from 'yaml';
import { GatewayError, describeError } from '../errors.js';
import type { SaveOptionsByFlavor } from '../flavors/flavor.js';
import { listFlavors } from '../flavors/index.js';
import {
  type MlflowSignatureJson,
  type ModelSignature,
  type ParamSpec,
  type Schema,
  parseParams,
  parseSchema,
  signatureToDict,
} from '../schema/signature.js';
import { MODELGATE_VERSION } from '../version.js';
import { loadServable } from './load.js';
import { pyJson, pyString } from '../util/py-json.js';
import { openModelDir } from './model-dir.js';
import { writeMLModel } from '../model/mlmodel.js';

export type { MlflowSignatureJson } from '../schema/signature.js';
export type { SaveModelCommonOptions } from '../flavors/flavor.js';

/** The options of every flavour that can save (each adds its own to `SaveOptionsByFlavor`). */
export type SaveModelOptions = SaveOptionsByFlavor[keyof SaveOptionsByFlavor];

export interface SavedModel {
  readonly dir: string;
  /** The MLmodel document written. */
  readonly mlmodel: Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// signature and example

function isTypedSchema(s: unknown): s is Schema {
  return typeof s === 'object' && s !== null && !Array.isArray(s) && 'kind' in s;
}

function normalizeSignature(sig: ModelSignature | MlflowSignatureJson | undefined): ModelSignature | undefined {
  if (sig === undefined) return undefined;
  const out: ModelSignature = {};
  const inputs = isTypedSchema(sig.inputs) ? sig.inputs : parseSchema(sig.inputs, 'inputs');
  const outputs = isTypedSchema(sig.outputs) ? sig.outputs : parseSchema(sig.outputs, 'outputs');
  const params = parseParams(sig.params);
  if (inputs) out.inputs = inputs;
  if (outputs) out.outputs = outputs;
  if (params) out.params = params;
  return out;
}

function paramType(v: unknown, name: string): ParamSpec['type'] {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'number') return Number.isInteger(v) ? 'long' : 'double';
  throw new GatewayError('INVALID_PARAMETER_VALUE', `Example param '${name}' must be a string, number, boolean or a list of them`);
}

/** MLflow's `_infer_param_schema`: each example param becomes an optional param defaulting to its value. */
function inferParams(params: Record<string, unknown>): ParamSpec[] {
  return Object.entries(params).map(([name, v]) => {
    if (Array.isArray(v)) {
      if (v.length === 0) throw new GatewayError('INVALID_PARAMETER_VALUE', `Example param '${name}' is an empty list`);
      const types = new Set(v.map((x) => paramType(x, name)));
      const type = types.size === 1 ? [...types][0] : types.has('string') || types.has('boolean') ? undefined : 'double';
      if (type === undefined) throw new GatewayError('INVALID_PARAMETER_VALUE', `Example param '${name}' mixes types`);
      return { name, type, default: v, shape: [-1] };
    }
    return { name, type: paramType(v, name), default: v, shape: null };
  });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

interface ExampleFiles {
  data: unknown;
  serving: unknown;
  info: Record<string, string>;
}

/** MLflow's `_Example`: the example's stored form, its /invocations form and its MLmodel info. */
function exampleFiles(example: unknown, params: Record<string, unknown> | undefined): ExampleFiles {
  let data: unknown;
  let serving: Record<string, unknown>;
  const info: Record<string, string> = { artifact_path: 'input_example.json' };
  const frame = (columns: string[] | undefined, rows: unknown[][]) => {
    data = columns === undefined ? { data: rows } : { columns, data: rows };
    serving = { dataframe_split: data };
    Object.assign(info, { type: 'dataframe', pandas_orient: columns === undefined ? 'values' : 'split' });
  };
  if (Array.isArray(example) && example.length > 0 && example.every(isPlainObject)) {
    const columns: string[] = [];
    for (const row of example) for (const k of Object.keys(row)) if (!columns.includes(k)) columns.push(k);
    frame(
      columns,
      example.map((row: Record<string, unknown>) => columns.map((c) => row[c] ?? null)),
    );
  } else if (Array.isArray(example) || (isPlainObject(example) && Object.values(example).every(Array.isArray))) {
    data = example;
    serving = { inputs: example };
    info.type = 'ndarray';
  } else if (isPlainObject(example)) {
    frame(Object.keys(example), [Object.values(example)]);
  } else if (typeof example === 'string' || typeof example === 'number' || typeof example === 'boolean') {
    frame(undefined, [[example]]);
  } else {
    throw new GatewayError('INVALID_PARAMETER_VALUE', 'inputExample must be a list, an object or a scalar');
  }
  if (params !== undefined) {
    data = { inputs: data, params };
    serving = { ...serving!, params };
  }
  return { data, serving: serving!, info: { ...info, serving_input_path: 'serving_input_example.json' } };
}

/** `json.dumps(value, indent=2)`, as MLflow writes serving_input_example.json. */
function pyJsonIndented(value: unknown, depth = 0): string {
  const pad = (d: number) => `\n${'  '.repeat(d)}`;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[${value.map((v) => pad(depth + 1) + pyJsonIndented(v, depth + 1)).join(',')}${pad(depth)}]`;
  }
  if (isPlainObject(value)) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return '{}';
    return `{${entries.map(([k, v]) => `${pad(depth + 1)}${pyString(k)}: ${pyJsonIndented(v, depth + 1)}`).join(',')}${pad(depth)}}`;
  }
  return pyJson(value);
}

// ---------------------------------------------------------------------------------------------
// flavours

async function directorySize(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += (await stat(join(e.parentPath, e.name))).size;
  }
  return total;
}

/** `'2026-01-01 00:00:00.000000'`, MLflow's `utc_time_created` (quoted, or YAML 1.1 readers see a timestamp). */
function utcNow(): Scalar {
  const s = new Scalar(`${new Date().toISOString().replace('T', ' ').replace('Z', '')}000`);
  s.type = Scalar.QUOTE_SINGLE;
  return s;
}

/** MLflow writes MLmodel with `yaml.safe_dump`, which sorts keys at every level. */
function sortKeys(v: unknown): unknown {
  if (!isPlainObject(v)) return v;
  return Object.fromEntries(
    Object.keys(v)
      .sort()
      .map((k) => [k, sortKeys(v[k])]),
  );
}

/**
 * Writes a model directory for a flavour that can save (`js`, `onnx`, `tfjs`). The directory must not exist
 * or be empty; on any failure it is removed again.
 *
 * @example
 * await saveModel('./my-model', {
 *   flavor: 'js',
 *   module: './model.mjs',
 *   state: { weights: new Float64Array([0.5, -1]) },
 *   signature: { inputs: [{ type: 'double', name: 'x' }, { type: 'double', name: 'y' }] },
 *   inputExample: [{ x: 1, y: 2 }],
 * });
 */
export async function saveModel(dir: string, options: SaveModelOptions): Promise<SavedModel> {
  const path = resolve(dir);
  const existing = await readdir(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (existing !== undefined && existing.length > 0) {
    throw new GatewayError('RESOURCE_ALREADY_EXISTS', `Path '${path}' already exists and is not empty`);
  }
  await mkdir(path, { recursive: true });
  try {
    const flavor = listFlavors().find((f) => f.name === options.flavor && f.save !== undefined);
    if (flavor?.save === undefined) {
      const savable = listFlavors()
        .filter((f) => f.save !== undefined)
        .map((f) => f.name);
      throw new GatewayError(
        'INVALID_PARAMETER_VALUE',
        `saveModel: unknown flavour '${String((options as { flavor: unknown }).flavor)}' (${savable.join(', ')})`,
      );
    }
    const flavors = await flavor.save(path, options);
    let signature = normalizeSignature(options.signature);
    if (options.params !== undefined && signature?.params === undefined) {
      signature = { ...signature, params: inferParams(options.params) };
    }
    const doc: Record<string, unknown> = { flavors };
    if (options.inputExample !== undefined) {
      const ex = exampleFiles(options.inputExample, options.params);
      await writeFile(join(path, 'input_example.json'), pyJson(ex.data));
      await writeFile(join(path, 'serving_input_example.json'), pyJsonIndented(ex.serving));
      doc.saved_input_example_info = ex.info;
    }
    doc.model_size_bytes = await directorySize(path);
    doc.model_uuid = randomUUID().replaceAll('-', '');
    doc.modelgate_version = MODELGATE_VERSION;
    if (signature !== undefined) doc.signature = signatureToDict(signature);
    doc.utc_time_created = utcNow();
    await writeMLModel(path, sortKeys(doc) as Record<string, unknown>);

    if (options.validate !== false) {
      const md = await openModelDir(path);
      const servable = await loadServable(md, { name: basename(path), version: 'saved' }).catch((err: unknown) => {
        throw new GatewayError('INVALID_PARAMETER_VALUE', `The saved model does not load: ${describeError(err)}`, { cause: err });
      });
      await servable.model.unload();
    }
    return { dir: path, mlmodel: doc };
  } catch (err) {
    await (existing === undefined ? rm(path, { recursive: true, force: true }) : emptyDir(path));
    throw err;
  }
}

async function emptyDir(dir: string): Promise<void> {
  for (const e of await readdir(dir)) await rm(join(dir, e), { recursive: true, force: true });
}
