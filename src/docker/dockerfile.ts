/**
 * The image's Dockerfile: the top-level Dockerfile.template with the model's values filled in.
 * `generateDockerfile` is pure (text in, text out); reading the template is separate.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GatewayError } from '../errors.js';
import { MODELGATE_VERSION } from '../version.js';
import { packageRoot } from '../util/package-root.js';

export const IMAGE_PLATFORMS = ['linux/amd64', 'linux/arm64'] as const;
export type ImagePlatform = (typeof IMAGE_PLATFORMS)[number];

/** Where the server, its dependencies and the model registry live inside the image. */
export const APP_DIR = '/opt/modelgate';
export const IMAGE_REGISTRY_DIR = `${APP_DIR}/registry`;
/** Non-root and numeric (Kubernetes can only check runAsNonRoot against a numeric user). */
export const IMAGE_USER = 10001;
export const DEFAULT_IMAGE_PORT = 8080;
/** Node's official slim image; any glibc image with node >= 20.19 on PATH works (`--base-image`). */
export const DEFAULT_BASE_IMAGE = 'node:20-bookworm-slim';

/** Variables the image sets itself; a caller cannot override them without breaking the baked model. */
const RESERVED_ENV = new Set(['MODELGATE_MODEL_URI', 'MODELGATE_MODELS', 'MODELGATE_REGISTRY_URI']);
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LABEL_KEY = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;

export interface DockerfileOptions {
  /** The text of Dockerfile.template (see `readDockerfileTemplate`). */
  template: string;
  baseImage: string;
  platform: ImagePlatform;
  /** The URI the user asked for, e.g. `models:/iris@champion` (a comment only). */
  modelUri: string;
  /** The version it resolved to, e.g. `models:/iris/3`: what the image serves. */
  modelRef: string;
  /** Several (or renamed) models, each by the name it is served under (modelRef is then only a comment). */
  models?: readonly BakedModel[];
  /** Extra environment; wins over the image defaults except the model and registry URIs. */
  env?: Readonly<Record<string, string>>;
  labels?: Readonly<Record<string, string>>;
}

export async function readDockerfileTemplate(root?: string): Promise<string> {
  return readFile(join(root ?? (await packageRoot()), 'Dockerfile.template'), 'utf8');
}

export function isImagePlatform(s: string): s is ImagePlatform {
  return (IMAGE_PLATFORMS as readonly string[]).includes(s);
}

/** The platform of this machine, the default target. */
export function hostPlatform(): ImagePlatform {
  return process.arch === 'arm64' ? 'linux/arm64' : 'linux/amd64';
}

/** A model of a several-model image: its served name and the pinned version. */
export interface BakedModel {
  readonly name: string;
  readonly uri: string;
}

/**
 * The environment the image starts with: bind every interface, the baked registry and version(s),
 * then the caller's variables. One model keeps MODELGATE_MODEL_URI; a named list goes in MODELGATE_MODELS,
 * because the environment holds one value per variable and a list of models is JSON there.
 */
export function imageEnv(
  modelRef: string,
  extra: Readonly<Record<string, string>> = {},
  models: readonly BakedModel[] = [],
): Record<string, string> {
  for (const [k, v] of Object.entries(extra)) {
    if (!ENV_NAME.test(k)) throw new GatewayError('INVALID_PARAMETER_VALUE', `Invalid environment variable name '${k}'`);
    if (RESERVED_ENV.has(k)) {
      throw new GatewayError('INVALID_PARAMETER_VALUE', `${k} is set by the image to the model baked into it and cannot be overridden`);
    }
    checkValue(`environment variable ${k}`, v);
  }
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    MODELGATE_HOST: '0.0.0.0',
    MODELGATE_PORT: String(DEFAULT_IMAGE_PORT),
    // onnxruntime-node 1.30 otherwise starts a telemetry uploader (and warns that it cannot write its device id).
    ORT_DISABLE_TELEMETRY: '1',
    ...extra,
    MODELGATE_REGISTRY_URI: `file:${IMAGE_REGISTRY_DIR}`,
    ...(models.length > 0
      ? { MODELGATE_MODELS: JSON.stringify(models.map((m) => ({ name: m.name, primary: m.uri }))) }
      : { MODELGATE_MODEL_URI: modelRef }),
  };
  imagePort(env);
  return env;
}

/** The port the server listens on in the image (MODELGATE_PORT). */
export function imagePort(env: Readonly<Record<string, string>>): number {
  const raw = env.MODELGATE_PORT ?? String(DEFAULT_IMAGE_PORT);
  const port = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(port >= 1 && port <= 65535))
    throw new GatewayError('INVALID_PARAMETER_VALUE', `MODELGATE_PORT must be a port number, got '${raw}'`);
  return port;
}

function checkValue(what: string, v: string): void {
  // A newline would end the Dockerfile instruction; the rest is escaped by quote().
  if (/[\u0000-\u001f\u007f]/.test(v))
    throw new GatewayError('INVALID_PARAMETER_VALUE', `The value of ${what} contains a control character`);
}

/**
 * A Dockerfile double-quoted word. Inside quotes the parser treats `\` as an escape and expands
 * `$NAME` (in ENV and LABEL), so both are escaped; the value reaches the image unchanged.
 */
export function quote(value: string): string {
  return `"${value.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
}

function pairs(entries: [string, string][]): string {
  return entries.map(([k, v]) => `${k}=${quote(v)}`).join(' \\\n    ');
}

/** The HEALTHCHECK command: GET /ready on the port and host the server uses, exit 0 on 200. */
export function healthcheckCommand(port: number): string[] {
  const script =
    "const h=process.env.MODELGATE_HOST||'';" +
    "const host=(h===''||h==='0.0.0.0'||h==='::')?'127.0.0.1':h.includes(':')?'['+h+']':h;" +
    `fetch('http://'+host+':'+(process.env.MODELGATE_PORT||${port})+'/ready')` +
    '.then(r=>process.exit(r.ok?0:1),()=>process.exit(1))';
  return ['node', '-e', script];
}

/** Replaces every `{{NAME}}`; a placeholder without a value, or a value without a placeholder, is a bug. */
export function renderTemplate(template: string, values: Readonly<Record<string, string>>): string {
  const used = new Set<string>();
  const out = template.replace(/\{\{([A-Z_]+)\}\}/g, (_, name: string) => {
    const v = values[name];
    if (v === undefined) throw new Error(`Dockerfile.template uses {{${name}}}, which has no value`);
    used.add(name);
    return v;
  });
  const unused = Object.keys(values).filter((k) => !used.has(k));
  if (unused.length > 0) throw new Error(`Dockerfile.template does not use ${unused.map((k) => `{{${k}}}`).join(', ')}`);
  return out;
}

export function generateDockerfile(opts: DockerfileOptions): string {
  if (!isImagePlatform(opts.platform)) {
    throw new GatewayError(
      'INVALID_PARAMETER_VALUE',
      `Unsupported platform '${String(opts.platform)}'; use ${IMAGE_PLATFORMS.join(' or ')}`,
    );
  }
  if (!/^[^\s"$\\]+$/.test(opts.baseImage)) throw new GatewayError('INVALID_PARAMETER_VALUE', `Invalid base image '${opts.baseImage}'`);
  const env = imageEnv(opts.modelRef, opts.env, opts.models);
  const port = imagePort(env);
  const labels = Object.entries(opts.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [k, v] of labels) {
    if (!LABEL_KEY.test(k)) throw new GatewayError('INVALID_PARAMETER_VALUE', `Invalid label key '${k}'`);
    checkValue(`label ${k}`, v);
  }
  if (labels.length === 0) labels.push(['io.modelgate.version', MODELGATE_VERSION]);
  const comment = (s: string) => s.replace(/[\r\n]/g, ' ');
  return renderTemplate(opts.template, {
    MODELGATE_VERSION,
    MODEL_REF: comment(opts.modelRef),
    MODEL_URI: comment(opts.modelUri),
    PLATFORM: opts.platform,
    BASE_IMAGE: opts.baseImage,
    APP_DIR,
    ENV: pairs(Object.entries(env)),
    USER: `${IMAGE_USER}:${IMAGE_USER}`,
    PORT: String(port),
    HEALTHCHECK: JSON.stringify(healthcheckCommand(port)),
    LABELS: pairs(labels),
  });
}
