/**
 * Registry URI scheme → backend factory. A lookup that misses lists the schemes we know.
 */
import { fileURLToPath } from 'node:url';
import { GatewayError } from '../../errors.js';
import type { RegistryBackend } from '../backend.js';
import { localRegistry } from './local/index.js';
import { MlflowRegistry, type MlflowRegistryOptions } from './mlflow/index.js';

/** Each backend's typed options (the CLI and server fill them from the environment: src/config/registry.ts). */
export interface BackendOptions {
  /** Made when an MLflow registry is opened (reading them can fail: conflicting TLS settings). */
  readonly mlflow?: () => MlflowRegistryOptions;
}

export type BackendFactory = (uri: string, options: BackendOptions) => RegistryBackend;

function fileFactory(uri: string): RegistryBackend {
  // file:./registry and file:registry are relative; file:///abs and file:/abs are absolute.
  const path = uri.startsWith('file://') ? fileURLToPath(uri) : uri.slice('file:'.length);
  if (path === '') throw new GatewayError('INVALID_PARAMETER_VALUE', `Registry URI '${uri}' has no path`);
  return localRegistry(uri, path);
}

const factories = new Map<string, BackendFactory>([
  ['file', fileFactory],
  // An http(s) registry is an MLflow tracking server.
  ['http', (uri, options) => new MlflowRegistry(uri, options.mlflow?.())],
  ['https', (uri, options) => new MlflowRegistry(uri, options.mlflow?.())],
]);

/** Adds a backend for a URI scheme (library users can plug in their own). Schemes are unique. */
export function registerBackend(scheme: string, factory: BackendFactory): void {
  const key = scheme.toLowerCase();
  if (factories.has(key)) throw new Error(`A registry backend for '${key}:' is already registered`);
  factories.set(key, factory);
}

export function openBackend(uri: string, options: BackendOptions = {}): RegistryBackend {
  const m = /^([a-z][a-z0-9+.-]*):/i.exec(uri);
  // A bare path (or a Windows drive letter) is a local directory registry.
  if (m === null || m[1].length === 1) return localRegistry(uri, uri);
  const factory = factories.get(m[1].toLowerCase());
  if (factory === undefined) {
    throw new GatewayError(
      'INVALID_PARAMETER_VALUE',
      `Unknown registry URI scheme '${m[1]}:' in '${uri}'. Known schemes: ${[...factories.keys()].map((s) => `${s}:`).join(', ')} (or a plain directory path).`,
    );
  }
  return factory(uri, options);
}
