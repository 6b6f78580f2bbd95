/**
 * The TF.js runtime and its backend. TF.js has one engine per process, so the backend is chosen
 * once, by the first TF.js model loaded, and shared by every TF.js model after it.
 *
 * Order: `tensorflow` (@tensorflow/tfjs-node, native libtensorflow) when the user has installed it
 * — it is not a dependency, because its install script downloads libtensorflow — then `wasm`
 * (@tensorflow/tfjs-backend-wasm; its .wasm files ship in the package and are read from disk,
 * SIMD on, no threads in Node), then `cpu` (plain JS) if wasm cannot start.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type * as TfCore from '@tensorflow/tfjs-core';
import type { Logger } from '../../util/log.js';

export type TfCoreModule = typeof TfCore;
export type TfjsBackendName = 'tensorflow' | 'wasm' | 'cpu';

export const TFJS_BACKENDS: readonly TfjsBackendName[] = ['tensorflow', 'wasm', 'cpu'];

export interface TfjsRuntime {
  readonly tf: TfCoreModule;
  readonly backend: TfjsBackendName;
  /** tfjs-core's version. */
  readonly version: string;
}

export interface TfjsRuntimeOptions {
  /** Backends to try, in order. @default ['tensorflow', 'wasm', 'cpu'] */
  prefer?: readonly TfjsBackendName[];
  /** Directory holding the tfjs-backend-wasm .wasm files. @default the installed package's dist/ */
  wasmDir?: string;
  logger?: Logger;
}

// A variable, so TypeScript does not look for the optional package's types.
const TFJS_NODE = '@tensorflow/tfjs-node';

function wasmDistDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
}

/** Registers one backend and makes it current; false (with the reason logged) if it cannot start. */
async function tryBackend(tf: TfCoreModule, name: TfjsBackendName, options: TfjsRuntimeOptions): Promise<boolean> {
  const log = options.logger;
  try {
    switch (name) {
      case 'tensorflow':
        await import(TFJS_NODE);
        // tfjs-node registers on its own copy of tfjs-core; a different copy would not see it.
        if (tf.findBackendFactory('tensorflow') === null) {
          log?.warn('@tensorflow/tfjs-node is installed but registered its backend with another copy of @tensorflow/tfjs-core');
          return false;
        }
        break;
      case 'wasm': {
        const wasm = await import('@tensorflow/tfjs-backend-wasm');
        const dir = options.wasmDir ?? wasmDistDir();
        wasm.setWasmPaths(dir.endsWith('/') ? dir : `${dir}/`);
        break;
      }
      case 'cpu':
        await import('@tensorflow/tfjs-backend-cpu');
        break;
    }
    if (!(await tf.setBackend(name))) {
      log?.warn({ backend: name }, 'TF.js backend failed to initialise');
      return false;
    }
    await tf.ready();
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (name === 'tensorflow' && code === 'ERR_MODULE_NOT_FOUND') log?.debug('@tensorflow/tfjs-node is not installed');
    else log?.warn({ backend: name, err }, 'TF.js backend unavailable');
    return false;
  }
}

async function initRuntime(options: TfjsRuntimeOptions): Promise<TfjsRuntime> {
  const tf = (await import('@tensorflow/tfjs-core')) as TfCoreModule;
  // PROD silences tfjs's console banners (stdout carries our JSON logs) and skips debug checks.
  tf.enableProdMode();
  const prefer = options.prefer ?? TFJS_BACKENDS;
  for (const name of prefer) {
    if (await tryBackend(tf, name, options)) {
      const runtime: TfjsRuntime = { tf, backend: name, version: tf.version_core };
      options.logger?.info(
        { backend: name, tfjsVersion: runtime.version, simd: name === 'wasm' ? tf.env().getBool('WASM_HAS_SIMD_SUPPORT') : undefined },
        'TF.js backend ready',
      );
      return runtime;
    }
  }
  throw new Error(`No TF.js backend could be started (tried ${prefer.join(', ')})`);
}

let shared: Promise<TfjsRuntime> | undefined;

/**
 * The process's TF.js runtime, started on first use. Later calls get the same runtime whatever
 * they prefer (the engine cannot run two backends for different models at once).
 */
export function tfjsRuntime(options: TfjsRuntimeOptions = {}): Promise<TfjsRuntime> {
  if (shared === undefined) {
    shared = initRuntime(options);
    // A failed start may be retried (e.g. with another preference).
    shared.catch(() => (shared = undefined));
  }
  return shared;
}
