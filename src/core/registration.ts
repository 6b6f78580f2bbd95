/**
 * Registration-time validation, given to the registry: the staged copy is loaded and its serving
 * example scored exactly as serving would, so a version that is registered is one that serves.
 */
import { writeMLModel } from '../model/mlmodel.js';
import type { RegistryBackend } from '../registry/backend.js';
import { type BackendOptions, openBackend } from '../registry/backends/index.js';
import { environment } from '../config/env.js';
import { registryOptions } from '../config/registry.js';
import { Registry, type StagedValidator } from '../registry/registry.js';
import { signatureToDict } from '../schema/signature.js';
import { loadServable } from './load.js';
import { openModelDir } from './model-dir.js';
import { writeReferenceProfile } from './reference.js';

export const validateStaged: StagedValidator = async (staged, options) => {
  const md = await openModelDir(staged);
  if (options.reference !== undefined) await writeReferenceProfile(options.reference, staged);
  if (options.skipValidation && !md.generated) return { flavor: md.flavor.name };
  const servable = await loadServable(
    md,
    { name: options.name, version: 'staged' },
    {
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.loadTimeoutMs === undefined ? {} : { loadTimeoutMs: options.loadTimeoutMs }),
    },
  );
  try {
    if (md.generated) {
      // Describe a bare directory with an MLmodel carrying the signature the flavour inferred.
      const doc: Record<string, unknown> = { ...md.mlmodel.raw };
      if (servable.signature) doc.signature = signatureToDict(servable.signature);
      await writeMLModel(staged, doc);
    }
  } finally {
    await servable.model.unload();
  }
  return { flavor: md.flavor.name };
};

/**
 * A registry (a URI, or a backend) whose registrations are validated by loading and scoring.
 * A URI's backend gets `options`, by default from the environment (as MLflow's client reads it).
 */
export function openRegistry(where: string | RegistryBackend, options?: BackendOptions): Registry {
  const backend = typeof where === 'string' ? openBackend(where, options ?? registryOptions(environment())) : where;
  return new Registry(backend, validateStaged);
}
