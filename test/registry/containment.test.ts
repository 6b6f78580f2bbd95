/**
 * Nothing from outside a model's folder is ever read, copied or served: paths in MLmodel and in
 * ONNX external data that leave the folder, and symbolic links, are refused before anything is
 * copied or loaded. Also: folder names that cannot collide, and leftovers of crashed writers
 * cleaned up without touching live ones.
 */
import { existsSync } from 'node:fs';
import { cp, lstat, mkdir, readFile, readdir, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildOnnxModel } from '../../src/onnx/writer.js';
import { openRegistry } from '../../src/core/registration.js';
import { loadModel } from '../../src/core/load-model.js';
import { scoreBody } from '../../src/core/scoring.js';
import { IRIS } from '../fixtures/cli.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const temps = tempDirs('modelgate-containment-');
afterAll(() => temps.removeAll());

/** y = x + w, where w (one float) lives in the external data file `location`. */
function addModel(location: string): Uint8Array {
  return buildOnnxModel({
    inputs: [{ name: 'x', dtype: 'float32', shape: ['N', 1] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: ['N', 1] }],
    nodes: [{ op: 'Add', inputs: ['x', 'w'], outputs: ['y'] }],
    initializers: [{ name: 'w', dtype: 'float32', dims: [1], data: [], external: { location, offset: 0, length: 4 } }],
  });
}

const floatBytes = (v: number) => Buffer.from(new Float32Array([v]).buffer);

const MLMODEL = (data: string, extra = '') => `flavors:\n  onnx:\n    data: ${data}\n${extra}`;

async function setup() {
  const root = await temps.make();
  const registry = openRegistry(join(root, 'registry'));
  const outside = join(root, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'secret.txt'), 'TOP SECRET bytes that must never leave this folder');
  return { root, registry, outside };
}

async function nothingRegistered(root: string) {
  expect(existsSync(join(root, 'registry', 'models'))).toBe(false);
  expect(await readdir(join(root, 'registry', 'staging')).catch(() => [])).toEqual([]);
}

describe('paths that leave the model folder', () => {
  it('refuses an MLmodel whose ONNX data path points outside', async () => {
    const { root, registry, outside } = await setup();
    const dir = await temps.make();
    await writeFile(join(outside, 'model.onnx'), addModel('w.bin'));
    await writeFile(join(dir, 'MLmodel'), MLMODEL('../outside/model.onnx'));
    await expect(registry.register(dir, { name: 'm' })).rejects.toThrow(
      /ONNX model file '..\/outside\/model.onnx' points outside the model directory/,
    );
    await writeFile(join(dir, 'MLmodel'), MLMODEL(join(outside, 'model.onnx')));
    await expect(registry.register(dir, { name: 'm' })).rejects.toThrow(/must be a relative path inside the model directory/);
    await nothingRegistered(root);
  });

  it('refuses ONNX external data outside the folder, and serves (and guards) external data inside it', async () => {
    const { root, registry, outside } = await setup();
    const evil = await temps.make();
    await writeFile(join(outside, 'w.bin'), floatBytes(1));
    await writeFile(join(evil, 'model.onnx'), addModel('../outside/w.bin'));
    await expect(registry.register(evil, { name: 'm' })).rejects.toThrow(
      /external data file '..\/outside\/w.bin' points outside the model directory/,
    );
    await writeFile(join(evil, 'model.onnx'), addModel(join(outside, 'w.bin')));
    await expect(registry.register(evil, { name: 'm' })).rejects.toThrow(/external data file .* must be a relative path/);
    await nothingRegistered(root);

    // Inside the folder, external data is covered by the digests like any other file.
    const good = await temps.make();
    await mkdir(join(good, 'weights'));
    await writeFile(join(good, 'model.onnx'), addModel('weights/w.bin'));
    await writeFile(join(good, 'weights', 'w.bin'), floatBytes(1));
    const v = await registry.register(good, { name: 'm' });
    const model = await loadModel('models:/m/1', registry);
    expect(await scoreBody(model, 'application/json', '{"inputs": [[1.0]]}')).toBe('{"predictions": {"y": [[2.0]]}}');
    await model.model.unload();
    const files = await registry.materialize(v);
    await writeFile(join(files.dir, 'weights', 'w.bin'), floatBytes(100));
    await expect(loadModel('models:/m/1', registry)).rejects.toThrow(/weights\/w.bin was modified/);
  });

  it('refuses input-example paths that leave the folder without quoting the outside file', async () => {
    const { root, registry, outside } = await setup();
    const dir = await temps.make();
    await cp(IRIS, dir, { recursive: true });
    const mlmodel = (await readFile(join(dir, 'MLmodel'), 'utf8')).replace(
      /serving_input_path: .*/,
      `serving_input_path: ../${'..'}/${outside.split('/').slice(-2).join('/')}/secret.txt`,
    );
    await writeFile(join(dir, 'MLmodel'), mlmodel);
    const err = await registry.register(dir, { name: 'm' }).catch((e: Error) => e);
    expect(String(err)).toMatch(/serving input example '.*secret.txt' points outside the model directory/);
    expect(String(err)).not.toContain('TOP SECRET');
    // Inside the folder but not JSON: the message names a position, not the file's text.
    await writeFile(join(dir, 'not-json.txt'), 'TOP SECRET, not JSON');
    await writeFile(join(dir, 'MLmodel'), mlmodel.replace(/serving_input_path: .*/, 'serving_input_path: not-json.txt'));
    const err2 = await registry.register(dir, { name: 'm' }).catch((e: Error) => e);
    expect(String(err2)).toMatch(/not registered/);
    expect(String(err2)).not.toContain('TOP SECRET');
    await nothingRegistered(root);
  });
});

describe('symbolic links', () => {
  it('refuses a folder holding a link before copying anything, and names it', async () => {
    const { root, registry, outside } = await setup();
    const dir = await temps.make();
    await cp(IRIS, dir, { recursive: true });
    await symlink(join(outside, 'secret.txt'), join(dir, 'notes.txt'));
    await expect(registry.register(dir, { name: 'm' })).rejects.toThrow(
      /notes.txt .* is a symbolic link; model folders may not hold symbolic links/,
    );
    await nothingRegistered(root);
    // Serving the folder directly refuses it too.
    await expect(loadModel(dir, registry)).rejects.toThrow(/notes.txt .* is a symbolic link/);
  });

  it('refuses a linked ONNX external data file, and a linked subfolder', async () => {
    const { root, registry, outside } = await setup();
    await writeFile(join(outside, 'w.bin'), floatBytes(100));
    const dir = await temps.make();
    await writeFile(join(dir, 'model.onnx'), addModel('w.bin'));
    await symlink(join(outside, 'w.bin'), join(dir, 'w.bin'));
    await expect(registry.register(dir, { name: 'm' })).rejects.toThrow(/w.bin .* is a symbolic link/);
    await expect(loadModel(dir, registry)).rejects.toThrow(/w.bin .* is a symbolic link/);
    const dir2 = await temps.make();
    await cp(IRIS, dir2, { recursive: true });
    await symlink(outside, join(dir2, 'extra'));
    await expect(registry.register(dir2, { name: 'm' })).rejects.toThrow(/extra .* is a symbolic link/);
    await nothingRegistered(root);
  });

  it('registers a folder reached through a link (absolute or relative) as a copy of what it points at', async () => {
    const { registry } = await setup();
    const parent = await temps.make();
    await cp(IRIS, join(parent, 'model'), { recursive: true });
    await symlink(join(parent, 'model'), join(parent, 'abs-link'));
    await symlink('model', join(parent, 'current'));
    for (const link of ['abs-link', 'current']) {
      const v = await registry.register(join(parent, link), { name: `m-${link}` });
      const files = await registry.materialize(v);
      expect((await lstat(files.dir)).isDirectory()).toBe(true);
      expect((await lstat(files.dir)).isSymbolicLink()).toBe(false);
      // Changing the user's folder afterwards changes nothing in the registry.
      await writeFile(join(parent, 'model', 'notes.txt'), 'added later');
      await expect(registry.materialize(v)).resolves.toMatchObject({ dir: files.dir });
      await rm(join(parent, 'model', 'notes.txt'));
    }
  });

  it('serves a model folder that is itself reached through a link', async () => {
    const { registry } = await setup();
    const parent = await temps.make();
    await symlink(IRIS, join(parent, 'iris-link'));
    const model = await loadModel(join(parent, 'iris-link'), registry);
    expect(model.ref.name).toBe('iris-link');
    await model.model.unload();
  });
});

describe('registry folder names', () => {
  it('keeps a short name that looks like an abbreviated long one apart from it', async () => {
    const { registry } = await setup();
    const long = 'L'.repeat(256);
    await registry.register(IRIS, { name: long });
    const folders = await readdir(join(registry.uri, 'models'));
    expect(folders).toHaveLength(1);
    // A 161-character name equal to the long name's folder.
    const impostor = folders[0];
    expect(impostor).toMatch(/~[0-9a-f]{40}$/);
    await registry.register(IRIS, { name: impostor });
    await registry.register(IRIS, { name: impostor });
    expect((await registry.listVersions(long)).map((v) => v.version)).toEqual(['1']);
    expect((await registry.listVersions(impostor)).map((v) => v.version)).toEqual(['1', '2']);
    expect((await registry.listModels()).map((m) => m.name).sort()).toEqual([long, impostor].sort());
  });
});

describe('leftovers of crashed writers', () => {
  it('removes staging folders and temp files whose process is gone at the next registry command, and keeps live ones', async () => {
    const { root, registry } = await setup();
    await registry.register(IRIS, { name: 'm', alias: 'a' });
    const staging = join(root, 'registry', 'staging');
    const host = (await import('node:os')).hostname().replace(/[^A-Za-z0-9.]/g, '_');
    const dead = `1700000000000-999999-${host}-0123456789abcdef`;
    const live = `1700000000000-${process.pid}-${host}-fedcba9876543210`;
    for (const n of [dead, live]) await mkdir(join(staging, n, 'artifacts'), { recursive: true });
    const aliases = join(root, 'registry', 'models', 'm', 'aliases');
    await writeFile(join(aliases, `.tmp-999999-${host}-0123456789abcdef`), '1');
    await writeFile(join(aliases, `.tmp-${process.pid}-${host}-fedcba9876543210`), '1');
    // An untagged one from an older version is removed once it is a day old.
    const old = join(staging, 'untagged');
    await mkdir(old);
    const dayAgo = new Date(Date.now() - 25 * 3600 * 1000);
    await utimes(old, dayAgo, dayAgo);
    await registry.sweep();
    expect((await readdir(staging)).sort()).toEqual([live]);
    expect(await readdir(aliases)).toEqual(['a', `.tmp-${process.pid}-${host}-fedcba9876543210`].sort());
    expect((await stat(join(staging, live))).isDirectory()).toBe(true);
  });
});
