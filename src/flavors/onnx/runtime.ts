/**
 * onnxruntime-node, from wherever it is: the project's own install first (that is how CUDA is
 * opted into), else the CPU runtime modelgate's postinstall put in `vendor/onnxruntime-node/`
 * (scripts/install-onnxruntime.mjs says why modelgate does not depend on it directly).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { GatewayError } from '../../errors.js';
import { packageRoot } from '../../util/package-root.js';

export type OrtModule = typeof Ort;

let loading: Promise<OrtModule> | undefined;

function notFound(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

async function load(): Promise<OrtModule> {
  try {
    return (await import('onnxruntime-node')) as OrtModule;
  } catch (err) {
    if (!notFound(err)) throw err;
  }
  const entry = join(await packageRoot(), 'vendor', 'onnxruntime-node', 'dist', 'index.js');
  if (!existsSync(entry)) {
    throw new GatewayError(
      'INVALID_STATE',
      'onnxruntime-node is not installed, so ONNX models cannot load. modelgate installs its CPU runtime when it is installed ' +
        '(its install script may have been skipped, or the registry was out of reach): run `npm rebuild modelgate`, or ' +
        '`npm install onnxruntime-node@1.30.0 --onnxruntime-node-install=skip` in your project.',
    );
  }
  // A CommonJS package; require gives its exports whole.
  return createRequire(entry)(entry) as OrtModule;
}

/** The runtime module, loaded once per process. */
export function loadOnnxRuntime(): Promise<OrtModule> {
  loading ??= load();
  loading.catch(() => (loading = undefined));
  return loading;
}
