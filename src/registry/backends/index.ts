/**
 * Registry URI scheme → backend factory. A lookup that misses lists the schemes we know.
 */
import { fileURLToPath } from 'node:url';
import { GatewayError } from '../../errors.js';
import type { RegistryBackend } from '../backend.js';
import { localRegistry } from './local/index.js';
import { mlflowRegistryFromEnv } from './mlflow/index.js';

export type BackendFactory = (uri: string) => RegistryBackend;

function fileFactory(uri: string): RegistryBackend {
  // file:./registry and file:registry are relative; file:///abs and file:/abs are absolute.
  const path = uri.startsWith('file://') ? fileURLToPath(uri) : uri.slice('file:'.length);
  if (path === '') throw new GatewayError('INVALID_PARAMETER_VALUE', `Registry URI '${uri}' has no path`);
  return localRegistry(uri, path);
}

const factories = new Map<string, BackendFactory>([
  ['file', fileFactory],
  // An http(s) registry is an MLflow tracking server.
  ['http', (uri) => mlflowRegistryFromEnv(uri)],
  ['https', (uri) => mlflowRegistryFromEnv(uri)],
]);

export function registerBackend(scheme: string, factory: BackendFactory): void {
  factories.set(scheme, factory);
}

export function openBackend(uri: string): RegistryBackend {
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
  return factory(uri);
}
