/**
 * Air-gapped builds against the real daemon, with the CLI itself in a network namespace of its
 * own (`unshare --net`: only a loopback that is down; the daemon is reached through its Unix
 * socket): a base the daemon lacks fails with one line that says so and what to do; a local base
 * (`--base-image NAME`) builds without any pull, with the classic builder and with BuildKit, while
 * `pull: true` would contact the registry and fail; `--base-image host` makes (then reuses) a
 * FROM-scratch base from this machine's node. Everything created here except the host base is removed.
 */
import { execFileSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../../src/docker/build.js';
import { createBuildContext } from '../../../src/docker/context.js';
import { hostPlatform } from '../../../src/docker/dockerfile.js';
import { HOST_BASE_REPOSITORY } from '../../../src/docker/host-base.js';
import { cleanup, irisRegistry } from '../../docker/helpers.js';
import { CLI, type RunResult, requireBuiltCli, startProcess } from '../../fixtures/cli.js';
import { FOREIGN_PLATFORM, IN_CI, ensureNodeBase, probeEngine, warnSkipped } from './engine.js';

const engine = await probeEngine();
if (!engine.ok && !IN_CI) warnSkipped(engine, 'test/integration/docker/offline.docker.test.ts (air-gapped image builds)');
const docker = engine.docker;

/** Whether this process may make a network namespace (root, or a kernel that lets users). */
const canUnshare = (() => {
  try {
    execFileSync('unshare', ['--net', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** The CLI with no network at all, when the machine allows it (CI runs as root, where it does). */
function offlineCli(args: string[]): Promise<RunResult> {
  const [cmd, argv] = canUnshare ? ['unshare', ['--net', process.execPath, CLI, ...args]] : [process.execPath, [CLI, ...args]];
  return startProcess(cmd, argv, { env: { DOCKER_HOST: engine.where }, timeoutMs: 300_000 }).done;
}

const TAG = `modelgate-test/offline:${process.pid}`;
/** A Docker Hub name: a pull of it would need the registry, which is unreachable here. */
const LOCAL_BASE = `modelgate-test/my-node:${process.pid}`;
const created: string[] = [];

afterAll(async () => {
  for (const i of created.reverse())
    await docker
      .getImage(i)
      .remove({ force: true })
      .catch(() => undefined);
  await cleanup();
});

describe.runIf(engine.ok || IN_CI)('building with no registry and no network', () => {
  let registryUri: string;
  let hostBase: string;

  beforeAll(async () => {
    if (!engine.ok) throw new Error(`CI is set but there is no Docker engine at ${engine.where}: ${engine.reason}. .ci/run starts one.`);
    if (IN_CI) expect(canUnshare).toBe(true);
    if (!canUnshare) console.warn('offline.docker.test.ts: cannot unshare the network namespace here; the CLI runs with the host network');
    requireBuiltCli();
    ({ uri: registryUri } = await irisRegistry());
    hostBase = await ensureNodeBase(docker);
    await docker.getImage(hostBase).tag({ repo: LOCAL_BASE.split(':')[0], tag: LOCAL_BASE.split(':')[1] });
    created.push(LOCAL_BASE);
  }, 120_000);

  it('a base the daemon lacks: one line naming it, saying it is not local, and both offline options', async () => {
    const missing = `modelgate-test/absent-base:${process.pid}`;
    const r = await offlineCli([
      'build-image',
      '-m',
      'models:/iris/1',
      '-n',
      `${TAG}-never`,
      '--base-image',
      missing,
      '--registry',
      registryUri,
    ]);
    expect(r.code).toBe(1);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('modelgate: error:'));
    expect(errors).toHaveLength(1);
    const [line] = errors;
    console.log(line);
    expect(line).toContain(`cannot pull the base image ${missing}`);
    expect(line).toContain("not among the Docker daemon's local images");
    expect(line).toMatch(/pulling it failed \(.+\)/);
    expect(line).toContain('--base-image NAME');
    expect(line).toContain('--base-image host');
    expect(r.stderr).not.toContain('Step 1/');
    await expect(docker.getImage(`${TAG}-never`).inspect()).rejects.toThrow();
  });

  it('--base-image NAME of a local image builds without pulling', async () => {
    created.push(`${TAG}-local`);
    const r = await offlineCli([
      'build-image',
      '-m',
      'models:/iris/1',
      '-n',
      `${TAG}-local`,
      '--base-image',
      LOCAL_BASE,
      '--registry',
      registryUri,
    ]);
    expect(r.stderr).not.toMatch(/Pulling/);
    expect(r.code, r.stderr).toBe(0);
    const info = await docker.getImage(`${TAG}-local`).inspect();
    expect(info.Config.Labels?.['org.opencontainers.image.base.name']).toBe(LOCAL_BASE);
  });

  it('the daemon uses a local base when not told to pull (classic builder and BuildKit), and `pull: true` would fail here', async () => {
    const attempt = async (version: '1' | '2', pull: boolean) => {
      const context = createBuildContext([
        { path: 'Dockerfile', mode: 0o644, content: `FROM --platform=${hostPlatform()} ${LOCAL_BASE}\nLABEL builder=${version}\n` },
      ]);
      const tag = `${TAG}-builder${version}-${String(pull)}`;
      created.push(tag);
      const stream = await docker.buildImage(context, { t: tag, version, pull, networkmode: 'none', platform: hostPlatform() });
      const out = await new Promise<{ error?: string }[]>((res, rej) =>
        docker.modem.followProgress(stream, (e, o) => (e ? rej(e) : res(o))),
      );
      return out.find((e) => e.error !== undefined)?.error;
    };
    expect(await attempt('1', false)).toBeUndefined();
    expect(await attempt('2', false)).toBeUndefined();
    // Forcing a pull contacts the registry even for a local image: that is what buildImage never does.
    expect(await attempt('1', true)).toMatch(/registry|lookup|dial|pull|resolve/i);
    expect(await attempt('2', true)).toMatch(/registry|lookup|dial|pull|resolve/i);
  });

  it('buildImage (what build-image calls) passes pull=false', async () => {
    const tag = `${TAG}-buildimage`;
    created.push(tag);
    const context = createBuildContext([{ path: 'Dockerfile', mode: 0o644, content: `FROM ${LOCAL_BASE}\nLABEL via=buildImage\n` }]);
    const { id } = await buildImage(docker, context, { tag, platform: hostPlatform() });
    expect(id).toMatch(/^sha256:/);
  });

  describe('--base-image host', () => {
    let first: RunResult;
    let base: Dockerode.ImageInspectInfo;
    let name: string;

    beforeAll(async () => {
      created.push(`${TAG}-host`);
      first = await offlineCli([
        'build-image',
        '-m',
        'models:/iris/1',
        '-n',
        `${TAG}-host`,
        '--base-image',
        'host',
        '--registry',
        registryUri,
      ]);
      name = (await docker.getImage(`${TAG}-host`).inspect()).Config.Labels?.['org.opencontainers.image.base.name'] ?? '';
      base = await docker.getImage(name).inspect();
    }, 300_000);

    it('builds on a FROM-scratch base of this machine’s node, pulling nothing', () => {
      expect(first.code, first.stderr).toBe(0);
      expect(first.stderr).not.toMatch(/Pulling/);
      expect(first.stderr).toMatch(/(Loaded|Reusing) base image modelgate\/host-node:/);
      expect(base.RepoTags).toContain(name);
      expect(name).toMatch(new RegExp(`^${HOST_BASE_REPOSITORY}:${process.versions.node}-(amd64|arm64)-[0-9a-f]{12}$`));
      expect(`${base.Os}/${base.Architecture}`).toBe(hostPlatform());
      expect(base.RootFS.Layers).toHaveLength(1);
    });

    it('says in its labels what it was made from', async () => {
      const labels = base.Config.Labels ?? {};
      const node = realpathSync(process.execPath);
      expect(labels['io.modelgate.base.source']).toBe('host');
      expect(labels['io.modelgate.base.node.path']).toBe(node);
      expect(labels['io.modelgate.base.node.version']).toBe(process.version);
      expect(labels['io.modelgate.base.digest']).toMatch(/^sha256:[0-9a-f]{64}$/);
      const files = JSON.parse(labels['io.modelgate.base.files']) as { path: string; from?: string; sha256: string }[];
      const sha = createHash('sha256')
        .update(await readFile(node))
        .digest('hex');
      expect(files.find((f) => f.path === '/usr/bin/node')).toMatchObject({ from: node, sha256: sha });
      expect(files.some((f) => /\/libc\.so\.6$/.test(f.path))).toBe(true);
      expect(files.some((f) => /\/ld-linux[^/]*\.so\.\d$/.test(f.path))).toBe(true);
      expect(files.some((f) => /\/libstdc\+\+\.so\.6$/.test(f.path))).toBe(true); // onnxruntime's, not node's alone
      expect(labels['org.opencontainers.image.description']).toContain(node);
    });

    it('is content-addressed: a second build reuses the same image', async () => {
      created.push((await docker.getImage(`${TAG}-host`).inspect()).Id); // the new build date makes a new image
      const again = await offlineCli([
        'build-image',
        '-m',
        'models:/iris/1',
        '-n',
        `${TAG}-host`,
        '--base-image',
        'host',
        '--registry',
        registryUri,
      ]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toContain(`Reusing base image ${name} (${base.Id.slice(7, 19)})`);
      expect((await docker.getImage(name).inspect()).Id).toBe(base.Id);
    });

    it(`is refused for --platform ${FOREIGN_PLATFORM}`, async () => {
      const r = await offlineCli([
        'build-image',
        '-m',
        'models:/iris/1',
        '-n',
        `${TAG}-x`,
        '--base-image',
        'host',
        '--platform',
        FOREIGN_PLATFORM,
        '--registry',
        registryUri,
      ]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`cannot build for ${FOREIGN_PLATFORM}`);
    });
  });
});
