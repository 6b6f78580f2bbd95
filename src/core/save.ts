/**
 * Saving a model directory from code, as MLflow's `save_model` does: the model's files, an
 * MLflow-style MLmodel (flavour entry, signature, example info) and the input example in MLflow's
 * two files (`input_example.json`, and `serving_input_example.json`, the example as an
 * /invocations body). The saved directory is then loaded and its example scored, so a model that
 * cannot serve is refused here rather than at registration.
 */
import { randomUUID } from 'node:crypto';
import { cp, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { serialize } from 'node:v8';
import type { io } from '@tensorflow/tfjs-core';
import { Scalar } from 'yaml';
import { GatewayError, describeError } from '../errors.js';
import { fileSystemSaveHandler, modelFiles, readModelJson, tfjsFormatOf } from '../flavors/tfjs/io.js';
import { type ModelSignature, type ParamSpec, type Schema, parseParams, parseSchema, signatureToDict } from '../schema/signature.js';
import { MODELGATE_VERSION } from '../version.js';
import { loadServable } from './load.js';
import { pyJson, pyString } from '../util/py-json.js';
import { openModelDir } from './model-dir.js';
import { writeMLModel } from '../model/mlmodel.js';

/** A signature as MLflow writes it in JSON: lists of column, tensor and param specs. */
export interface MlflowSignatureJson {
  inputs?: readonly unknown[];
  outputs?: readonly unknown[];
  params?: readonly unknown[];
}

export interface SaveModelCommonOptions {
  /** Our typed signature, or MLflow's JSON form (`{inputs: [{"type": "double", "name": "x"}], …}`). */
  signature?: ModelSignature | MlflowSignatureJson;
  /**
   * An example input, saved as MLflow saves one: a list of row objects is a DataFrame, another
   * list an ndarray, an object of lists a dict of named tensors, an object of scalars one row.
   */
  inputExample?: unknown;
  /** Params saved with the example (MLflow's `(input, params)` example); inferred into the signature when it declares none. */
  params?: Record<string, unknown>;
  /** Load the saved model and score its example before returning. @default true */
  validate?: boolean;
}

export interface SaveJsModelOptions extends SaveModelCommonOptions {
  flavor: 'js';
  /** The ES module file exporting `load(context)`; copied into `code/`. */
  module: string;
  /** More files or directories the module imports, copied into `code/` beside it (MLflow's `code_paths`). */
  codePaths?: string[];
  /** Any structured-cloneable value, written with `v8.serialize` and given to `load` as `context.state`. */
  state?: unknown;
  /** Name → file or directory, copied into `artifacts/` and given to `load` as absolute paths. */
  artifacts?: Record<string, string>;
}

export interface SaveOnnxModelOptions extends SaveModelCommonOptions {
  flavor: 'onnx';
  /** The model's bytes, or the path of a .onnx file. */
  model: Uint8Array | string;
}

/** Anything with TF.js's `save(handler)`: a LayersModel or a GraphModel. */
export interface TfjsSavable {
  save(handler: io.IOHandler): Promise<unknown>;
}

export interface SaveTfjsModelOptions extends SaveModelCommonOptions {
  flavor: 'tfjs';
  /** A directory holding model.json and its shards, or an in-memory LayersModel/GraphModel. */
  model: string | TfjsSavable;
  /** Shard size when saving an in-memory model. @default 4194304 (4 MiB) */
  shardBytes?: number;
}

export type SaveModelOptions = SaveJsModelOptions | SaveOnnxModelOptions | SaveTfjsModelOptions;

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

type Flavors = Record<string, Record<string, unknown>>;

function isInside(root: string, p: string): boolean {
  const r = relative(root, p);
  return r !== '' && !r.startsWith(`..${sep}`) && r !== '..';
}

async function saveJs(dir: string, o: SaveJsModelOptions): Promise<Flavors> {
  const code = join(dir, 'code');
  await mkdir(code, { recursive: true });
  const modulePath = resolve(o.module);
  let moduleRel: string | undefined;
  for (const p of o.codePaths ?? []) {
    const src = resolve(p);
    await cp(src, join(code, basename(src)), { recursive: true, errorOnExist: true, force: false });
    if (src === modulePath || isInside(src, modulePath)) moduleRel = join('code', basename(src), relative(src, modulePath));
  }
  if (moduleRel === undefined) {
    await cp(modulePath, join(code, basename(modulePath)), { errorOnExist: true, force: false });
    moduleRel = join('code', basename(modulePath));
  }
  // A .js file is ESM only under a package.json saying so; .mjs always is.
  if (moduleRel.endsWith('.js')) await writeFile(join(code, 'package.json'), '{"type": "module"}\n');
  const entry: Record<string, unknown> = { module: moduleRel.split(sep).join('/') };
  if (o.artifacts !== undefined && Object.keys(o.artifacts).length > 0) {
    const artifacts: Record<string, string> = {};
    for (const [name, p] of Object.entries(o.artifacts)) {
      if (!/^[\w.-]+$/.test(name) || name === '.' || name === '..') {
        throw new GatewayError('INVALID_PARAMETER_VALUE', `Artifact name '${name}' must be letters, digits, '_', '-' or '.'`);
      }
      const src = resolve(p);
      const rel = `artifacts/${name}/${basename(src)}`;
      await mkdir(join(dir, 'artifacts', name), { recursive: true });
      await cp(src, join(dir, rel), { recursive: true, errorOnExist: true, force: false });
      artifacts[name] = rel;
    }
    entry.artifacts = artifacts;
  }
  if (o.state !== undefined) {
    await writeFile(join(dir, 'state.bin'), serialize(o.state));
    entry.state = 'state.bin';
  }
  entry.node_version = process.versions.node;
  entry.modelgate_version = MODELGATE_VERSION;
  return { js: entry };
}

async function saveOnnx(dir: string, o: SaveOnnxModelOptions): Promise<Flavors> {
  const bytes = typeof o.model === 'string' ? await readFile(o.model) : o.model;
  await writeFile(join(dir, 'model.onnx'), bytes);
  // The same two entries mlflow.onnx writes, so MLflow can load the directory too.
  return {
    onnx: { code: null, data: 'model.onnx', onnx_session_options: null, providers: ['CPUExecutionProvider'] },
    python_function: { data: 'model.onnx', loader_module: 'mlflow.onnx' },
  };
}

async function saveTfjs(dir: string, o: SaveTfjsModelOptions): Promise<Flavors> {
  if (typeof o.model === 'string') {
    const src = resolve(o.model);
    const json = await readModelJson(join(src, 'model.json'));
    for (const f of modelFiles(src, join(src, 'model.json'), json)) {
      await mkdir(dirname(join(dir, f)), { recursive: true });
      await cp(join(src, f), join(dir, f), { errorOnExist: true, force: false });
    }
  } else {
    await o.model.save(fileSystemSaveHandler(dir, o.shardBytes === undefined ? {} : { shardBytes: o.shardBytes }));
  }
  const format = tfjsFormatOf(await readModelJson(join(dir, 'model.json')));
  return { tfjs: { model_json: 'model.json', format } };
}

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
 * Writes a model directory for the `js`, `onnx` or `tfjs` flavour. The directory must not exist
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
    let flavors: Flavors;
    switch (options.flavor) {
      case 'js':
        flavors = await saveJs(path, options);
        break;
      case 'onnx':
        flavors = await saveOnnx(path, options);
        break;
      case 'tfjs':
        flavors = await saveTfjs(path, options);
        break;
      default:
        throw new GatewayError(
          'INVALID_PARAMETER_VALUE',
          `saveModel: unknown flavour '${String((options as { flavor: unknown }).flavor)}' (js, onnx, tfjs)`,
        );
    }
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
