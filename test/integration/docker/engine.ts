/**
 * A Docker engine for the image tests, and a base image that needs no registry: the product's
 * `--base-image host` (src/docker/host-base.ts: this machine's Node binary plus the glibc
 * libraries it and onnxruntime link against, loaded as a FROM-scratch image of ~104 MB). No
 * container registry is reachable here, so nothing is pulled.
 *
 * Without an engine the tests skip with a warning, except under CI (CI=1, set by .ci/run), where a
 * missing engine must fail the run rather than quietly skip it.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import Dockerode from 'dockerode';
import { createBuildContext } from '../../../src/docker/context.js';
import { ensureHostBase } from '../../../src/docker/host-base.js';
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

/**
 * The host base, loaded unless the daemon has it. It is content-addressed and left in the daemon
 * afterwards like a pulled base: test files run in parallel and build on it, so none removes it.
 */
export async function ensureNodeBase(docker: Dockerode): Promise<string> {
  return (await ensureHostBase(docker, { appRoot: ROOT })).image;
}

/** The platform that is not this machine's: images for it can be built here but not run. */
export const FOREIGN_PLATFORM = process.arch === 'arm64' ? 'linux/amd64' : 'linux/arm64';
export const FOREIGN_BASE = `modelgate-test/foreign-base:${FOREIGN_PLATFORM.split('/')[1]}`;

async function tarBuffer(entries: { path: string; content: string | Buffer }[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of createBuildContext(entries.map((e) => ({ ...e, mode: 0o644 })))) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A one-layer image of these files, written as a docker-archive and loaded (`docker load`). */
async function loadArchive(docker: Dockerode, name: string, platform: string, files: { path: string; content: string }[]): Promise<string> {
  const layer = await tarBuffer(files);
  const diffId = `sha256:${createHash('sha256').update(layer).digest('hex')}`;
  const [os, architecture] = platform.split('/');
  const config = JSON.stringify({
    architecture,
    os,
    created: '2020-01-01T00:00:00Z',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history: [{ created: '2020-01-01T00:00:00Z', created_by: `modelgate test: ${name}` }],
  });
  const configName = `${createHash('sha256').update(config).digest('hex')}.json`;
  const archive = await tarBuffer([
    { path: 'manifest.json', content: JSON.stringify([{ Config: configName, RepoTags: [name], Layers: ['layer/layer.tar'] }]) },
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
  return name;
}

/** A base image for FOREIGN_PLATFORM: one small layer and a config naming that CPU. Enough to build on; it cannot run here. */
export function loadForeignBase(docker: Dockerode): Promise<string> {
  return loadArchive(docker, FOREIGN_BASE, FOREIGN_PLATFORM, [
    { path: 'etc/modelgate-foreign-base', content: `a ${FOREIGN_PLATFORM} test base\n` },
  ]);
}

/** A local base the build itself fails on: /opt is a file, so nothing can be copied to /opt/modelgate. */
export function loadBrokenBase(docker: Dockerode): Promise<string> {
  const platform = process.arch === 'arm64' ? 'linux/arm64' : 'linux/amd64';
  return loadArchive(docker, `modelgate-test/broken-base:${process.pid}`, platform, [{ path: 'opt', content: 'not a directory\n' }]);
}
