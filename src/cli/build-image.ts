/**
 * `modelgate build-image` (build, and optionally push, an image of one model version through the
 * Docker Engine API) and `modelgate generate-dockerfile` (write the same build context to a
 * directory for any builder). The docker modules are imported when a command runs, so `serve`
 * (and the images themselves, which do not carry dockerode or tar-stream) never load them.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SERVE_DEFAULTS } from '../config.js';
import { IMAGE_PLATFORMS, type ImagePlatform } from '../docker/dockerfile.js';
import type Dockerode from 'dockerode';
import type { HostBasePlan, ImagePlan } from '../docker/index.js';
import { AUTOSCALE_MODES, type AutoscaleMode, type K8sOptions, PRESTOP_MODES, type PreStopMode } from '../docker/k8s.js';
import { openRegistry } from '../registry/registry.js';
import { UsageError, intFlag, parse, registryOption, registryUri } from './args.js';

/** Docker's reference grammar (distribution/reference), without digests. */
const IMAGE_NAME =
  /^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?$/;

const commonFlags = {
  'model-uri': { type: 'string', short: 'm' },
  name: { type: 'string', short: 'n' },
  'base-image': { type: 'string' },
  platform: { type: 'string' },
  env: { type: 'string', short: 'e', multiple: true },
  'k8s-out': { type: 'string' },
  autoscale: { type: 'string' },
  'autoscale-target': { type: 'string' },
  'min-replicas': { type: 'string' },
  'max-replicas': { type: 'string' },
  'prometheus-url': { type: 'string' },
  prestop: { type: 'string' },
  namespace: { type: 'string' },
  'service-monitor': { type: 'boolean' },
  ...registryOption,
} as const;

/** The manifest settings from the flags; the image's name, port and model are added after planning. */
type K8sFlags = Omit<K8sOptions, 'name' | 'image' | 'port' | 'model' | 'drainSeconds'>;

interface CommonArgs {
  modelUri: string;
  name: string | undefined;
  baseImage: string | undefined;
  platform: ImagePlatform | undefined;
  env: Record<string, string>;
  k8sOut: string | undefined;
  k8s: K8sFlags;
  registry: string;
}

function envPairs(list: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const kv of list) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`-e/--env takes KEY=VALUE, got '${kv}'`);
    env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return env;
}

function commonArgs(command: string, values: Record<string, unknown>): CommonArgs {
  const s = (k: string) => values[k] as string | undefined;
  const modelUri = s('model-uri');
  if (modelUri === undefined) throw new UsageError(`${command} needs -m/--model-uri`);
  const name = s('name');
  if (name !== undefined && !IMAGE_NAME.test(name)) {
    throw new UsageError(`-n/--name must be an image name such as iris-classifier:1 or registry.example.com/team/iris:1, got '${name}'`);
  }
  const platform = s('platform');
  if (platform !== undefined && !(IMAGE_PLATFORMS as readonly string[]).includes(platform)) {
    throw new UsageError(`--platform must be ${IMAGE_PLATFORMS.join(' or ')}, got '${platform}'`);
  }
  const k8sOut = s('k8s-out');
  if (k8sOut !== undefined && name === undefined) throw new UsageError('--k8s-out needs -n/--name (the image the Deployment runs)');
  const k8s = k8sFlags(values);
  if (k8sOut === undefined && Object.keys(k8s).length > 0) throw new UsageError('the Kubernetes options need --k8s-out DIR');
  return {
    modelUri,
    name,
    baseImage: s('base-image'),
    platform: platform as ImagePlatform | undefined,
    env: envPairs((values.env as string[] | undefined) ?? []),
    k8sOut,
    k8s,
    registry: registryUri(s('registry')),
  };
}

function positiveNumber(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !(Number.isFinite(n) && n > 0)) throw new UsageError(`--${flag} must be a number > 0, got '${v}'`);
  return n;
}

function k8sFlags(values: Record<string, unknown>): K8sFlags {
  const s = (k: string) => values[k] as string | undefined;
  const autoscale = s('autoscale');
  if (autoscale !== undefined && !(AUTOSCALE_MODES as readonly string[]).includes(autoscale))
    throw new UsageError(`--autoscale must be ${AUTOSCALE_MODES.join(', ')}, got '${autoscale}'`);
  const prestop = s('prestop');
  if (prestop !== undefined && !(PRESTOP_MODES as readonly string[]).includes(prestop))
    throw new UsageError(`--prestop must be ${PRESTOP_MODES.join(' or ')}, got '${prestop}'`);
  const target = positiveNumber('autoscale-target', s('autoscale-target'));
  const minReplicas = intFlag('min-replicas', s('min-replicas'));
  const maxReplicas = intFlag('max-replicas', s('max-replicas'));
  const mode = (autoscale ?? 'cpu') as AutoscaleMode;
  if (mode === 'cpu' && target !== undefined && !Number.isInteger(target))
    throw new UsageError(`--autoscale-target with --autoscale cpu is a whole percentage, got '${target}'`);
  if (minReplicas === 0 && mode !== 'keda')
    throw new UsageError('--min-replicas 0 needs --autoscale keda (a HorizontalPodAutoscaler keeps at least one replica)');
  if (s('prometheus-url') !== undefined && mode !== 'keda') throw new UsageError('--prometheus-url is for --autoscale keda');
  const flags: K8sFlags = {
    ...(autoscale === undefined ? {} : { autoscale: mode }),
    ...(target === undefined ? {} : mode === 'cpu' ? { targetCpuPercent: target } : { targetInFlight: target }),
    ...(minReplicas === undefined ? {} : { minReplicas }),
    ...(maxReplicas === undefined ? {} : { maxReplicas }),
    ...(s('prometheus-url') === undefined ? {} : { prometheusUrl: s('prometheus-url') }),
    ...(prestop === undefined ? {} : { preStop: prestop as PreStopMode }),
    ...(s('namespace') === undefined ? {} : { namespace: s('namespace') }),
    ...(values['service-monitor'] === true ? { serviceMonitor: true } : {}),
  };
  return flags;
}

async function plan(a: CommonArgs, baseImage = a.baseImage): Promise<ImagePlan> {
  const { planImage } = await import('../docker/index.js');
  const p = await planImage({
    modelUri: a.modelUri,
    registry: openRegistry(a.registry),
    ...(baseImage === undefined ? {} : { baseImage }),
    ...(a.platform === undefined ? {} : { platform: a.platform }),
    env: a.env,
  });
  for (const w of p.warnings) process.stderr.write(`modelgate: warning: ${w}\n`);
  return p;
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

async function writeK8s(dir: string, image: string, p: ImagePlan, k8s: K8sFlags): Promise<void> {
  const { k8sFiles, k8sName } = await import('../docker/index.js');
  const drain = p.env.MODELGATE_DRAIN_SECONDS;
  const files = k8sFiles({
    ...k8s,
    name: k8sName(image),
    image,
    port: p.port,
    model: { name: p.model.name, version: p.model.version, uri: p.model.uri, digest: p.model.digest },
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

export async function buildImageCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { ...commonFlags, push: { type: 'boolean' }, 'no-cache': { type: 'boolean' } }, false);
  const a = commonArgs('build-image', values);
  if (a.name === undefined) throw new UsageError('build-image needs -n/--name NAME[:TAG]');
  const image = a.name;
  const docker = await import('../docker/index.js');
  const { default: Dockerode } = await import('dockerode');
  const client = new Dockerode();
  await client.ping().catch((err: unknown) => {
    const where = process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
    throw new Error(`Cannot reach a Docker daemon at ${where} (${(err as Error).message}); start one or set DOCKER_HOST`);
  });

  // The host's Node as the base: planned (files hashed) now, loaded once the model is known to resolve.
  const hostBase = a.baseImage === docker.HOST_BASE_KEYWORD ? await planHostBase(a.platform) : undefined;
  const p = await plan(a, hostBase?.tag);
  await provideBase(client, p, hostBase);
  process.stderr.write(
    `Building ${image} for ${p.platform} from ${p.model.uri}` +
      `${p.model.uri === a.modelUri ? '' : ` (${a.modelUri})`} on ${p.baseImage}: ${p.entries.length} files, ${mb(p.contextBytes)}\n`,
  );
  await docker.buildImage(client, docker.createBuildContext(p.entries), {
    tag: image,
    platform: p.platform,
    noCache: values['no-cache'] === true,
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

export async function generateDockerfileCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { ...commonFlags, directory: { type: 'string', short: 'd' } }, false);
  const a = commonArgs('generate-dockerfile', values);
  const { HOST_BASE_KEYWORD } = await import('../docker/index.js');
  if (a.baseImage === HOST_BASE_KEYWORD) {
    throw new UsageError(
      `--base-image ${HOST_BASE_KEYWORD} loads a base into a Docker daemon, which generate-dockerfile does not use: run build-image, or name a base image your builder has (one build-image loaded is listed by docker images as modelgate/host-node)`,
    );
  }
  const dir = values.directory as string | undefined;
  if (dir === undefined) throw new UsageError('generate-dockerfile needs -d/--directory DIR');
  const p = await plan(a);
  const { writeBuildContext } = await import('../docker/index.js');
  await writeBuildContext(p.entries, dir);
  process.stdout.write(
    `Wrote the Dockerfile and build context of ${p.model.uri} (${p.platform}, ${p.entries.length} files, ${mb(p.contextBytes)}) to ${resolve(dir)}\n` +
      `Build it with: docker build --platform ${p.platform} -t ${a.name ?? 'NAME:TAG'} ${dir}\n`,
  );
  if (a.k8sOut !== undefined && a.name !== undefined) await writeK8s(a.k8sOut, a.name, p, a.k8s);
  return 0;
}
