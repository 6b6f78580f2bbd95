/**
 * onnxruntime-node, from wherever it is: the project's own install first (that is how CUDA is
 * opted into), else the CPU runtime modelgate's postinstall put in `vendor/onnxruntime-node/`
 * (scripts/install-onnxruntime.mjs says why modelgate does not depend on it directly).
 *
 * The entry file is resolved once and loaded with `require`, so a session thread (runner.ts)
 * given the same path loads exactly the runtime the server's thread does.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { GatewayError } from '../../errors.js';
import { packageRoot } from '../../util/package-root.js';

export type OrtModule = typeof Ort;

let resolving: Promise<string> | undefined;
let loading: Promise<OrtModule> | undefined;

function notFound(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

async function resolveEntry(): Promise<string> {
  try {
    // A CommonJS package without an exports map: require's resolution is the one import() uses.
    return createRequire(import.meta.url).resolve('onnxruntime-node');
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
  return entry;
}

/** The absolute path of the runtime's entry file (what a session thread requires). */
export function resolveOnnxRuntime(): Promise<string> {
  resolving ??= resolveEntry();
  resolving.catch(() => (resolving = undefined));
  return resolving;
}

/** The runtime module, loaded once per process. */
export function loadOnnxRuntime(): Promise<OrtModule> {
  loading ??= resolveOnnxRuntime().then((entry) => createRequire(entry)(entry) as OrtModule);
  loading.catch(() => (loading = undefined));
  return loading;
}
