/**
 * The behaviour every RegistryBackend must have, as a reusable suite. A backend's test file calls
 * `runRegistryBackendContract` with a factory; the suite seeds two models through the fixture and
 * checks reads, aliases and materialize against them.
 *
 * The fixture's `seed(name, count)` must add `count` new READY versions of `name` (creating the
 * model if needed); on a fresh name they are versions 1..count. Model names carry a per-run suffix
 * so the suite can run against a shared server (MLflow) without colliding with other data.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelVersion, RegistryBackend } from '../../src/registry/backend.js';

export interface RegistryBackendFixture {
  backend: RegistryBackend;
  /** Adds `count` versions of `name` (creating it if needed). */
  seed: (name: string, count: number) => Promise<void>;
  cleanup(): Promise<void>;
}

export interface RegistryBackendContractOptions {
  name: string;
  newBackend: () => Promise<RegistryBackendFixture>;
}

const NOT_FOUND = { code: 'RESOURCE_DOES_NOT_EXIST', status: 404 } as const;

async function expectNotFound(p: Promise<unknown>): Promise<void> {
  await expect(p).rejects.toMatchObject(NOT_FOUND);
}

const versionsOf = (vs: readonly ModelVersion[]) => vs.map((v) => v.version);

export function runRegistryBackendContract(options: RegistryBackendContractOptions): void {
  describe(`RegistryBackend contract: ${options.name}`, () => {
    const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    const A = `contract-alpha-${run}`; // 3 versions
    const B = `contract-beta-${run}`; // 1 version
    const MISSING = `contract-missing-${run}`;
    let fx: RegistryBackendFixture | undefined;
    let backend: RegistryBackend;

    beforeAll(async () => {
      fx = await options.newBackend();
      backend = fx.backend;
      await fx.seed(A, 3);
      await fx.seed(B, 1);
    });

    afterAll(async () => {
      await fx?.cleanup();
    });

    it('has a uri', () => {
      expect(typeof backend.uri).toBe('string');
      expect(backend.uri.length).toBeGreaterThan(0);
    });

    describe('models', () => {
      it('listModels includes every seeded model with its latest version', async () => {
        const models = await backend.listModels();
        const byName = new Map(models.map((m) => [m.name, m]));
        expect(byName.get(A)).toMatchObject({ name: A, latestVersion: '3' });
        expect(byName.get(B)).toMatchObject({ name: B, latestVersion: '1' });
        expect(byName.has(MISSING)).toBe(false);
      });

      it('getModel returns the model', async () => {
        const m = await backend.getModel(A);
        expect(m.name).toBe(A);
        expect(typeof m.createdAt).toBe('number');
        expect(Number.isFinite(m.createdAt)).toBe(true);
        expect(m.createdAt).toBeGreaterThan(Date.UTC(2000, 0, 1));
        expect(m.tags).toBeTypeOf('object');
        expect(m.aliases).toEqual({});
        expect(m.latestVersion).toBe('3');
      });

      it('getModel of an unknown model is RESOURCE_DOES_NOT_EXIST (404)', async () => {
        await expectNotFound(backend.getModel(MISSING));
      });
    });

    describe('versions', () => {
      it('listVersions is ascending by version number', async () => {
        const vs = await backend.listVersions(A);
        expect(versionsOf(vs)).toEqual(['1', '2', '3']);
        for (const v of vs) {
          expect(v.name).toBe(A);
          expect(v.status).toBe('READY');
          expect(Array.isArray(v.aliases)).toBe(true);
          expect(v.tags).toBeTypeOf('object');
          expect(typeof v.createdAt).toBe('number');
        }
        expect(versionsOf(await backend.listVersions(B))).toEqual(['1']);
      });

      it('listVersions of an unknown model is 404', async () => {
        await expectNotFound(backend.listVersions(MISSING));
      });

      it('getVersion returns that version', async () => {
        const v = await backend.getVersion(A, '2');
        expect(v).toMatchObject({ name: A, version: '2', status: 'READY' });
      });

      it('getVersion of an unknown version or model is RESOURCE_DOES_NOT_EXIST (404)', async () => {
        await expectNotFound(backend.getVersion(A, '4'));
        await expectNotFound(backend.getVersion(A, '999'));
        await expectNotFound(backend.getVersion(B, '2'));
        await expectNotFound(backend.getVersion(MISSING, '1'));
      });

      it('getLatestVersion is the highest version', async () => {
        expect((await backend.getLatestVersion(A)).version).toBe('3');
        expect((await backend.getLatestVersion(B)).version).toBe('1');
      });

      it('getLatestVersion of an unknown model is 404', async () => {
        await expectNotFound(backend.getLatestVersion(MISSING));
      });

      it('versions are numbered decimal strings that sort numerically', async () => {
        await fx!.seed(B, 10); // B now has 1..11: "10" and "11" must come after "9", not after "1".
        const vs = versionsOf(await backend.listVersions(B));
        expect(vs).toEqual(Array.from({ length: 11 }, (_, i) => String(i + 1)));
        expect((await backend.getLatestVersion(B)).version).toBe('11');
        expect((await backend.getModel(B)).latestVersion).toBe('11');
      });
    });

    describe('aliases', () => {
      it('setAlias makes getVersionByAlias resolve, and the alias shows on the version and the model', async () => {
        await backend.setAlias(A, 'champion', '2');
        const v = await backend.getVersionByAlias(A, 'champion');
        expect(v).toMatchObject({ name: A, version: '2' });
        expect(v.aliases).toContain('champion');
        expect((await backend.getVersion(A, '2')).aliases).toContain('champion');
        expect((await backend.getVersion(A, '1')).aliases).not.toContain('champion');
        expect((await backend.getModel(A)).aliases).toEqual({ champion: '2' });
        const listed = await backend.listVersions(A);
        expect(listed.find((x) => x.version === '2')?.aliases).toEqual(['champion']);
        expect(listed.filter((x) => x.version !== '2').every((x) => x.aliases.length === 0)).toBe(true);
        expect((await backend.listModels()).find((m) => m.name === A)?.aliases).toEqual({ champion: '2' });
      });

      it('aliases belong to one model', async () => {
        await expectNotFound(backend.getVersionByAlias(B, 'champion'));
        expect((await backend.getModel(B)).aliases).toEqual({});
      });

      it('setAlias moves an existing alias; a version can carry several aliases', async () => {
        await backend.setAlias(A, 'challenger', '3');
        await backend.setAlias(A, 'challenger', '1');
        await backend.setAlias(A, 'stable', '1');
        expect((await backend.getVersionByAlias(A, 'challenger')).version).toBe('1');
        expect((await backend.getVersion(A, '3')).aliases).not.toContain('challenger');
        expect([...(await backend.getVersion(A, '1')).aliases].sort()).toEqual(['challenger', 'stable']);
        expect((await backend.getModel(A)).aliases).toEqual({ champion: '2', challenger: '1', stable: '1' });
      });

      it('getVersionByAlias of an unknown alias or unknown model is RESOURCE_DOES_NOT_EXIST (404)', async () => {
        await expectNotFound(backend.getVersionByAlias(A, 'no-such-alias'));
        await expectNotFound(backend.getVersionByAlias(MISSING, 'champion'));
      });

      it('setAlias on an unknown version or model is 404 and creates nothing', async () => {
        await expectNotFound(backend.setAlias(A, 'ghost', '99'));
        await expectNotFound(backend.setAlias(MISSING, 'ghost', '1'));
        await expectNotFound(backend.getVersionByAlias(A, 'ghost'));
        expect((await backend.getModel(A)).aliases).not.toHaveProperty('ghost');
      });

      it('deleteAlias returns true once, then false; the alias is gone everywhere', async () => {
        await backend.setAlias(A, 'temp', '3');
        expect(await backend.deleteAlias(A, 'temp')).toBe(true);
        await expectNotFound(backend.getVersionByAlias(A, 'temp'));
        expect((await backend.getVersion(A, '3')).aliases).not.toContain('temp');
        expect((await backend.getModel(A)).aliases).not.toHaveProperty('temp');
        expect(await backend.deleteAlias(A, 'temp')).toBe(false);
      });

      it('deleteAlias returns false for an alias that never existed', async () => {
        expect(await backend.deleteAlias(A, 'never-set')).toBe(false);
      });

      it('deleting one alias leaves the others', async () => {
        expect(await backend.deleteAlias(A, 'stable')).toBe(true);
        expect((await backend.getModel(A)).aliases).toEqual({ champion: '2', challenger: '1' });
      });
    });

    describe('materialize', () => {
      it('returns a local directory holding the version files', async () => {
        const v = await backend.getVersion(A, '1');
        const m = await backend.materialize(v);
        expect((await stat(m.dir)).isDirectory()).toBe(true);
        const entries = await readdir(m.dir, { recursive: true });
        expect(entries.length).toBeGreaterThan(0);
        expect(m.files.length).toBeGreaterThan(0);
        for (const f of m.files) {
          const abs = join(m.dir, ...f.path.split('/'));
          const data = await readFile(abs);
          expect(data.length, f.path).toBe(f.size);
          expect(createHash('sha256').update(data).digest('hex'), f.path).toBe(f.sha256);
        }
        if (v.files !== undefined) {
          expect([...m.files.map((f) => f.path)].sort()).toEqual([...v.files.map((f) => f.path)].sort());
        }
      });

      it('materializes a version resolved through an alias', async () => {
        const v = await backend.getVersionByAlias(A, 'champion');
        const m = await backend.materialize(v);
        expect((await readdir(m.dir)).length).toBeGreaterThan(0);
      });
    });
  });
}
