/**
 * `modelgate build-image` (build, and optionally push, an image of one model version, or of
 * several, through the Docker Engine API) and `modelgate generate-dockerfile` (write the same
 * build context to a directory for any builder). The docker modules are imported when a command runs, so `serve`
 * (and the images themselves, which do not carry dockerode or tar-stream) never load them.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type Dockerode from 'dockerode';
import { SERVE_DEFAULTS, defaultRegistryUri, environment } from '../config/index.js';
import type { ImagePlatform } from '../docker/dockerfile.js';
import type { HostBasePlan, ImageModel, ImagePlan } from '../docker/index.js';
import type { AutoscaleMode, K8sOptions, PreStopMode } from '../docker/k8s.js';
import { openRegistry } from '../core/registration.js';
import { type CommandSpec, type ParsedCommand, commandError, missingFlag } from './spec.js';
import { BUILD_IMAGE, GENERATE_DOCKERFILE } from './specs.js';

/** Docker's reference grammar (distribution/reference), without digests. */
const IMAGE_NAME =
  /^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?$/;

/** The manifest settings from the flags; the image's name, port and model are added after planning. */
type K8sFlags = Omit<K8sOptions, 'name' | 'image' | 'port' | 'model' | 'models' | 'drainSeconds'>;

interface CommonArgs {
  modelUris: string[];
  name: string | undefined;
  baseImage: string | undefined;
  platform: ImagePlatform | undefined;
  env: Record<string, string>;
  k8sOut: string | undefined;
  k8s: K8sFlags;
  registry: string;
}

function envPairs(spec: CommandSpec, list: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const kv of list) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw commandError(spec, `-e/--env takes KEY=VALUE, got '${kv}'`);
    env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return env;
}

function commonArgs(spec: CommandSpec, values: ParsedCommand['values']): CommonArgs {
  const s = (k: string) => values[k] as string | undefined;
  const modelUris = (values.modelUri as string[] | undefined) ?? [];
  if (modelUris.length === 0) throw missingFlag(spec, 'modelUri');
  const name = s('name');
  if (name !== undefined && !IMAGE_NAME.test(name)) {
    throw commandError(
      spec,
      `-n/--name must be an image name such as iris-classifier:1 or registry.example.com/team/iris:1, got '${name}'`,
    );
  }
  const k8sOut = s('k8sOut');
  if (k8sOut !== undefined && name === undefined) throw commandError(spec, '--k8s-out needs -n/--name (the image the Deployment runs)');
  const k8s = k8sFlags(spec, values);
  if (k8sOut === undefined && Object.keys(k8s).length > 0) throw commandError(spec, 'the Kubernetes options need --k8s-out DIR');
  return {
    modelUris,
    name,
    baseImage: s('baseImage'),
    platform: s('platform') as ImagePlatform | undefined,
    env: envPairs(spec, (values.env as string[] | undefined) ?? []),
    k8sOut,
    k8s,
    registry: s('registryUri') ?? defaultRegistryUri(environment()),
  };
}

function k8sFlags(spec: CommandSpec, values: ParsedCommand['values']): K8sFlags {
  const v = <T>(k: string) => values[k] as T | undefined;
  const autoscale = v<AutoscaleMode>('autoscale');
  const target = v<number>('autoscaleTarget');
  const minReplicas = v<number>('minReplicas');
  const maxReplicas = v<number>('maxReplicas');
  const mode = autoscale ?? 'cpu';
  if (target !== undefined && !(target > 0)) throw commandError(spec, `--autoscale-target must be a number > 0, got '${target}'`);
  if (mode === 'cpu' && target !== undefined && !Number.isInteger(target))
    throw commandError(spec, `--autoscale-target with --autoscale cpu is a whole percentage, got '${target}'`);
  if (minReplicas === 0 && mode !== 'keda')
    throw commandError(spec, '--min-replicas 0 needs --autoscale keda (a HorizontalPodAutoscaler keeps at least one replica)');
  if (v('prometheusUrl') !== undefined && mode !== 'keda') throw commandError(spec, '--prometheus-url is for --autoscale keda');
  return {
    ...(autoscale === undefined ? {} : { autoscale: mode }),
    ...(target === undefined ? {} : mode === 'cpu' ? { targetCpuPercent: target } : { targetInFlight: target }),
    ...(minReplicas === undefined ? {} : { minReplicas }),
    ...(maxReplicas === undefined ? {} : { maxReplicas }),
    ...(v<string>('prometheusUrl') === undefined ? {} : { prometheusUrl: v<string>('prometheusUrl') }),
    ...(v<PreStopMode>('prestop') === undefined ? {} : { preStop: v<PreStopMode>('prestop') }),
    ...(v<string>('namespace') === undefined ? {} : { namespace: v<string>('namespace') }),
    ...(values.serviceMonitor === true ? { serviceMonitor: true } : {}),
  };
}

async function plan(a: CommonArgs, baseImage = a.baseImage): Promise<ImagePlan> {
  const { planImage } = await import('../docker/index.js');
  const p = await planImage({
    modelUri: a.modelUris,
    registry: openRegistry(a.registry),
    ...(baseImage === undefined ? {} : { baseImage }),
    ...(a.platform === undefined ? {} : { platform: a.platform }),
    env: a.env,
  });
  for (const w of p.warnings) process.stderr.write(`modelgate: warning: ${w}\n`);
  return p;
}

/** `models:/iris/3 (models:/iris@champion)`: the pinned versions, and what was asked where it differs. */
function describeModels(p: ImagePlan): string {
  return p.models.map((m) => `${m.uri}${m.uri === m.requestedUri ? '' : ` (${m.requestedUri})`}`).join(', ');
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

const k8sModel = (m: ImageModel) => ({ name: m.servedName, version: m.version, uri: m.uri, digest: m.digest });

async function writeK8s(dir: string, image: string, p: ImagePlan, k8s: K8sFlags): Promise<void> {
  const { k8sFiles, k8sName } = await import('../docker/index.js');
  const drain = p.env.MODELGATE_DRAIN_SECONDS;
  const files = k8sFiles({
    ...k8s,
    name: k8sName(image),
    image,
    port: p.port,
    model: k8sModel(p.model),
    ...(p.models.length > 1 ? { models: p.models.map(k8sModel) } : {}),
    drainSeconds: drain === undefined ? SERVE_DEFAULTS.drainSeconds : Number(drain),
  });
  await mkdir(dir, { recursive: true });
  for (const f of files) await writeFile(join(dir, f.path), f.content);
  process.stdout.write(`Kubernetes manifests: ${files.map((f) => join(dir, f.path)).join(', ')}\n`);
}

async function planHostBase(platform: ImagePlatform | undefined) {
  const { checkHostBasePlatform, planHostBase: planBase } = await import('../docker/index.js');
  checkHostBasePlatform(platform);
  return planBase();
}

/** Makes sure the daemon has the base before building, so that no builder ever pulls it. */
async function provideBase(client: Dockerode, p: ImagePlan, hostBase: HostBasePlan | undefined): Promise<void> {
  const docker = await import('../docker/index.js');
  if (hostBase !== undefined) {
    const b = await docker.loadHostBase(client, hostBase);
    const libs = hostBase.entries.filter((e) => 'source' in e).length - 1;
    process.stderr.write(
      `${b.created ? 'Loaded' : 'Reusing'} base image ${b.image} (${b.id.slice(7, 19)}): ${hostBase.node.path} ${hostBase.node.version} and ${libs} glibc libraries from this machine\n`,
    );
    return;
  }
  if (await docker.hasLocalImage(client, p.baseImage)) return;
  process.stderr.write(`Pulling base image ${p.baseImage} for ${p.platform} (the daemon does not have it)\n`);
  const auth = await docker.authFor(p.baseImage, await docker.readDockerConfig());
  await docker.pullBaseImage(client, p.baseImage, p.platform, auth, (t) => process.stderr.write(t));
}

export async function buildImageCommand({ values }: ParsedCommand): Promise<number> {
  const a = commonArgs(BUILD_IMAGE, values);
  if (a.name === undefined) throw missingFlag(BUILD_IMAGE, 'name');
  const image = a.name;
  const docker = await import('../docker/index.js');
  const { default: Dockerode } = await import('dockerode');
  const client = new Dockerode();
  await client.ping().catch((err: unknown) => {
    const where = environment().DOCKER_HOST ?? 'unix:///var/run/docker.sock';
    throw new Error(`Cannot reach a Docker daemon at ${where} (${(err as Error).message}); start one or set DOCKER_HOST`);
  });

  // The host's Node as the base: planned (files hashed) now, loaded once the model is known to resolve.
  const hostBase = a.baseImage === docker.HOST_BASE_KEYWORD ? await planHostBase(a.platform) : undefined;
  const p = await plan(a, hostBase?.tag);
  await provideBase(client, p, hostBase);
  process.stderr.write(
    `Building ${image} for ${p.platform} from ${describeModels(p)} on ${p.baseImage}: ${p.entries.length} files, ${mb(p.contextBytes)}\n`,
  );
  await docker.buildImage(client, docker.createBuildContext(p.entries), {
    tag: image,
    platform: p.platform,
    noCache: values.noCache === true,
    onProgress: (t) => process.stderr.write(t),
  });
  const report = await docker.describeImage(client, image, p.baseImage);
  const mismatch = docker.platformMismatch(report, p.platform, p.baseImage);
  if (mismatch !== undefined) {
    await client
      .getImage(image)
      .remove()
      .catch(() => undefined);
    throw new Error(`Removed ${image}: ${mismatch}`);
  }
  process.stdout.write(docker.formatImageReport(image, p.baseImage, report));

  if (values.push === true) {
    const auth = await docker.authFor(image, await docker.readDockerConfig());
    process.stderr.write(
      `Pushing ${image} to ${docker.registryHost(image)}${auth.username || auth.identitytoken ? ' with credentials from the Docker config' : ''}\n`,
    );
    const { digest } = await docker.pushImage(client, image, auth, (t) => process.stderr.write(t));
    process.stdout.write(`Pushed ${image}${digest === undefined ? '' : ` (${digest})`}\n`);
  }
  if (a.k8sOut !== undefined) await writeK8s(a.k8sOut, image, p, a.k8s);
  return 0;
}

export async function generateDockerfileCommand({ values }: ParsedCommand): Promise<number> {
  const a = commonArgs(GENERATE_DOCKERFILE, values);
  const { HOST_BASE_KEYWORD } = await import('../docker/index.js');
  if (a.baseImage === HOST_BASE_KEYWORD) {
    throw commandError(
      GENERATE_DOCKERFILE,
      `--base-image ${HOST_BASE_KEYWORD} loads a base into a Docker daemon, which generate-dockerfile does not use: run build-image, or name a base image your builder has (one build-image loaded is listed by docker images as modelgate/host-node)`,
    );
  }
  const dir = values.directory as string | undefined;
  if (dir === undefined) throw missingFlag(GENERATE_DOCKERFILE, 'directory');
  const p = await plan(a);
  const { writeBuildContext } = await import('../docker/index.js');
  await writeBuildContext(p.entries, dir);
  process.stdout.write(
    `Wrote the Dockerfile and build context of ${p.models.map((m) => m.uri).join(', ')} (${p.platform}, ${p.entries.length} files, ${mb(p.contextBytes)}) to ${resolve(dir)}\n` +
      `Build it with: docker build --platform ${p.platform} -t ${a.name ?? 'NAME:TAG'} ${dir}\n`,
  );
  if (a.k8sOut !== undefined && a.name !== undefined) await writeK8s(a.k8sOut, a.name, p, a.k8s);
  return 0;
}
