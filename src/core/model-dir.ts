/**
 * A model directory: an MLflow-style folder with an MLmodel file, or a bare folder a flavour
 * recognises (then we describe it with a generated MLmodel).
 */
import { realpath, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { GatewayError } from '../errors.js';
import { listFiles } from '../util/files.js';
import { type Flavor, flavorFor, listFlavors } from '../flavors/index.js';
import { type MLModel, readMLModel } from '../model/mlmodel.js';

export interface ModelDir {
  readonly path: string;
  readonly mlmodel: MLModel;
  readonly flavor: Flavor;
  /** True when the folder had no MLmodel and `mlmodel` was generated from what a flavour detected. */
  readonly generated: boolean;
}

export async function openModelDir(dir: string): Promise<ModelDir> {
  const given = resolve(dir);
  const st = await stat(given).catch(() => undefined);
  if (st === undefined || !st.isDirectory()) {
    throw new GatewayError('RESOURCE_DOES_NOT_EXIST', `Model directory ${given} does not exist or is not a directory`);
  }
  // The folder itself may be reached through a link; nothing inside it may be one (listFiles
  // refuses links), so every path a flavour resolves inside it stays inside it.
  const path = await realpath(given);
  await listFiles(path);
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
