/**
 * The MLflow `MLmodel` file: YAML with `flavors`, a `signature` whose values are JSON strings,
 * and `saved_input_example_info`. Read as untrusted input (size-capped, shape-checked by Ajv) and
 * written back in MLflow's layout so MLflow tools read what we write.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { GatewayError } from '../errors.js';
import { ajv } from '../schema/ajv.js';
import { type ModelSignature, type SignatureDict, parseSignature } from '../schema/signature.js';
import { dict } from '../util/dict.js';

export const MLMODEL_FILE = 'MLmodel';
const MAX_MLMODEL_BYTES = 16 * 1024 * 1024;

export interface InputExampleInfo {
  artifactPath?: string;
  servingInputPath?: string;
  type?: string;
  pandasOrient?: string;
}

export interface MLModel {
  /** Everything the file holds, for tools that rewrite it. */
  readonly raw: Record<string, unknown>;
  readonly flavors: Readonly<Record<string, Record<string, unknown>>>;
  readonly signature: ModelSignature | undefined;
  readonly inputExample: InputExampleInfo | undefined;
}

const mlmodelSchema = {
  type: 'object',
  required: ['flavors'],
  properties: {
    flavors: {
      type: 'object',
      minProperties: 1,
      maxProperties: 100,
      additionalProperties: { type: ['object', 'null'] },
    },
    signature: {
      type: ['object', 'null'],
      properties: {
        inputs: { type: ['string', 'null'] },
        outputs: { type: ['string', 'null'] },
        params: { type: ['string', 'null'] },
      },
    },
    saved_input_example_info: {
      type: ['object', 'null'],
      properties: {
        artifact_path: { type: 'string' },
        serving_input_path: { type: 'string' },
        type: { type: 'string' },
        pandas_orient: { type: 'string' },
      },
    },
  },
};
const validateMLModel = ajv.compile(mlmodelSchema);

export class InvalidModelError extends GatewayError {
  constructor(message: string, cause?: unknown) {
    super('INVALID_PARAMETER_VALUE', message, { cause });
  }
}

export function parseMLModel(text: string, where = MLMODEL_FILE): MLModel {
  let raw: unknown;
  try {
    raw = parse(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new InvalidModelError(`${where} is not valid YAML: ${(err as Error).message}`);
  }
  if (!validateMLModel(raw)) {
    throw new InvalidModelError(`${where} is not a valid MLmodel file: ${ajv.errorsText(validateMLModel.errors, { dataVar: 'MLmodel' })}`);
  }
  const doc = raw as Record<string, unknown>;
  const flavors = dict<Record<string, unknown>>();
  for (const [k, v] of Object.entries(doc.flavors as Record<string, unknown>)) flavors[k] = (v ?? {}) as Record<string, unknown>;
  let signature: ModelSignature | undefined;
  try {
    signature = parseSignature(doc.signature as SignatureDict | null | undefined);
  } catch (err) {
    throw new InvalidModelError(`${where}: ${(err as Error).message}`);
  }
  const info = doc.saved_input_example_info as Record<string, string> | null | undefined;
  const inputExample: InputExampleInfo | undefined = info
    ? {
        artifactPath: info.artifact_path,
        servingInputPath: info.serving_input_path,
        type: info.type,
        pandasOrient: info.pandas_orient,
      }
    : undefined;
  return { raw: doc, flavors, signature, inputExample };
}

export async function readMLModel(dir: string): Promise<MLModel | undefined> {
  let text: string;
  try {
    const buf = await readFile(join(dir, MLMODEL_FILE));
    if (buf.length > MAX_MLMODEL_BYTES) throw new InvalidModelError(`${MLMODEL_FILE} is larger than 16 MB`);
    text = buf.toString('utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return parseMLModel(text, join(dir, MLMODEL_FILE));
}

/** YAML as MLflow writes it (block style, keys in insertion order). */
export function stringifyMLModel(doc: Record<string, unknown>): string {
  return stringify(doc, { lineWidth: 0, nullStr: 'null' });
}

export async function writeMLModel(dir: string, doc: Record<string, unknown>): Promise<void> {
  await writeFile(join(dir, MLMODEL_FILE), stringifyMLModel(doc));
}
