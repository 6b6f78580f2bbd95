/**
 * A Docker engine for the image tests, and a base image that needs no registry: this machine's
 * Node binary plus the glibc libraries it and onnxruntime link against (`ldd`), imported as a
 * FROM-scratch image (~104 MB). No container registry is reachable here, so nothing is pulled.
 *
 * Without an engine the tests skip with a warning, except under CI (CI=1, set by .ci/run), where a
 * missing engine must fail the run rather than quietly skip it.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import Dockerode from 'dockerode';
import { createBuildContext, type FileEntry } from '../../../src/docker/context.js';
import { ROOT } from '../../fixtures/cli.js';

export interface Engine {
  docker: Dockerode;
  ok: boolean;
  /** Why there is no engine, when there is none. */
  reason: string;
  where: string;
}

export const IN_CI = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== '0' && process.env.CI !== 'false';

export async function probeEngine(): Promise<Engine> {
  const where = process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
  const docker = new Dockerode();
  try {
    await Promise.race([docker.ping(), new Promise((_, rej) => setTimeout(() => rej(new Error('no answer within 3 s')), 3000))]);
    return { docker, ok: true, reason: '', where };
  } catch (err) {
    return { docker, ok: false, reason: (err as Error).message, where };
  }
}

/** Says loudly that the daemon tests did not run (and how to run them). */
export function warnSkipped(e: Engine, what: string): void {
  const bar = '!'.repeat(100);
  console.warn(
    `\n${bar}\n!! SKIPPED: ${what}\n!! No Docker engine at ${e.where} (${e.reason}).\n` +
      `!! Start one (see .ci/run) and set DOCKER_HOST to run them; under CI=1 this is a failure.\n${bar}\n`,
  );
}

const NODE_ARCH = process.arch === 'arm64' ? 'arm64' : 'x64';
export const BASE_IMAGE = `modelgate-test/node-base:${process.versions.node}-${NODE_ARCH}`;

async function lddPaths(file: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)('ldd', [file]);
  return [...stdout.matchAll(/(\/\S+)\s+\(0x[0-9a-f]+\)/g)].map((m) => m[1]);
}

/** Imports the base image unless the daemon has it; returns its name. */
export async function ensureNodeBase(docker: Dockerode): Promise<string> {
  const have = await docker
    .getImage(BASE_IMAGE)
    .inspect()
    .then(() => true)
    .catch(() => false);
  if (have) return BASE_IMAGE;
  const node = realpathSync(process.execPath);
  const ort = join(ROOT, 'node_modules/onnxruntime-node/bin/napi-v6/linux', NODE_ARCH, 'libonnxruntime.so.1');
  const libs = new Set([...(await lddPaths(node)), ...(await lddPaths(ort))].filter((p) => !p.includes('/node_modules/')));
  const files: [string, string][] = [['usr/bin/node', node], ...[...libs].map((p): [string, string] => [p.slice(1), realpathSync(p)])];
  const entries: FileEntry[] = files.map(([path, source]) => {
    const st = statSync(source);
    return { path, source, size: st.size, mode: st.mode & 0o111 ? 0o755 : 0o644 };
  });
  const stream = await docker.importImage(createBuildContext(entries), { repo: BASE_IMAGE.split(':')[0], tag: BASE_IMAGE.split(':')[1] });
  await new Promise<void>((res, rej) =>
    docker.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => {
      const failed = out?.find((e) => e.error !== undefined);
      if (err || failed) rej(err ?? new Error(failed!.error));
      else res();
    }),
  );
  return BASE_IMAGE;
}

/** The platform that is not this machine's: images for it can be built here but not run. */
export const FOREIGN_PLATFORM = process.arch === 'arm64' ? 'linux/amd64' : 'linux/arm64';
export const FOREIGN_BASE = `modelgate-test/foreign-base:${FOREIGN_PLATFORM.split('/')[1]}`;

async function tarBuffer(entries: { path: string; content: string | Buffer }[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of createBuildContext(entries.map((e) => ({ ...e, mode: 0o644 })))) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * A base image for FOREIGN_PLATFORM, written as a docker-archive and loaded (`docker load`): one
 * small layer and an image config naming that CPU. Enough to build on; it cannot run here.
 */
export async function loadForeignBase(docker: Dockerode): Promise<string> {
  const layer = await tarBuffer([{ path: 'etc/modelgate-foreign-base', content: `a ${FOREIGN_PLATFORM} test base\n` }]);
  const diffId = `sha256:${createHash('sha256').update(layer).digest('hex')}`;
  const [os, architecture] = FOREIGN_PLATFORM.split('/');
  const config = JSON.stringify({
    architecture,
    os,
    created: '2020-01-01T00:00:00Z',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history: [{ created: '2020-01-01T00:00:00Z', created_by: 'modelgate test: loadForeignBase' }],
  });
  const configName = `${createHash('sha256').update(config).digest('hex')}.json`;
  const archive = await tarBuffer([
    { path: 'manifest.json', content: JSON.stringify([{ Config: configName, RepoTags: [FOREIGN_BASE], Layers: ['layer/layer.tar'] }]) },
    { path: configName, content: config },
    { path: 'layer/layer.tar', content: layer },
  ]);
  const stream = await docker.loadImage(Readable.from([archive]));
  const text = await new Promise<string>((res, rej) => {
    let out = '';
    stream.on('data', (d: Buffer) => (out += d.toString()));
    stream.on('end', () => res(out));
    stream.on('error', rej);
  });
  if (text.includes('"error"')) throw new Error(`docker load failed: ${text}`);
  return FOREIGN_BASE;
}
