/**
 * A model directory: an MLflow-style folder with an MLmodel file, or a bare folder a flavour
 * recognises (then we describe it with a generated MLmodel).
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { GatewayError } from '../errors.js';
import { type Flavor, flavorFor, listFlavors } from '../flavors/index.js';
import { type MLModel, readMLModel } from './mlmodel.js';

export interface ModelDir {
  readonly path: string;
  readonly mlmodel: MLModel;
  readonly flavor: Flavor;
  /** True when the folder had no MLmodel and `mlmodel` was generated from what a flavour detected. */
  readonly generated: boolean;
}

export async function openModelDir(dir: string): Promise<ModelDir> {
  const path = resolve(dir);
  const st = await stat(path).catch(() => undefined);
  if (st === undefined || !st.isDirectory()) {
    throw new GatewayError('RESOURCE_DOES_NOT_EXIST', `Model directory ${path} does not exist or is not a directory`);
  }
  const mlmodel = await readMLModel(path);
  if (mlmodel !== undefined) return { path, mlmodel, flavor: flavorFor(mlmodel), generated: false };
  for (const flavor of listFlavors()) {
    const detected = await flavor.detect?.(path);
    if (detected !== undefined) {
      const raw = { flavors: detected.flavors };
      return { path, mlmodel: { raw, flavors: detected.flavors, signature: undefined, inputExample: undefined }, flavor, generated: true };
    }
  }
  throw new GatewayError(
    'INVALID_PARAMETER_VALUE',
    `${path} has no MLmodel file and no flavour recognises its contents (expected e.g. a single .onnx file)`,
  );
}
