/**
 * The local directory registry: the backend contract, plus what only a directory on disk has to
 * guarantee (layout, atomic registration, digests, validation). Registration by CLI processes that
 * are killed or race, and the CLI's view of digests and file: URIs: local-backend.e2e.test.ts.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { LocalRegistry } from '../../src/registry/backends/local/index.js';
import { openRegistry } from '../../src/core/registration.js';
import type { Registry } from '../../src/registry/registry.js';
import { runRegistryBackendContract } from '../contract/registry-backend.contract.js';
import { IRIS } from '../fixtures/cli.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const IRIS_ONNX_SHA256 = '9680d3cb475f8d2646852840542e96f92bc60164b5fa87afd2805f4e41d66ec0';

// ---------------------------------------------------------------------------------------------
// helpers

const temp = tempDirs('modelgate-local-');
const tempDir = temp.make;

afterAll(() => temp.removeAll());

/** A copy of examples/iris to mutate. */
async function irisCopy(parent: string, name: string): Promise<string> {
  const dir = join(parent, name);
  await cp(IRIS, dir, { recursive: true });
  return dir;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

// ---------------------------------------------------------------------------------------------
// the contract

runRegistryBackendContract({
  name: 'local directory registry',
  async newBackend() {
    const root = await tempDir('modelgate-contract-');
    const backend = new LocalRegistry(root, root);
    const registry = openRegistry(backend);
    return {
      backend,
      async seed(name, count) {
        for (let i = 0; i < count; i++) await registry.register(IRIS, { name });
      },
      cleanup: () => rm(root, { recursive: true, force: true }),
    };
  },
});

// ---------------------------------------------------------------------------------------------
// local-only behaviour

describe('local registry: on-disk layout', () => {
  let root: string;
  let registry: Registry;

  beforeAll(async () => {
    root = await tempDir();
    registry = openRegistry(root);
    await registry.register(IRIS, { name: 'iris', alias: 'champion', description: 'first' });
    await registry.register(IRIS, { name: 'iris' });
  });

  it('writes models/<name>/{model.json,aliases/<alias>,versions/<N>/{version.json,artifacts/}} and an empty staging/', async () => {
    const m = join(root, 'models', 'iris');
    expect((await readdir(join(root))).sort()).toEqual(['models', 'staging']);
    expect(await readdir(join(root, 'staging'))).toEqual([]);
    expect((await readdir(m)).sort()).toEqual(['aliases', 'model.json', 'versions']);
    expect((await readdir(join(m, 'versions'))).sort()).toEqual(['1', '2']);
    expect(await readdir(join(m, 'aliases'))).toEqual(['champion']);
    expect((await readFile(join(m, 'aliases', 'champion'), 'utf8')).trim()).toBe('1');

    const model = JSON.parse(await readFile(join(m, 'model.json'), 'utf8'));
    expect(model.created_at).toBeTypeOf('number');
    expect(model.tags).toEqual({});

    for (const n of ['1', '2']) {
      expect((await readdir(join(m, 'versions', n))).sort()).toEqual(['artifacts', 'version.json']);
      expect((await readdir(join(m, 'versions', n, 'artifacts'))).sort()).toEqual((await readdir(IRIS)).sort());
    }
  });

  it('version.json records the source, flavour and the sha256 of every artifact', async () => {
    const rec = JSON.parse(await readFile(join(root, 'models', 'iris', 'versions', '1', 'version.json'), 'utf8'));
    expect(rec).toMatchObject({ format: 1, source: resolve(IRIS), flavor: 'onnx', description: 'first', tags: {} });
    const paths = (rec.files as { path: string }[]).map((f) => f.path);
    expect(paths).toEqual([...(await readdir(IRIS))].sort());
    for (const f of rec.files as { path: string; size: number; sha256: string }[]) {
      const data = await readFile(join(IRIS, f.path));
      expect(f.size, f.path).toBe(data.length);
      expect(f.sha256, f.path).toBe(sha256(data));
    }
    expect(rec.files.find((f: { path: string }) => f.path === 'model.onnx').sha256).toBe(IRIS_ONNX_SHA256);
  });

  it('getVersion exposes the recorded metadata', async () => {
    const v = await registry.backend.getVersion('iris', '1');
    expect(v).toMatchObject({
      name: 'iris',
      version: '1',
      status: 'READY',
      flavor: 'onnx',
      source: resolve(IRIS),
      description: 'first',
      aliases: ['champion'],
    });
    expect(v.files?.find((f) => f.path === 'model.onnx')?.sha256).toBe(IRIS_ONNX_SHA256);
    const v2 = await registry.backend.getVersion('iris', '2');
    expect(v2.description).toBeUndefined();
  });

  it('stores names that are not plain directory names, and lists them decoded', async () => {
    const names = ['team:iris v2', '.dotted', 'a%b', 'ünïcode'];
    for (const name of names) await registry.register(IRIS, { name, skipValidation: true });
    const listed = (await registry.listModels()).map((m) => m.name);
    for (const name of names) {
      expect(listed).toContain(name);
      expect((await registry.resolve(`models:/${name}/1`)).name).toBe(name);
    }
    // A leading dot is escaped so the model directory is never hidden or special.
    expect((await readdir(join(root, 'models'))).some((e) => e.startsWith('.'))).toBe(false);
  });

  it('materialize points into versions/<N>/artifacts', async () => {
    const v = await registry.resolve('models:/iris@champion');
    const m = await registry.materialize(v);
    expect(m.dir).toBe(join(root, 'models', 'iris', 'versions', '1', 'artifacts'));
  });
});

describe('local registry: atomic registration', () => {
  it('a leftover staged directory or half-created model never shows up, and numbering continues correctly', async () => {
    const root = await tempDir();
    const registry = openRegistry(root);
    await registry.register(IRIS, { name: 'iris' });

    // A registration that crashed while copying: partial files, no version.json.
    const staged = join(root, 'staging', `${Date.now()}-deadbeefdeadbeef`);
    await mkdir(join(staged, 'artifacts'), { recursive: true });
    await writeFile(join(staged, 'artifacts', 'model.onnx'), (await readFile(join(IRIS, 'model.onnx'))).subarray(0, 100));
    // One that crashed after writing version.json, just before the rename.
    const staged2 = join(root, 'staging', `${Date.now()}-feedfacefeedface`);
    await cp(IRIS, join(staged2, 'artifacts'), { recursive: true });
    await writeFile(
      join(staged2, 'version.json'),
      JSON.stringify({ format: 1, created_at: Date.now(), source: IRIS, flavor: 'onnx', tags: {}, files: [] }),
    );
    // A first registration of a new model that crashed after creating model.json.
    await mkdir(join(root, 'models', 'crashed', 'versions'), { recursive: true });
    await writeFile(join(root, 'models', 'crashed', 'model.json'), JSON.stringify({ created_at: Date.now(), tags: {} }));

    expect((await registry.listModels()).map((m) => m.name)).toEqual(['iris']);
    expect((await registry.listVersions('iris')).map((v) => v.version)).toEqual(['1']);
    await expect(registry.backend.getModel('crashed')).rejects.toMatchObject({ code: 'RESOURCE_DOES_NOT_EXIST' });
    await expect(registry.resolve('models:/crashed/latest')).rejects.toMatchObject({ code: 'RESOURCE_DOES_NOT_EXIST' });

    expect((await registry.register(IRIS, { name: 'iris' })).version).toBe('2');
    expect((await registry.register(IRIS, { name: 'crashed' })).version).toBe('1');
    expect((await registry.listModels()).map((m) => m.name)).toEqual(['crashed', 'iris']);
    // Fresh leftovers are left alone (another process may be using them).
    expect((await readdir(join(root, 'staging'))).sort()).toEqual([staged, staged2].map((p) => relative(join(root, 'staging'), p)).sort());
  });

  // A model directory without versions is a first registration that crashed after writing model.json.
  it('listVersions of a model whose first registration never completed is 404, like getModel', async () => {
    const root = await tempDir();
    await mkdir(join(root, 'models', 'crashed', 'versions'), { recursive: true });
    await writeFile(join(root, 'models', 'crashed', 'model.json'), JSON.stringify({ created_at: Date.now(), tags: {} }));
    await expect(openRegistry(root).listVersions('crashed')).rejects.toMatchObject({ code: 'RESOURCE_DOES_NOT_EXIST' });
  });

  it('staged directories older than a day are swept by the next registration', async () => {
    const root = await tempDir();
    const registry = openRegistry(root);
    const old = join(root, 'staging', '1000-0000000000000000');
    await mkdir(join(old, 'artifacts'), { recursive: true });
    await writeFile(join(old, 'artifacts', 'model.onnx'), 'partial');
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600 * 1000);
    await utimes(old, twoDaysAgo, twoDaysAgo);
    expect((await registry.register(IRIS, { name: 'iris' })).version).toBe('1');
    expect(await readdir(join(root, 'staging'))).toEqual([]);
  });
});

describe('local registry: digests', () => {
  let root: string;
  let registry: Registry;

  beforeAll(async () => {
    root = await tempDir();
    registry = openRegistry(root);
    for (let i = 0; i < 4; i++) await registry.register(IRIS, { name: 'dig' });
    const art = (n: number) => join(root, 'models', 'dig', 'versions', String(n), 'artifacts');
    // 1: model.onnx modified (same size, one byte flipped)
    const onnx = await readFile(join(art(1), 'model.onnx'));
    onnx[onnx.length - 1] ^= 0xff;
    await writeFile(join(art(1), 'model.onnx'), onnx);
    // 2: a file added, in a sub-directory
    await mkdir(join(art(2), 'extra'));
    await writeFile(join(art(2), 'extra', 'payload.py'), 'import os\n');
    // 3: a file deleted
    await unlink(join(art(3), 'input_example.json'));
    // 4: untouched
  });

  it.each([
    [1, /model\.onnx was modified/],
    [2, /extra\/payload\.py was added/],
    [3, /input_example\.json is missing/],
  ])('materialize refuses version %i with an error naming the file', async (n, why) => {
    const v = await registry.resolve(`models:/dig/${n}`);
    const err = await registry.materialize(v).then(
      () => undefined,
      (e: unknown) => e as Error & { code: string },
    );
    expect(err, 'materialize should have thrown').toBeDefined();
    expect(err!.code).toBe('DATA_LOSS');
    expect(err!.message).toMatch(why);
    expect(err!.message).toContain(`models:/dig/${n}`);
  });

  it('an untouched version still materializes', async () => {
    const m = await registry.materialize(await registry.resolve('models:/dig/4'));
    expect(m.files.map((f) => f.path)).toContain('model.onnx');
  });

  it('a changed README (not only the model file) is detected too', async () => {
    const art = join(root, 'models', 'dig', 'versions', '4', 'artifacts');
    const before = await readFile(join(art, 'README.md'));
    await writeFile(join(art, 'README.md'), Buffer.concat([before, Buffer.from('\n')]));
    try {
      await expect(registry.materialize(await registry.resolve('models:/dig/4'))).rejects.toThrow(/README\.md was modified/);
    } finally {
      await writeFile(join(art, 'README.md'), before);
    }
    await registry.materialize(await registry.resolve('models:/dig/4'));
  });
});

describe('local registry: validation at registration', () => {
  let parent: string;
  let root: string;
  let registry: Registry;

  beforeAll(async () => {
    parent = await tempDir();
    root = join(parent, 'reg');
    registry = openRegistry(root);
  });

  async function expectNothingRegistered(name: string): Promise<void> {
    await expect(registry.backend.getModel(name)).rejects.toMatchObject({ code: 'RESOURCE_DOES_NOT_EXIST' });
    expect((await registry.listModels()).map((m) => m.name)).not.toContain(name);
    expect(existsSync(join(root, 'models', name))).toBe(false);
    expect(await readdir(join(root, 'staging'))).toEqual([]);
  }

  it('rejects a model whose serving example does not score (wrong width), leaving no version', async () => {
    const dir = await irisCopy(parent, 'wrong-width');
    await writeFile(join(dir, 'serving_input_example.json'), '{"inputs": [[5.1, 3.5, 1.4]]}');
    await expect(registry.register(dir, { name: 'wrong-width' })).rejects.toThrow(/serving input example does not score.*[Ss]hape/s);
    await expectNothingRegistered('wrong-width');
  });

  it('rejects a garbage model.onnx with the reason, leaving no version', async () => {
    const dir = await irisCopy(parent, 'garbage');
    await writeFile(join(dir, 'model.onnx'), 'this is not a protobuf at all');
    await expect(registry.register(dir, { name: 'garbage' })).rejects.toThrow(/model\.onnx.*(protobuf|parse)/is);
    await expectNothingRegistered('garbage');
  });

  it('a refused registration does not take a version number', async () => {
    const bad = await irisCopy(parent, 'bad-for-existing');
    await writeFile(join(bad, 'serving_input_example.json'), '{"inputs": [[1, 2, 3, 4, 5]]}');
    expect((await registry.register(IRIS, { name: 'existing' })).version).toBe('1');
    await expect(registry.register(bad, { name: 'existing', alias: 'champion' })).rejects.toThrow(/does not score/);
    await expect(registry.backend.getVersionByAlias('existing', 'champion')).rejects.toMatchObject({ code: 'RESOURCE_DOES_NOT_EXIST' });
    expect((await registry.register(IRIS, { name: 'existing' })).version).toBe('2');
    expect(await readdir(join(root, 'staging'))).toEqual([]);
  });

  it('rejects a directory that does not exist, or that no flavour recognises', async () => {
    await expect(registry.register(join(parent, 'nope'), { name: 'nope' })).rejects.toMatchObject({ code: 'RESOURCE_DOES_NOT_EXIST' });
    const empty = join(parent, 'empty');
    await mkdir(empty);
    await writeFile(join(empty, 'notes.txt'), 'hello');
    await expect(registry.register(empty, { name: 'empty' })).rejects.toThrow(/no MLmodel file and no flavour recognises/);
    await expectNothingRegistered('empty');
  });

  it('a bare directory with only model.onnx registers with a generated MLmodel carrying the inferred signature', async () => {
    const bare = join(parent, 'bare');
    await mkdir(bare);
    await cp(join(IRIS, 'model.onnx'), join(bare, 'model.onnx'));
    const v = await registry.register(bare, { name: 'bare' });
    expect(v).toMatchObject({ version: '1', flavor: 'onnx' });
    expect(v.files?.map((f) => f.path)).toEqual(['MLmodel', 'model.onnx']);
    // The source directory is not touched.
    expect(await readdir(bare)).toEqual(['model.onnx']);
    const m = await registry.materialize(v);
    const doc = parseYaml(await readFile(join(m.dir, 'MLmodel'), 'utf8'));
    expect(doc.flavors.onnx).toMatchObject({ data: 'model.onnx' });
    expect(JSON.parse(doc.signature.inputs)).toEqual([
      { type: 'tensor', 'tensor-spec': { dtype: 'float32', shape: [-1, 4] }, name: 'input' },
    ]);
    expect(JSON.parse(doc.signature.outputs)).toEqual([
      { type: 'tensor', 'tensor-spec': { dtype: 'float32', shape: [-1, 3] }, name: 'probabilities' },
      { type: 'tensor', 'tensor-spec': { dtype: 'int64', shape: [-1] }, name: 'label' },
    ]);
  });
});

describe('local registry: name and alias validation', () => {
  let root: string;
  let registry: Registry;

  beforeAll(async () => {
    root = await tempDir();
    registry = openRegistry(root);
    await registry.register(IRIS, { name: 'iris' });
  });

  it.each(['a/b', '', '..', '.', 'a\\b', 'a@b', 'tab\there', 'x'.repeat(257)])('refuses the model name %j', async (name) => {
    await expect(registry.register(IRIS, { name })).rejects.toMatchObject({
      code: 'INVALID_PARAMETER_VALUE',
      message: expect.stringContaining(`Invalid model name '${name}'`),
    });
    expect((await registry.listModels()).map((m) => m.name)).toEqual(['iris']);
    expect(await readdir(join(root, 'staging'))).toEqual([]);
  });

  it.each(['latest', 'LATEST', 'v1', 'V12', 'a/b', '', 'has space', 'dot.ted', 'x'.repeat(256)])('refuses the alias %j', async (alias) => {
    const expected = { code: 'INVALID_PARAMETER_VALUE', message: expect.stringContaining(`Invalid alias '${alias}'`) };
    await expect(registry.register(IRIS, { name: 'iris', alias })).rejects.toMatchObject(expected);
    await expect(registry.setAlias('iris', alias, '1')).rejects.toMatchObject(expected);
    // Nothing was registered and no alias written.
    expect((await registry.listVersions('iris')).map((v) => v.version)).toEqual(['1']);
    expect((await registry.backend.getModel('iris')).aliases).toEqual({});
  });

  it('the messages say what is allowed', async () => {
    await expect(registry.setAlias('iris', 'latest', '1')).rejects.toThrow(/'latest' and 'v<number>' are reserved/);
    await expect(registry.register(IRIS, { name: 'a/b' })).rejects.toThrow(/without '\/'/);
  });

  it.each(['champion', 'Champion_2', 'blue-green', 'v1beta', 'latest2', 'x'.repeat(230)])('accepts the alias %j', async (alias) => {
    await registry.setAlias('iris', alias, '1');
    expect((await registry.resolve(`models:/iris@${alias}`)).version).toBe('1');
    expect(await registry.deleteAlias('iris', alias)).toBe(true);
  });

  // Alias files are written through a short hidden temp name, so the 255-character maximum fits NAME_MAX.
  it('accepts a 255-character alias, the documented maximum', async () => {
    const alias = 'x'.repeat(255);
    await registry.setAlias('iris', alias, '1');
    expect((await registry.resolve(`models:/iris@${alias}`)).version).toBe('1');
  });

  // Names whose percent-encoding would exceed NAME_MAX get a hashed folder name.
  it.each(['y'.repeat(256), 'ü'.repeat(50)])('registers a model name that validateModelName accepts (%#)', async (name) => {
    expect((await registry.register(IRIS, { name, skipValidation: true })).version).toBe('1');
  });

  it('a name over 256 characters is refused up front and leaves nothing behind', async () => {
    const before = (await registry.listModels()).map((m) => m.name);
    await expect(registry.register(IRIS, { name: 'z'.repeat(257), skipValidation: true })).rejects.toMatchObject({
      code: 'INVALID_PARAMETER_VALUE',
    });
    expect((await registry.listModels()).map((m) => m.name)).toEqual(before);
    expect(await readdir(join(root, 'staging')).catch(() => [])).toEqual([]);
  });

  it('non-numeric versions are INVALID_PARAMETER_VALUE', async () => {
    await expect(registry.backend.getVersion('iris', 'abc')).rejects.toMatchObject({ code: 'INVALID_PARAMETER_VALUE' });
    await expect(registry.setAlias('iris', 'champion', '0')).rejects.toMatchObject({ code: 'INVALID_PARAMETER_VALUE' });
  });
});

describe('local registry: file: URI forms', () => {
  let parent: string;
  let abs: string;

  beforeAll(async () => {
    parent = await tempDir('modelgate uri '); // a space, to exercise URL encoding
    abs = join(parent, 'reg');
    await openRegistry(abs).register(IRIS, { name: 'iris', alias: 'champion' });
  });

  it.each([
    ['a bare absolute path', () => abs],
    ['a bare relative path', () => relative(process.cwd(), abs)],
    ['file:<relative>', () => `file:${relative(process.cwd(), abs)}`],
    ['file:./<relative>', () => `file:./${relative(process.cwd(), abs)}`],
    ['file:///<absolute> (percent-encoded)', () => pathToFileURL(abs).href],
    ['file:/<absolute>', () => `file:${abs}`],
  ])('%s', async (_label, uri) => {
    const u = uri();
    const registry = openRegistry(u);
    expect(registry.uri).toBe(u);
    expect((registry.backend as LocalRegistry).root).toBe(abs);
    expect((await registry.resolve('models:/iris@champion')).version).toBe('1');
  });

  it('an empty file: URI and an unknown scheme are clear errors', () => {
    expect(() => openRegistry('file:')).toThrow(/has no path/);
    expect(() => openRegistry('s3://bucket/registry')).toThrow(/Unknown registry URI scheme 's3:'.*file:/);
  });
});
