/**
 * A base image that needs no container registry: this machine's `node` binary plus the glibc
 * libraries it and onnxruntime-node link against (as `ldd` lists them), as one FROM-scratch
 * layer. It is written as a docker-archive and loaded (`docker load`), so no pull, no network and
 * no builder step is involved, and it is content-addressed: the tag carries a digest of the files,
 * so a second build reuses the image instead of loading it again; the layer and config have fixed
 * owners and dates, so the same files from the same host paths give the same image ID on any daemon.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, realpathSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type Dockerode from 'dockerode';
import { GatewayError } from '../errors.js';
import { MODELGATE_VERSION } from '../version.js';
import { type ContextEntry, contextMtime, createBuildContext, isFileEntry } from './context.js';
import { IMAGE_USER, type ImagePlatform, hostPlatform } from './dockerfile.js';
import { packageRoot } from '../util/package-root.js';

/** `--base-image host` asks for this image instead of a named one. */
export const HOST_BASE_KEYWORD = 'host';
export const HOST_BASE_REPOSITORY = 'modelgate/host-node';
const BASE_LABEL = 'io.modelgate.base';
/** Bumped when the layout changes, so an old image of the same files is not reused. */
const FORMAT = 1;
const NODE_ARCH: Record<ImagePlatform, string> = { 'linux/amd64': 'x64', 'linux/arm64': 'arm64' };

export interface HostBaseOptions {
  /** @default the Node running this process */
  nodePath?: string;
  /** modelgate's installation, whose onnxruntime-node libraries' dependencies are added. @default where this code runs from */
  appRoot?: string;
  /** Runs `ldd FILE` and returns its output. @default the system's ldd */
  ldd?: (file: string) => Promise<string>;
}

export interface HostBasePlan {
  /** `modelgate/host-node:<node version>-<arch>-<digest prefix>`. */
  readonly tag: string;
  /** sha256 of the file list (paths, modes, contents): what the tag is named after. */
  readonly digest: string;
  readonly platform: ImagePlatform;
  readonly node: { readonly path: string; readonly version: string };
  /** The layer's files; `source` is where each comes from on this machine. */
  readonly entries: readonly ContextEntry[];
  readonly labels: Readonly<Record<string, string>>;
}

const runLdd = async (file: string): Promise<string> => (await promisify(execFile)('ldd', [file])).stdout;

/** Absolute paths `ldd` resolved (including the dynamic loader), refusing libraries it could not find. */
export function parseLdd(file: string, output: string): string[] {
  const missing = [...output.matchAll(/^\s*(\S+) => not found/gm)].map((m) => m[1]);
  if (missing.length > 0) throw new Error(`ldd cannot find ${missing.join(', ')}, which ${file} needs`);
  return [...output.matchAll(/(\/\S+)\s+\(0x[0-9a-f]+\)/g)].map((m) => m[1]);
}

async function libraries(file: string, ldd: (f: string) => Promise<string>): Promise<string[]> {
  let out: string;
  try {
    out = await ldd(file);
  } catch (err) {
    // A static binary: ldd says so and exits 1; there is nothing to add.
    const text = `${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`;
    if (/not a dynamic executable|statically linked/.test(text)) return [];
    throw new Error(`Cannot list the libraries of ${file} with ldd (${(err as Error).message.split('\n')[0]})`, { cause: err });
  }
  return parseLdd(file, out);
}

async function fileEntry(path: string, source: string): Promise<ContextEntry> {
  const real = realpathSync(source);
  const st = await stat(real);
  return { path, source: real, size: st.size, mode: st.mode & 0o111 ? 0o755 : 0o644 };
}

/** A passwd and group with root and the image's user, so name lookups of uid 10001 succeed. */
function accountFiles(): ContextEntry[] {
  const u = IMAGE_USER;
  return [
    { path: 'etc/group', mode: 0o644, content: `root:x:0:\nmodelgate:x:${u}:\n` },
    {
      path: 'etc/passwd',
      mode: 0o644,
      content: `root:x:0:0:root:/root:/sbin/nologin\nmodelgate:x:${u}:${u}:modelgate:/nonexistent:/sbin/nologin\n`,
    },
  ];
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

/** The node binary, its libraries and onnxruntime-node's (those inside modelgate's own folder come with the image's dependencies). */
async function layerEntries(
  node: string,
  root: string,
  platform: ImagePlatform,
  ldd: (f: string) => Promise<string>,
): Promise<ContextEntry[]> {
  const ortDir = join(root, 'node_modules/onnxruntime-node/bin/napi-v6/linux', NODE_ARCH[platform]);
  const natives = ['libonnxruntime.so.1', 'onnxruntime_binding.node'].map((f) => join(ortDir, f));
  const present = (
    await Promise.all(
      natives.map((f) =>
        stat(f).then(
          () => f,
          () => undefined,
        ),
      ),
    )
  ).filter((f) => f !== undefined);
  const libs = new Set<string>();
  for (const f of [node, ...present]) for (const lib of await libraries(f, ldd)) libs.add(lib);
  const outside = [...libs].filter((p) => relative(root, p).split(sep)[0] === '..').sort();
  const entries = [await fileEntry('usr/bin/node', node)];
  for (const lib of outside) entries.push(await fileEntry(lib.slice(1), lib));
  return [...entries, ...accountFiles()];
}

/** What the base would hold, and its name. Reads (and hashes) the files; talks to no daemon. */
export async function planHostBase(options: HostBaseOptions = {}): Promise<HostBasePlan> {
  const platform = hostPlatform();
  const nodePath = options.nodePath ?? process.execPath;
  const node = realpathSync(nodePath);
  const version = options.nodePath === undefined ? process.version : (await promisify(execFile)(node, ['--version'])).stdout.trim();
  const root = options.appRoot ?? (await packageRoot());
  const entries = await layerEntries(node, root, platform, options.ldd ?? runLdd);
  const libraryCount = entries.filter((e) => isFileEntry(e)).length - 1;
  const listed: { path: string; from?: string; mode: number; sha256: string }[] = [];
  for (const e of entries) {
    const sha256 = isFileEntry(e) ? await sha256File(e.source) : createHash('sha256').update(e.content).digest('hex');
    listed.push({ path: `/${e.path}`, ...(isFileEntry(e) ? { from: e.source } : {}), mode: e.mode, sha256 });
  }
  // The host paths are not part of the address (only of the labels): the same files found elsewhere get the same tag.
  const digest = createHash('sha256')
    .update(`modelgate host base ${FORMAT}\n${listed.map((f) => `${f.sha256} ${f.mode.toString(8)} ${f.path}\n`).join('')}`)
    .digest('hex');
  const arch = platform.split('/')[1];
  const tag = `${HOST_BASE_REPOSITORY}:${version.replace(/^v/, '')}-${arch}-${digest.slice(0, 12)}`;
  const labels: Record<string, string> = {
    'org.opencontainers.image.title': 'modelgate host Node base',
    'org.opencontainers.image.description': `FROM scratch: ${node} (${version}) of the build host and the ${libraryCount} glibc libraries it and onnxruntime-node link against (ldd); no shell, no package manager`,
    [`${BASE_LABEL}.source`]: 'host',
    [`${BASE_LABEL}.node.path`]: node,
    [`${BASE_LABEL}.node.version`]: version,
    [`${BASE_LABEL}.digest`]: `sha256:${digest}`,
    [`${BASE_LABEL}.files`]: JSON.stringify(listed),
    'io.modelgate.version': MODELGATE_VERSION,
  };
  return { tag, digest: `sha256:${digest}`, platform, node: { path: node, version }, entries, labels };
}

/** sha256 and size of a stream's bytes. */
async function digestOf(stream: Readable): Promise<{ digest: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: h.digest('hex'), size };
}

/** The image config (its sha256 is the image ID): fixed dates, so the ID depends only on the content. */
export function hostBaseConfig(plan: HostBasePlan, layerDigest: string, created: Date = contextMtime()): string {
  const files = plan.entries.length;
  return JSON.stringify({
    architecture: plan.platform.split('/')[1],
    os: 'linux',
    created: created.toISOString(),
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['node'], Labels: plan.labels },
    rootfs: { type: 'layers', diff_ids: [`sha256:${layerDigest}`] },
    history: [
      { created: created.toISOString(), created_by: `modelgate host base: ${plan.node.path} ${plan.node.version} and ${files - 1} files` },
    ],
  });
}

/** The base as a docker-archive (what `docker save` writes and `docker load` reads). */
export async function hostBaseArchive(plan: HostBasePlan): Promise<Readable> {
  const mtime = contextMtime();
  // The archive's header needs the layer's size, and the config its digest: one pass to measure, one to send.
  const layer = await digestOf(createBuildContext(plan.entries, mtime));
  const config = hostBaseConfig(plan, layer.digest, mtime);
  const configName = `${createHash('sha256').update(config).digest('hex')}.json`;
  const layerName = `${layer.digest}/layer.tar`;
  const manifest = JSON.stringify([{ Config: configName, RepoTags: [plan.tag], Layers: [layerName] }]);
  const { pack } = await import('tar-stream');
  const tar = pack();
  const header = { uid: 0, gid: 0, mtime, mode: 0o644 };
  void (async () => {
    for (const [name, text] of [
      [configName, config],
      ['manifest.json', manifest],
    ]) {
      await new Promise<void>((res, rej) => tar.entry({ ...header, name }, text, (err) => (err ? rej(err) : res())));
    }
    tar.entry({ ...header, name: `${layer.digest}/`, type: 'directory', mode: 0o755 });
    await pipeline(createBuildContext(plan.entries, mtime), tar.entry({ ...header, name: layerName, size: layer.size }));
    tar.finalize();
  })().catch((err: unknown) => tar.destroy(err as Error));
  return Readable.from(tar as AsyncIterable<Buffer>, { objectMode: false });
}

export interface HostBase {
  /** The image name to build FROM. */
  image: string;
  id: string;
  /** False when an image of the same files was already in the daemon. */
  created: boolean;
  plan: HostBasePlan;
}

async function inspectOrUndefined(docker: Dockerode, image: string): Promise<Dockerode.ImageInspectInfo | undefined> {
  return docker
    .getImage(image)
    .inspect()
    .catch((err: unknown) => {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw err;
    });
}

/** Refuses a target CPU the host's node cannot run on. */
export function checkHostBasePlatform(platform: ImagePlatform | undefined): void {
  if (platform !== undefined && platform !== hostPlatform()) {
    throw new GatewayError(
      'INVALID_PARAMETER_VALUE',
      `--base-image ${HOST_BASE_KEYWORD} makes a base from this machine's ${hostPlatform()} node, so it cannot build for ${platform}; give a ${platform} base image`,
    );
  }
}

/** Loads a planned host base into the daemon unless an image of the same files is there; no registry is involved. */
export async function loadHostBase(docker: Dockerode, plan: HostBasePlan): Promise<HostBase> {
  const existing = await inspectOrUndefined(docker, plan.tag);
  if (existing?.Config.Labels?.[`${BASE_LABEL}.digest`] === plan.digest) {
    return { image: plan.tag, id: existing.Id, created: false, plan };
  }
  const stream = await docker.loadImage(await hostBaseArchive(plan));
  await new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => {
      const failed = out?.find((e) => e.error !== undefined);
      if (err || failed) reject(new Error(`docker load of ${plan.tag} failed: ${err?.message ?? failed?.error}`));
      else resolve();
    }),
  );
  const info = await docker.getImage(plan.tag).inspect();
  return { image: plan.tag, id: info.Id, created: true, plan };
}

/** planHostBase then loadHostBase. */
export async function ensureHostBase(docker: Dockerode, options: HostBaseOptions & { platform?: ImagePlatform } = {}): Promise<HostBase> {
  checkHostBasePlatform(options.platform);
  return loadHostBase(docker, await planHostBase(options));
}
