/**
 * The host base without a daemon: what `ldd` output becomes, which files the layer holds and
 * where they go, the labels, the content address, and the docker-archive (well-formed and
 * byte-for-byte the same from the same files). A stand-in node and libraries in a temp folder
 * keep it small; one test reads this machine's real node. The CLI's refusal without a daemon:
 * host-base.e2e.test.ts.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { extract } from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { IMAGE_USER, hostPlatform } from '../../src/docker/dockerfile.js';
import { HOST_BASE_REPOSITORY, type HostBaseOptions, hostBaseArchive, parseLdd, planHostBase } from '../../src/docker/host-base.js';
import { ROOT } from '../fixtures/cli.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const temp = tempDirs('mg-hostbase-');
afterAll(() => temp.removeAll());

const LDD_NODE = `\tlinux-vdso.so.1 (0x00007ffd5a5f2000)
\tlibdl.so.2 => /LIB/libdl.so.2 (0x00007f64b3319000)
\tlibc.so.6 => /LIB/libc.so.6 (0x00007f64b2dfe000)
\t/LIB64/ld-linux-x86-64.so.2 (0x00007f64b3331000)
`;

/** A fake node (a script answering --version) and two libraries, with an ldd that lists them. */
async function fakeHost(): Promise<{ options: HostBaseOptions; dir: string }> {
  const dir = await temp.make();
  await mkdir(join(dir, 'lib'));
  await mkdir(join(dir, 'lib64'));
  await mkdir(join(dir, 'app'));
  await writeFile(join(dir, 'node'), '#!/bin/sh\necho v20.99.1\n');
  await chmod(join(dir, 'node'), 0o755);
  for (const f of ['lib/libdl.so.2', 'lib/libc.so.6', 'lib64/ld-linux-x86-64.so.2']) await writeFile(join(dir, f), `contents of ${f}`);
  const ldd = (file: string) => {
    if (file !== join(dir, 'node')) throw new Error(`unexpected ldd ${file}`);
    return Promise.resolve(LDD_NODE.replaceAll('/LIB64', join(dir, 'lib64')).replaceAll('/LIB', join(dir, 'lib')));
  };
  return { options: { nodePath: join(dir, 'node'), appRoot: join(dir, 'app'), ldd }, dir };
}

async function sha256(stream: Readable): Promise<string> {
  const h = createHash('sha256');
  for await (const c of stream) h.update(c as Buffer);
  return h.digest('hex');
}

async function untar(stream: Readable): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const ex = extract();
  ex.on('entry', (h, s, next) => {
    const chunks: Buffer[] = [];
    s.on('data', (c) => chunks.push(c as Buffer));
    s.on('end', () => {
      if (h.type === 'file') files.set(h.name, Buffer.concat(chunks));
      next();
    });
  });
  stream.pipe(ex);
  await new Promise<void>((res, rej) => ex.on('finish', res).on('error', rej));
  return files;
}

describe('parseLdd', () => {
  it('keeps resolved paths and the loader, drops the vDSO', () => {
    expect(parseLdd('node', LDD_NODE)).toEqual(['/LIB/libdl.so.2', '/LIB/libc.so.6', '/LIB64/ld-linux-x86-64.so.2']);
  });
  it('refuses a library ldd cannot find', () => {
    expect(() => parseLdd('node', '\tlibfoo.so.1 => not found\n\tlibc.so.6 => /lib/libc.so.6 (0x1)\n')).toThrow(
      /cannot find libfoo\.so\.1/,
    );
  });
});

describe('planHostBase', () => {
  it('lays out node, its libraries at the paths ldd gave, and accounts for the image user', async () => {
    const { options, dir } = await fakeHost();
    const plan = await planHostBase(options);
    expect(plan.entries.map((e) => e.path)).toEqual([
      'usr/bin/node',
      ...[join(dir, 'lib/libc.so.6'), join(dir, 'lib/libdl.so.2'), join(dir, 'lib64/ld-linux-x86-64.so.2')].map((p) => p.slice(1)),
      'etc/group',
      'etc/passwd',
    ]);
    expect(plan.entries[0]).toMatchObject({ source: join(dir, 'node'), mode: 0o755 });
    const passwd = plan.entries.find((e) => e.path === 'etc/passwd');
    expect(passwd && 'content' in passwd ? String(passwd.content) : '').toContain(`:${IMAGE_USER}:${IMAGE_USER}:`);
    expect(plan.node).toEqual({ path: join(dir, 'node'), version: 'v20.99.1' });
    expect(plan.platform).toBe(hostPlatform());
    expect(plan.tag).toMatch(new RegExp(`^${HOST_BASE_REPOSITORY}:20\\.99\\.1-(amd64|arm64)-[0-9a-f]{12}$`));
    expect(plan.tag.endsWith(plan.digest.slice(7, 19))).toBe(true);
    expect(plan.labels['io.modelgate.base.source']).toBe('host');
    expect(plan.labels['io.modelgate.base.node.version']).toBe('v20.99.1');
    const files = JSON.parse(plan.labels['io.modelgate.base.files']) as { path: string; from?: string; sha256: string }[];
    expect(files[0]).toEqual({
      path: '/usr/bin/node',
      from: join(dir, 'node'),
      mode: 0o755,
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(plan.labels['org.opencontainers.image.description']).toContain('3 glibc libraries');
  });

  it('is named after the contents: the same files give the same tag, a changed library another', async () => {
    const { options, dir } = await fakeHost();
    const a = await planHostBase(options);
    expect((await planHostBase(options)).tag).toBe(a.tag);
    await writeFile(join(dir, 'lib/libc.so.6'), 'a newer libc');
    expect((await planHostBase(options)).tag).not.toBe(a.tag);
  });

  it('leaves out libraries inside modelgate’s own folder (the image’s dependencies carry them)', async () => {
    const { options, dir } = await fakeHost();
    const inside = join(dir, 'app/node_modules/x/libinside.so');
    await mkdir(join(dir, 'app/node_modules/x'), { recursive: true });
    await writeFile(inside, 'x');
    const ldd = options.ldd!;
    const plan = await planHostBase({ ...options, ldd: async (f) => `${await ldd(f)}\tlibinside.so => ${inside} (0x1)\n` });
    expect(plan.entries.some((e) => e.path.includes('libinside'))).toBe(false);
  });
});

describe('hostBaseArchive', () => {
  it('is a docker-archive whose config names the layer’s digest, the same bytes every time', async () => {
    const { options } = await fakeHost();
    const plan = await planHostBase(options);
    const files = await untar(await hostBaseArchive(plan));
    const [manifest] = JSON.parse(files.get('manifest.json')!.toString()) as { Config: string; RepoTags: string[]; Layers: string[] }[];
    expect(manifest.RepoTags).toEqual([plan.tag]);
    const config = files.get(manifest.Config)!;
    expect(manifest.Config).toBe(`${createHash('sha256').update(config).digest('hex')}.json`);
    const layer = files.get(manifest.Layers[0])!;
    const parsed = JSON.parse(config.toString()) as {
      rootfs: { diff_ids: string[] };
      config: { Labels: Record<string, string>; Env: string[] };
      architecture: string;
    };
    expect(parsed.rootfs.diff_ids).toEqual([`sha256:${createHash('sha256').update(layer).digest('hex')}`]);
    expect(parsed.config.Labels).toEqual(plan.labels);
    expect(parsed.config.Env[0]).toMatch(/^PATH=.*\/usr\/bin/);
    expect(parsed.architecture).toBe(hostPlatform().split('/')[1]);
    const inLayer = await untar((await import('node:stream')).Readable.from([layer]));
    expect([...inLayer.keys()]).toContain('usr/bin/node');
    expect(await sha256(await hostBaseArchive(plan))).toBe(await sha256(await hostBaseArchive(await planHostBase(options))));
  });

  it('from this machine’s node: the real binary and the libraries of node and onnxruntime', async () => {
    const plan = await planHostBase({ appRoot: ROOT });
    const paths = plan.entries.map((e) => e.path);
    expect(paths[0]).toBe('usr/bin/node');
    expect(paths.some((p) => /(^|\/)libc\.so\.6$/.test(p))).toBe(true);
    expect(paths.some((p) => /(^|\/)libstdc\+\+\.so\.6$/.test(p))).toBe(true);
    expect(paths.some((p) => p.includes('node_modules'))).toBe(false);
    expect(plan.node.version).toBe(process.version);
  });
});
