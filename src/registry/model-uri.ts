/**
 * `models:/` URIs (and `runs:/`), parsed without I/O into a tagged value (MLflow's
 * `_parse_model_uri` rules), and what `-m` may be: one of those, a directory or a `file://` URI.
 */
import { fileURLToPath } from 'node:url';
import { GatewayError } from '../errors.js';

export type ModelUri =
  | { readonly kind: 'version'; readonly name: string; readonly version: string }
  | { readonly kind: 'alias'; readonly name: string; readonly alias: string }
  | { readonly kind: 'latest'; readonly name: string }
  | { readonly kind: 'stage'; readonly name: string; readonly stage: string }
  | { readonly kind: 'logged-model'; readonly modelId: string }
  /** `runs:/<run_id>/<path>`: a model logged in an MLflow run, not registered. */
  | { readonly kind: 'run'; readonly runId: string; readonly path: string };

export const ACCEPTED_FORMS = [
  'models:/<name>/<version> (models:/iris/3)',
  'models:/<name>@<alias> (models:/iris@champion)',
  'models:/<name>/latest (the highest version)',
  'models:/<name>/<stage> (models:/iris/Production, MLflow registries)',
  'models:/m-<id> (an MLflow 3 logged model)',
  'runs:/<run_id>/<path> (a model logged in an MLflow run)',
];

export class InvalidModelUriError extends GatewayError {
  constructor(uri: string, why: string) {
    super('INVALID_PARAMETER_VALUE', `Not a proper models:/ URI: '${uri}' (${why}). Accepted forms: ${ACCEPTED_FORMS.join(', ')}.`);
  }
}

/** Whether `s` names something in a registry (`models:`, `runs:`) rather than a directory. */
export function isModelUri(s: string): boolean {
  return s.startsWith('models:') || s.startsWith('runs:');
}

function parseRunUri(uri: string): ModelUri {
  const m = /^runs:\/([0-9a-zA-Z]+)\/(.+)$/.exec(uri);
  if (m === null || m[2].split('/').some((p) => p === '' || p === '.' || p === '..')) {
    throw new InvalidModelUriError(uri, 'a run URI is runs:/<run_id>/<artifact path>, e.g. runs:/0a1b2c/model');
  }
  return { kind: 'run', runId: m[1], path: m[2] };
}

export function parseModelUri(uri: string): ModelUri {
  if (uri.startsWith('runs:')) return parseRunUri(uri);
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
    case 'run':
      return `runs:/${u.runId}/${u.path}`;
  }
}

/** Where a model given with `-m` is: in a registry, or in a local directory. */
export type ModelLocation = { readonly kind: 'registry'; readonly uri: string } | { readonly kind: 'directory'; readonly path: string };

/**
 * `-m` as `mlflow models serve -m` takes it: a registry URI, a path, or a `file://` URI. Other
 * schemes (s3://, gs://, hdfs:, dbfs:, http(s)://) would be read as relative paths otherwise;
 * they are refused, naming the scheme.
 */
export function modelLocation(s: string): ModelLocation {
  if (isModelUri(s)) return { kind: 'registry', uri: s };
  if (s.startsWith('file:')) {
    try {
      return { kind: 'directory', path: s.startsWith('file://') ? fileURLToPath(s) : s.slice('file:'.length) };
    } catch (err) {
      throw new GatewayError('INVALID_PARAMETER_VALUE', `'${s}' is not a usable file URI (${(err as Error).message}).`);
    }
  }
  const scheme = /^([a-z][a-z0-9+.-]+):/i.exec(s);
  // One letter is a Windows drive (C:\…), not a scheme.
  if (scheme !== null) {
    throw new GatewayError(
      'INVALID_PARAMETER_VALUE',
      `Model URIs with the scheme '${scheme[1]}:' are not supported ('${s}'): modelgate reads models from a registry ` +
        '(models:/…, or runs:/… on an MLflow tracking server) or from a local directory. Copy the model to a directory ' +
        '(for example with your cloud CLI) or register it, then pass that.',
    );
  }
  return { kind: 'directory', path: s };
}
