/**
 * `models:/` URIs, parsed without I/O into a tagged value (MLflow's `_parse_model_uri` rules).
 */
import { GatewayError } from '../errors.js';

export type ModelUri =
  | { readonly kind: 'version'; readonly name: string; readonly version: string }
  | { readonly kind: 'alias'; readonly name: string; readonly alias: string }
  | { readonly kind: 'latest'; readonly name: string }
  | { readonly kind: 'stage'; readonly name: string; readonly stage: string }
  | { readonly kind: 'logged-model'; readonly modelId: string };

export const ACCEPTED_FORMS = [
  'models:/<name>/<version>   e.g. models:/iris/3',
  'models:/<name>@<alias>     e.g. models:/iris@champion',
  'models:/<name>/latest      the highest version',
  'models:/<name>/<stage>     e.g. models:/iris/Production (MLflow registries)',
  'models:/m-<id>             an MLflow 3 logged model',
];

export class InvalidModelUriError extends GatewayError {
  constructor(uri: string, why: string) {
    super('INVALID_PARAMETER_VALUE', `Not a proper models:/ URI: '${uri}' (${why}). Accepted forms:\n  ${ACCEPTED_FORMS.join('\n  ')}`);
  }
}

export function isModelUri(s: string): boolean {
  return s.startsWith('models:');
}

export function parseModelUri(uri: string): ModelUri {
  if (!uri.startsWith('models:/')) throw new InvalidModelUriError(uri, "it must start with 'models:/'");
  if (uri.startsWith('models://')) {
    throw new InvalidModelUriError(uri, 'a registry host in the URI is not supported; pass the registry with --registry instead');
  }
  const path = uri.slice('models:/'.length);
  if (path.includes('?') || path.includes('#')) throw new InvalidModelUriError(uri, 'query strings and fragments are not allowed');
  const parts = path.split('/');
  if (parts.length > 2) {
    throw new InvalidModelUriError(uri, 'artifact sub-paths after the version are not supported');
  }
  const first = parts[0];
  if (first.trim() === '') throw new InvalidModelUriError(uri, 'the model name is empty');
  if (parts.length === 2) {
    const suffix = parts[1];
    if (suffix.trim() === '') throw new InvalidModelUriError(uri, 'the version is empty');
    if (first.includes('@')) throw new InvalidModelUriError(uri, 'only one of a version or an alias can be given');
    if (/^\d+$/.test(suffix)) return { kind: 'version', name: first, version: String(Number(suffix)) };
    if (suffix.toLowerCase() === 'latest') return { kind: 'latest', name: first };
    return { kind: 'stage', name: first, stage: suffix };
  }
  const at = first.lastIndexOf('@');
  if (at !== -1) {
    const name = first.slice(0, at);
    const alias = first.slice(at + 1);
    if (name.trim() === '') throw new InvalidModelUriError(uri, 'the model name is empty');
    if (alias.trim() === '') throw new InvalidModelUriError(uri, 'the alias is empty');
    return { kind: 'alias', name, alias };
  }
  if (/^m-[0-9a-f]{8,}$/i.test(first)) return { kind: 'logged-model', modelId: first };
  throw new InvalidModelUriError(uri, `no version or alias; did you mean models:/${first}/latest?`);
}

export function formatModelUri(u: ModelUri): string {
  switch (u.kind) {
    case 'version':
      return `models:/${u.name}/${u.version}`;
    case 'alias':
      return `models:/${u.name}@${u.alias}`;
    case 'latest':
      return `models:/${u.name}/latest`;
    case 'stage':
      return `models:/${u.name}/${u.stage}`;
    case 'logged-model':
      return `models:/${u.modelId}`;
  }
}
