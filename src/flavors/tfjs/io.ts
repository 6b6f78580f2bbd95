/**
 * TF.js model files on local disk: `model.json` plus the weight shards its `weightsManifest`
 * lists, as `tensorflowjs_converter` and `model.save()` write them. TF.js only reads `file://`
 * through tfjs-node, so these are our own IOHandlers. Type-only imports of tfjs-core: saving and
 * reading files never loads the TF.js runtime.
 *
 * model.json is untrusted input: its size is capped, its shape checked, and shard paths must stay
 * inside the model directory.
 */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import type { io } from '@tensorflow/tfjs-core';
import { GatewayError } from '../../errors.js';
import { ajv } from '../../schema/ajv.js';
import { pathInside } from '../../model/paths.js';

export type TfjsFormat = 'layers-model' | 'graph-model';

const MAX_MODEL_JSON_BYTES = 256 * 1024 * 1024;
/** What tfjs-node and the Python converter use by default. */
export const DEFAULT_SHARD_BYTES = 4 * 1024 * 1024;

const modelJsonSchema = {
  type: 'object',
  required: ['modelTopology'],
  properties: {
    format: { type: 'string' },
    modelTopology: { type: 'object' },
    weightsManifest: {
      type: 'array',
      maxItems: 100_000,
      items: {
        type: 'object',
        required: ['paths', 'weights'],
        properties: {
          paths: { type: 'array', maxItems: 100_000, items: { type: 'string', minLength: 1, maxLength: 4096 } },
          weights: {
            type: 'array',
            items: {
              type: 'object',
              required: ['name', 'shape', 'dtype'],
              properties: {
                name: { type: 'string' },
                shape: { type: 'array', maxItems: 32, items: { type: 'integer', minimum: 0 } },
                dtype: { type: 'string' },
              },
            },
          },
        },
      },
    },
  },
};
const validateModelJson = ajv.compile(modelJsonSchema);

export class InvalidTfjsModelError extends GatewayError {
  constructor(message: string) {
    super('INVALID_PARAMETER_VALUE', message);
  }
}

/** Bytes per element of the dtypes a weights manifest may use (strings are variable). */
const DTYPE_BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1, complex64: 8, float16: 2 };

/** Which kind of model a model.json holds: its `format`, or older files' topology shape. */
export function tfjsFormatOf(json: io.ModelJSON): TfjsFormat {
  if (json.format === 'layers-model' || json.format === 'graph-model') return json.format;
  const topo = json.modelTopology as Record<string, unknown>;
  if (Array.isArray(topo.node)) return 'graph-model';
  if ('class_name' in topo || 'model_config' in topo) return 'layers-model';
  throw new InvalidTfjsModelError(`model.json has format '${String(json.format)}', which is neither 'layers-model' nor 'graph-model'`);
}

/** Reads and shape-checks a model.json. */
export async function readModelJson(path: string): Promise<io.ModelJSON> {
  const st = await stat(path).catch(() => undefined);
  if (st === undefined || !st.isFile()) throw new InvalidTfjsModelError(`${path} does not exist`);
  if (st.size > MAX_MODEL_JSON_BYTES) throw new InvalidTfjsModelError(`${path} is larger than 256 MB`);
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new InvalidTfjsModelError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (!validateModelJson(json)) {
    throw new InvalidTfjsModelError(
      `${path} is not a TF.js model.json: ${ajv.errorsText(validateModelJson.errors, { dataVar: 'model.json' })}`,
    );
  }
  return json as unknown as io.ModelJSON;
}

function toArrayBuffer(buf: Uint8Array): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

function expectedBytes(specs: readonly io.WeightsManifestEntry[]): number | undefined {
  let total = 0;
  for (const s of specs) {
    const size = DTYPE_BYTES[s.dtype];
    // Quantized and string weights have sizes the manifest does not state directly.
    if (size === undefined || s.quantization !== undefined) return undefined;
    total += s.shape.reduce((a, b) => a * b, 1) * size;
  }
  return total;
}

/** The files a model.json refers to (model.json first), relative to the model directory. */
export function modelFiles(root: string, modelJsonPath: string, json: io.ModelJSON): string[] {
  const base = dirname(modelJsonPath);
  const files = [relative(root, modelJsonPath)];
  for (const group of json.weightsManifest ?? []) {
    for (const p of group.paths) files.push(relative(root, pathInside(root, base, p, 'Weight shard')));
  }
  return files;
}

/**
 * An IOHandler that loads a model.json and its shards from disk. The shards are handed to TF.js
 * as a list (it reads across shard boundaries itself), so no concatenated copy is made.
 */
export function fileSystemLoadHandler(root: string, modelJsonPath: string): io.IOHandler & { format: () => Promise<TfjsFormat> } {
  let cached: Promise<io.ModelJSON> | undefined;
  const json = () => (cached ??= readModelJson(modelJsonPath));
  return {
    format: async () => tfjsFormatOf(await json()),
    async load(): Promise<io.ModelArtifacts> {
      const mj = await json();
      const base = dirname(modelJsonPath);
      const specs: io.WeightsManifestEntry[] = [];
      const shards: ArrayBuffer[] = [];
      for (const group of mj.weightsManifest ?? []) {
        specs.push(...group.weights);
        for (const p of group.paths) {
          const file = pathInside(root, base, p, 'Weight shard');
          const buf = await readFile(file).catch((err: NodeJS.ErrnoException) => {
            throw new InvalidTfjsModelError(`Weight shard '${p}' listed in model.json cannot be read: ${err.code ?? err.message}`);
          });
          shards.push(toArrayBuffer(buf));
        }
      }
      const want = expectedBytes(specs);
      const have = shards.reduce((a, b) => a + b.byteLength, 0);
      if (want !== undefined && want !== have) {
        throw new InvalidTfjsModelError(`The weights manifest describes ${want} bytes of weights but the shards hold ${have} bytes`);
      }
      const artifacts: io.ModelArtifacts = {
        modelTopology: mj.modelTopology,
        format: mj.format,
        generatedBy: mj.generatedBy,
        convertedBy: mj.convertedBy,
        weightSpecs: specs,
        weightData: shards,
      };
      if (mj.trainingConfig !== undefined) artifacts.trainingConfig = mj.trainingConfig;
      if (mj.signature !== undefined) artifacts.signature = mj.signature;
      if (mj.userDefinedMetadata !== undefined) artifacts.userDefinedMetadata = mj.userDefinedMetadata;
      if (mj.modelInitializer !== undefined) artifacts.modelInitializer = mj.modelInitializer;
      if (mj.initializerSignature !== undefined) artifacts.initializerSignature = mj.initializerSignature;
      return artifacts;
    },
  };
}

export interface SaveTfjsOptions {
  /** Largest weight shard in bytes; several shards are written above it. @default 4194304 (4 MiB) */
  shardBytes?: number;
  /** @default 'model.json' */
  modelJson?: string;
}

function concatWeights(data: io.WeightData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  const parts = Array.isArray(data) ? data : [data];
  const out = new Uint8Array(parts.reduce((a, b) => a + b.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p), at);
    at += p.byteLength;
  }
  return out;
}

/** Writes model artifacts as `model.json` + `group1-shardNofM.bin`, the layout tfjs-node writes. */
export async function writeTfjsModel(dir: string, artifacts: io.ModelArtifacts, options: SaveTfjsOptions = {}): Promise<string[]> {
  const shardBytes = options.shardBytes ?? DEFAULT_SHARD_BYTES;
  if (!Number.isInteger(shardBytes) || shardBytes < 1) throw new RangeError('shardBytes must be a positive integer');
  await mkdir(dir, { recursive: true });
  const weights = concatWeights(artifacts.weightData);
  const count = Math.max(1, Math.ceil(weights.byteLength / shardBytes));
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `group1-shard${i + 1}of${count}.bin`;
    await writeFile(join(dir, name), weights.subarray(i * shardBytes, Math.min(weights.byteLength, (i + 1) * shardBytes)));
    paths.push(name);
  }
  const json: io.ModelJSON = {
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy ?? null,
    modelTopology: (artifacts.modelTopology ?? {}) as object,
    weightsManifest: [{ paths, weights: artifacts.weightSpecs ?? [] }],
  };
  if (artifacts.trainingConfig !== undefined) json.trainingConfig = artifacts.trainingConfig;
  if (artifacts.signature !== undefined) json.signature = artifacts.signature;
  if (artifacts.userDefinedMetadata !== undefined) json.userDefinedMetadata = artifacts.userDefinedMetadata;
  if (artifacts.modelInitializer !== undefined) json.modelInitializer = artifacts.modelInitializer;
  if (artifacts.initializerSignature !== undefined) json.initializerSignature = artifacts.initializerSignature;
  const modelJson = options.modelJson ?? 'model.json';
  await writeFile(join(dir, modelJson), JSON.stringify(json));
  return [modelJson, ...paths];
}

/** An IOHandler for `model.save(handler)` that writes to a directory on disk. */
export function fileSystemSaveHandler(dir: string, options: SaveTfjsOptions = {}): io.IOHandler {
  return {
    async save(artifacts: io.ModelArtifacts): Promise<io.SaveResult> {
      await writeTfjsModel(dir, artifacts, options);
      const data = artifacts.weightData;
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          modelTopologyBytes: JSON.stringify(artifacts.modelTopology ?? null).length,
          weightSpecsBytes: JSON.stringify(artifacts.weightSpecs ?? []).length,
          weightDataBytes: data === undefined ? 0 : (Array.isArray(data) ? data : [data]).reduce((a, b) => a + b.byteLength, 0),
        },
      };
    },
  };
}
