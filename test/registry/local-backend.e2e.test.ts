/**
 * The local directory registry across `modelgate` processes (the built CLI): a registration
 * killed with SIGKILL leaves no version, four racing processes get versions 1..4, `serve` refuses
 * a tampered version, and `file:./x` is relative to the CLI's working directory. In-process
 * behaviour: local-backend.test.ts.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRegistry } from '../../src/core/registration.js';
import { IRIS, killAll, requireBuiltCli, runCli, sleep, startCli } from '../fixtures/cli.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const temp = tempDirs('modelgate-local-cli-');
const tempDir = temp.make;

afterAll(async () => {
  killAll();
  await temp.removeAll();
});

/** A copy of examples/iris to mutate. */
async function irisCopy(parent: string, name: string): Promise<string> {
  const dir = join(parent, name);
  await cp(IRIS, dir, { recursive: true });
  return dir;
}

beforeAll(requireBuiltCli);

describe('local registry: atomic registration', () => {
  describe('a registering process killed with SIGKILL', () => {
    let parent: string;
    let big: string;

    beforeAll(async () => {
      parent = await tempDir();
      big = await irisCopy(parent, 'big');
      await writeFile(join(big, 'weights.bin'), Buffer.alloc(50 * 1024 * 1024, 0x5a));
    });

    /** Kills `registry register big` as soon as `when(stagedEntry)` holds; returns the registry root. */
    async function killDuringRegistration(label: string, when: (staged: string) => boolean): Promise<string> {
      const root = join(parent, `reg-${label}`);
      await mkdir(root);
      // Version 1 exists; the killed registration would have been version 2.
      expect((await runCli(['registry', 'register', IRIS, '--name', 'big', '--registry', root])).stdout.trim()).toBe('1');
      const { child, done } = startCli(['registry', 'register', big, '--name', 'big', '--registry', root]);
      const staging = join(root, 'staging');
      const deadline = Date.now() + 20_000;
      let killed = false;
      while (!killed && Date.now() < deadline && child.exitCode === null) {
        const entries = existsSync(staging) ? readdirSync(staging) : [];
        if (entries.some((e) => when(join(staging, e)))) {
          child.kill('SIGKILL');
          killed = true;
        } else {
          await sleep(2);
        }
      }
      const result = await done;
      expect(killed, `the registration finished before it could be killed: ${JSON.stringify(result)}`).toBe(true);
      expect(result.signal).toBe('SIGKILL');
      // The killed registration left its staged directory behind: that is the crash being simulated.
      expect(readdirSync(staging)).toHaveLength(1);
      return root;
    }

    async function expectNoTrace(root: string): Promise<void> {
      const registry = openRegistry(root);
      expect((await registry.listVersions('big')).map((v) => v.version)).toEqual(['1']);
      expect(await readdir(join(root, 'models', 'big', 'versions'))).toEqual(['1']);
      expect((await registry.backend.getModel('big')).latestVersion).toBe('1');
      // The next registration takes the next number and is complete.
      const r = await runCli(['registry', 'register', big, '--name', 'big', '--registry', root]);
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe('2');
      const v2 = await registry.resolve('models:/big/latest');
      expect(v2.version).toBe('2');
      const m = await registry.materialize(v2);
      expect(statSync(join(m.dir, 'weights.bin')).size).toBe(50 * 1024 * 1024);
    }

    it('while copying the files leaves no version', async () => {
      const root = await killDuringRegistration('copying', () => true);
      await expectNoTrace(root);
    });

    it('after the copy (while validating and hashing) leaves no version', async () => {
      const root = await killDuringRegistration('hashing', (staged) => {
        try {
          return statSync(join(staged, 'artifacts', 'weights.bin')).size === 50 * 1024 * 1024;
        } catch {
          return false;
        }
      });
      await expectNoTrace(root);
    });
  });
});

describe('local registry: concurrent registration from separate processes', () => {
  it('four processes registering the same new name get versions 1..4, no gaps, no duplicates', async () => {
    const root = await tempDir();
    const results = await Promise.all(
      [0, 1, 2, 3].map(() => runCli(['registry', 'register', IRIS, '--name', 'race', '--registry', root], { timeoutMs: 45_000 })),
    );
    for (const r of results) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
    expect(results.map((r) => r.stdout.trim()).sort()).toEqual(['1', '2', '3', '4']);
    const registry = openRegistry(root);
    expect((await registry.listVersions('race')).map((v) => v.version)).toEqual(['1', '2', '3', '4']);
    expect(await readdir(join(root, 'staging'))).toEqual([]);
    // Every version is complete and verifiable.
    for (const v of await registry.listVersions('race')) await registry.materialize(v);
    // model.json was written once and is intact.
    expect(JSON.parse(await readFile(join(root, 'models', 'race', 'model.json'), 'utf8'))).toMatchObject({ tags: {} });
    expect((await readdir(join(root, 'models', 'race'))).sort()).toEqual(['model.json', 'versions']);
  });
});

describe('local registry: digests', () => {
  let root: string;

  beforeAll(async () => {
    root = await tempDir();
    const registry = openRegistry(root);
    for (let i = 0; i < 3; i++) await registry.register(IRIS, { name: 'dig' });
    const art = (n: number) => join(root, 'models', 'dig', 'versions', String(n), 'artifacts');
    // 1: model.onnx modified (same size, one byte flipped)
    const onnx = await readFile(join(art(1), 'model.onnx'));
    onnx[onnx.length - 1] ^= 0xff;
    await writeFile(join(art(1), 'model.onnx'), onnx);
    // 3: a file deleted
    await unlink(join(art(3), 'input_example.json'));
  });

  it('modelgate serve refuses a tampered version: exits non-zero naming the file', async () => {
    const r = await runCli(['serve', '-m', 'models:/dig/1', '--registry', root, '-p', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot load models:\/dig\/1/);
    expect(r.stderr).toMatch(/model\.onnx was modified/);
    const r3 = await runCli(['serve', '-m', 'models:/dig/3', '--registry', root, '-p', '0']);
    expect(r3.code).toBe(1);
    expect(r3.stderr).toMatch(/input_example\.json is missing/);
  });
});

describe('local registry: file: URI forms', () => {
  it('file:./x is relative to the working directory of the CLI', async () => {
    const cwd = await tempDir();
    const r = await runCli(['registry', 'register', IRIS, '--name', 'iris', '--registry', 'file:./x'], { cwd });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('1');
    expect((await stat(join(cwd, 'x', 'models', 'iris', 'versions', '1', 'version.json'))).isFile()).toBe(true);
    const url = await runCli(['registry', 'versions', 'iris', '--json', '--registry', pathToFileURL(join(cwd, 'x')).href]);
    expect(JSON.parse(url.stdout).map((v: { version: string }) => v.version)).toEqual(['1']);
    // The default registry is file:./registry, relative to the working directory.
    const d = await runCli(['registry', 'register', IRIS, '--name', 'iris'], { cwd });
    expect(d.stdout.trim()).toBe('1');
    expect(existsSync(join(cwd, 'registry', 'models', 'iris', 'versions', '1'))).toBe(true);
  });
});
