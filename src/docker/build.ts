/**
 * The only code that talks to a Docker daemon: build from a context stream, push, and describe
 * the result (size, base size, layers). Failures the daemon reports inside its progress stream
 * (the HTTP call itself succeeds) become errors carrying the daemon's message.
 */
import type { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import type { AuthConfig } from './auth.js';
import { splitImageReference } from './auth.js';
import type { ImagePlatform } from './dockerfile.js';
import { GatewayError } from '../errors.js';

/** One JSON message of a build, pull or push stream. */
export interface ProgressEvent {
  stream?: string;
  status?: string;
  id?: string;
  progress?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string; Digest?: string; Tag?: string };
}

export class DockerDaemonError extends GatewayError {
  constructor(
    readonly operation: 'build' | 'push' | 'pull',
    readonly daemonMessage: string,
  ) {
    super('INTERNAL_ERROR', `docker ${operation} failed: ${daemonMessage.trim()}`);
  }
}

/** Text for the terminal, or undefined for events not worth a line (progress bar ticks). */
export function formatProgress(e: ProgressEvent, last: Map<string, string> = new Map()): string | undefined {
  if (e.stream !== undefined) return e.stream;
  // An error ends the stream and becomes the command's own error message; printing it here would say it twice.
  if (e.error !== undefined) return undefined;
  if (e.status !== undefined) {
    // Pushes repeat "Pushing" with a new progress bar per chunk: one line per layer and state.
    const key = e.id ?? '';
    if (last.get(key) === e.status) return undefined;
    last.set(key, e.status);
    return `${e.id ? `${e.id}: ` : ''}${e.status}\n`;
  }
  return undefined;
}

/** Follows a daemon stream to its end; the first `error` event becomes the rejection. */
function follow(
  docker: Dockerode,
  stream: NodeJS.ReadableStream,
  op: 'build' | 'push' | 'pull',
  onProgress?: (text: string) => void,
): Promise<ProgressEvent[]> {
  const seen = new Map<string, string>();
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, output: ProgressEvent[]) => {
        if (err) return reject(err);
        const failed = output.find((e) => e.error !== undefined);
        if (failed) return reject(new DockerDaemonError(op, failed.errorDetail?.message ?? failed.error ?? 'unknown error'));
        resolve(output);
      },
      (e: ProgressEvent) => {
        const text = formatProgress(e, seen);
        if (text !== undefined) onProgress?.(text);
      },
    );
  });
}

export interface BuildOptions {
  /** `name:tag` (with a registry host for pushing). */
  tag: string;
  platform: ImagePlatform;
  /** Do not reuse cached layers. @default false */
  noCache?: boolean;
  /** Progress text as the daemon sends it (build steps, pull/push states). */
  onProgress?: (text: string) => void;
}

/** Whether the daemon has `image` among its local images (a name, name:tag, or an ID). */
export async function hasLocalImage(docker: Dockerode, image: string): Promise<boolean> {
  return docker
    .getImage(image)
    .inspect()
    .then(
      () => true,
      (err: unknown) => {
        if ((err as { statusCode?: number }).statusCode === 404) return false;
        throw err;
      },
    );
}

/** The base image could not be pulled; the message says what to do offline. */
export class BaseImageUnavailableError extends Error {
  constructor(
    readonly image: string,
    readonly daemonMessage: string,
  ) {
    super(
      `cannot pull the base image ${image}: it is not among the Docker daemon's local images and pulling it failed ` +
        `(${oneLine(daemonMessage)}). To build offline, use an image the daemon already has (--base-image NAME, as \`docker images\` lists them) ` +
        `or one made from this machine's Node (--base-image host).`,
    );
    this.name = 'BaseImageUnavailableError';
  }
}

const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

/**
 * Pulls a base image the daemon does not have, for the target platform, with the credentials
 * given. Done before the build so that a failure is known to be the base's, whatever the builder.
 */
export async function pullBaseImage(
  docker: Dockerode,
  image: string,
  platform: ImagePlatform,
  auth: AuthConfig,
  onProgress?: (text: string) => void,
): Promise<void> {
  try {
    const stream = (await docker.createImage(auth, { fromImage: image, platform })) as NodeJS.ReadableStream;
    await follow(docker, stream, 'pull', onProgress);
  } catch (err) {
    const message = err instanceof DockerDaemonError ? err.daemonMessage : daemonText(err);
    throw new BaseImageUnavailableError(image, message);
  }
}

/**
 * The daemon's own words from a failed API call: dockerode puts them in `json.message`, or for
 * streaming calls after its own "(HTTP code 500) server error - " prefix.
 */
export function daemonText(err: unknown): string {
  const json = (err as { json?: { message?: string } | null }).json;
  if (typeof json === 'object' && json !== null && typeof json.message === 'string') return json.message;
  return String((err as Error).message).replace(/^\(HTTP code \d+\)[^-]*- /, '');
}

/** Builds `context` (a tar stream from createBuildContext); returns the image id. */
export async function buildImage(docker: Dockerode, context: Readable, options: BuildOptions): Promise<{ id: string }> {
  const stream = await docker.buildImage(context, {
    t: options.tag,
    platform: options.platform,
    // Never pull: the base is either local already or pulled by pullBaseImage first. With `pull`
    // set the classic builder contacts the registry even for a local base, which fails offline.
    pull: false,
    nocache: options.noCache === true,
    rm: true,
    forcerm: true,
    // No step needs a network; this also keeps the daemon from setting one up per step.
    networkmode: 'none',
  });
  const events = await follow(docker, stream, 'build', options.onProgress);
  const id = events.map((e) => e.aux?.ID).find((x) => x !== undefined) ?? (await docker.getImage(options.tag).inspect()).Id;
  return { id };
}

export async function pushImage(
  docker: Dockerode,
  image: string,
  auth: AuthConfig,
  onProgress?: (text: string) => void,
): Promise<{ digest?: string }> {
  const { repository, tag } = splitImageReference(image);
  const stream = (await docker.getImage(repository).push({ tag, authconfig: auth })) as NodeJS.ReadableStream;
  const events = await follow(docker, stream, 'push', onProgress);
  const digest = events.map((e) => e.aux?.Digest).find((x) => x !== undefined);
  return digest === undefined ? {} : { digest };
}

export interface LayerReport {
  size: number;
  createdBy: string;
}

export interface ImageReport {
  id: string;
  size: number;
  architecture: string;
  os: string;
  user: string;
  labels: Record<string, string>;
  /** Undefined when the base image is not in the daemon (e.g. built by another builder). */
  baseSize?: number;
  /** The layers this build added on top of the base, oldest first (metadata steps have size 0). */
  layers: LayerReport[];
}

/** Size, base size and the layers added above the base, as `docker history` shows them. */
export async function describeImage(docker: Dockerode, image: string, baseImage: string): Promise<ImageReport> {
  const img = docker.getImage(image);
  const info = await img.inspect();
  const history = (await img.history()) as { CreatedBy: string; Size: number }[];
  const base = await docker
    .getImage(baseImage)
    .inspect()
    .catch(() => undefined);
  const baseLayers = base ? ((await docker.getImage(baseImage).history()) as unknown[]).length : 0;
  return {
    id: info.Id,
    size: info.Size,
    architecture: info.Architecture,
    os: info.Os,
    user: info.Config.User,
    labels: info.Config.Labels ?? {},
    ...(base ? { baseSize: base.Size } : {}),
    layers: history
      .slice(0, history.length - baseLayers)
      .reverse()
      .map((h) => ({ size: h.Size, createdBy: h.CreatedBy.replace(/^\/bin\/sh -c #\(nop\)\s*/, '').trim() })),
  };
}

/**
 * The classic builder takes a local base image of another CPU despite `FROM --platform` and
 * labels the result with the base's platform, so a mismatch only shows afterwards.
 */
export function platformMismatch(report: ImageReport, platform: ImagePlatform, baseImage: string): string | undefined {
  const built = `${report.os}/${report.architecture}`;
  if (built === platform) return undefined;
  return `the base image ${baseImage} is ${built}, not ${platform}, so the image would carry ${platform} native libraries on a ${built} Node; use a ${platform} base image`;
}

const MB = 1e6;
const mb = (n: number) => `${(n / MB).toFixed(1).padStart(7)} MB`;

/** What the Dockerfile's COPY steps carry, in order (the daemon only shows `COPY dir:<hash>`). */
export const COPY_LAYERS = ['dependencies (deps/ → node_modules)', 'server (app/ → modelgate.mjs)', 'model (model/ → registry)'];

/** The size table `build-image` prints. Megabytes are 10^6 bytes, as `docker images` counts them. */
export function formatImageReport(image: string, baseImage: string, r: ImageReport, copyNames: readonly string[] = COPY_LAYERS): string {
  const lines = [`${image}  ${r.id}  ${r.os}/${r.architecture}  user ${r.user || 'root'}`, `  image ${mb(r.size)}`];
  if (r.baseSize !== undefined) {
    lines.push(`  base  ${mb(r.baseSize)}  ${baseImage}`, `  added ${mb(r.size - r.baseSize)}  by these layers:`);
  } else {
    lines.push(`  (base image ${baseImage} is not in the daemon: its size is unknown)`);
  }
  let copies = 0;
  for (const l of r.layers) {
    if (!l.createdBy.startsWith('COPY ') && l.size === 0) continue;
    const what = l.createdBy.startsWith('COPY ') && copies < copyNames.length ? `COPY ${copyNames[copies++]}` : l.createdBy;
    lines.push(`    ${mb(l.size)}  ${what.length > 90 ? `${what.slice(0, 87)}...` : what}`);
  }
  return `${lines.join('\n')}\n`;
}
