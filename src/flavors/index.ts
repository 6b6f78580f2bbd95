/**
 * The flavour table. A model directory is served by the first flavour that can load its MLmodel.
 */
import { GatewayError } from '../errors.js';
import type { MLModel } from '../model/mlmodel.js';
import type { Flavor } from './flavor.js';
import { jsFlavor } from './js/index.js';
import { onnxFlavor } from './onnx/index.js';
import { sklearnFlavor } from './sklearn/index.js';
import { tfjsFlavor } from './tfjs/index.js';
import { xgboostFlavor } from './xgboost/index.js';
import { lightgbmFlavor } from './lightgbm/index.js';

export type { DetectedModel, Flavor, FlavorImage, FlavorLoadContext, FlavorLoadOptions, LoadedModel, PackageRule } from './flavor.js';

const flavors = new Map<string, Flavor>(
  [onnxFlavor, tfjsFlavor, jsFlavor, sklearnFlavor, xgboostFlavor, lightgbmFlavor].map((f) => [f.name, f]),
);

/** Adds a flavour (library users can plug in their own). Names are unique. */
export function registerFlavor(flavor: Flavor): void {
  if (flavors.has(flavor.name)) throw new Error(`A flavour named '${flavor.name}' is already registered`);
  flavors.set(flavor.name, flavor);
}

export function listFlavors(): Flavor[] {
  return [...flavors.values()];
}

export function flavorNamed(name: string): Flavor | undefined {
  return flavors.get(name);
}

/** MLflow flavours we know by name, with what to do instead. */
const UNSERVABLE_HINTS: Record<string, string> = {
  pytorch: 'export it to ONNX with torch.onnx.export',
  tensorflow: 'convert it with tensorflowjs_converter or tf2onnx',
  keras: 'convert it with tensorflowjs_converter or tf2onnx',
};

export function flavorFor(mlmodel: MLModel): Flavor {
  for (const f of flavors.values()) if (f.canLoad(mlmodel)) return f;
  const names = Object.keys(mlmodel.flavors);
  const hints = names.filter((n) => n in UNSERVABLE_HINTS).map((n) => `${n}: ${UNSERVABLE_HINTS[n]}`);
  throw new GatewayError(
    'INVALID_PARAMETER_VALUE',
    `No modelgate flavour can serve a model with MLmodel flavours [${names.join(', ')}]; supported: [${[...flavors.keys()].join(', ')}].` +
      (hints.length > 0 ? ` Hint: ${hints.join('; ')}.` : ''),
  );
}
