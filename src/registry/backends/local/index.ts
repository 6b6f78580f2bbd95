/**
 * The embedded registry: a directory on local disk, in the layout of ./layout.ts.
 *
 * A version becomes visible by one rename of a complete staged directory to versions/<N>; the
 * rename fails if <N> exists (it is never empty), so concurrent registrations take distinct
 * numbers without a lock and a crash at any point leaves nothing half-visible. Aliases are files
 * replaced by rename, so every alias write is atomic too.
 */
import { existsSync, readFileSync, watch } from 'node:fs';
import { cp, link, mkdir, readFile, readdir, realpath, rename, rm, stat, unlink } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { GatewayError, ResourceNotFoundError } from '../../../errors.js';
import { digestTree, leftByCrash, listFiles, ownedName, writeFileAtomic } from '../../../util/files.js';
import { validateAlias, validateModelName } from '../../names.js';
import type { MaterializedModel, ModelVersion, RegisterOptions, RegisteredModel, RegistryBackend } from '../../backend.js';
import { dict } from '../../../util/dict.js';
import {
  ARTIFACTS_DIR,
  MODEL_FILE,
  VERSION_FILE,
  modelFolderName,
  modelRecordJson,
  versionRecordJson,
  type ModelRecord,
  type VersionRecord,
} from './layout.js';

export { modelFolderName } from './layout.js';

/** What remains of a deleted version: its number stays taken. */
const TOMBSTONE = 'deleted';
const STALE_STAGING_MS = 24 * 3600 * 1000;

export class RegistryIntegrityError extends GatewayError {
  constructor(message: string) {
    super('DATA_LOSS', message);
  }
}

function validateVersion(version: string): string {
  if (!/^\d+$/.test(version) || Number(version) < 1) {
    throw new GatewayError('INVALID_PARAMETER_VALUE', `Invalid version '${version}': versions are positive integers.`);
  }
  return String(Number(version));
}

/** The folder registries written before `~` was encoded gave a short name that holds one. */
function legacyFolderName(name: string): string | undefined {
  if (!name.includes('~')) return undefined;
  const encoded = encodeURIComponent(name).replace(/^\./, '%2E');
  return encoded.length <= 200 ? encoded : undefined;
}

function decodeFolderName(folder: string): string | undefined {
  try {
    return decodeURIComponent(folder);
  } catch {
    return undefined; // not a folder we made
  }
}

function readRecordName(modelDir: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(modelDir, MODEL_FILE), 'utf8')) as ModelRecord).name;
  } catch {
    return undefined;
  }
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export class LocalRegistry implements RegistryBackend {
  readonly root: string;

  constructor(
    readonly uri: string,
    root: string,
  ) {
    this.root = resolve(root);
  }

  private modelDir(name: string): string {
    validateModelName(name);
    const dir = join(this.root, 'models', modelFolderName(name));
    const legacy = legacyFolderName(name);
    // A short name with '~' registered before it was encoded keeps its folder (its own record names it).
    if (legacy !== undefined && !existsSync(dir)) {
      const old = join(this.root, 'models', legacy);
      const recorded = readRecordName(old);
      if (recorded === name || (recorded === undefined && existsSync(old) && !/~[0-9a-f]{40}$/.test(legacy))) return old;
    }
    return dir;
  }

  private async requireModel(name: string): Promise<string> {
    const dir = this.modelDir(name);
    if ((await stat(dir).catch(() => undefined)) === undefined) {
      throw new ResourceNotFoundError(`Registered Model with name=${name} not found`);
    }
    return dir;
  }

  /**
   * The visible versions, ascending. `taken` also counts deleted ones (their folder stays, holding
   * only a tombstone), so a number is never given out twice, as in MLflow.
   */
  private async versionNumbers(modelDir: string, taken = false): Promise<number[]> {
    const entries = (await readdir(join(modelDir, 'versions')).catch(() => [] as string[])).filter((e) => /^\d+$/.test(e));
    const visible = taken
      ? entries
      : (
          await Promise.all(
            entries.map(async (e) => ((await stat(join(modelDir, 'versions', e, VERSION_FILE)).catch(() => undefined)) ? e : undefined)),
          )
        ).filter((e): e is string => e !== undefined);
    return visible.map(Number).sort((a, b) => a - b);
  }

  private async aliasMap(modelDir: string): Promise<Record<string, string>> {
    const dir = join(modelDir, 'aliases');
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => !n.startsWith('.'));
    const out = dict<string>();
    for (const n of names.sort()) {
      const v = (await readFile(join(dir, n), 'utf8').catch(() => '')).trim();
      if (/^\d+$/.test(v)) out[n] = v;
    }
    return out;
  }

  private async readVersion(name: string, modelDir: string, version: string, aliases?: Record<string, string>): Promise<ModelVersion> {
    const rec = await readJson<VersionRecord>(join(modelDir, 'versions', version, VERSION_FILE));
    if (rec === undefined) throw new ResourceNotFoundError(`Model Version (name=${name}, version=${version}) not found`);
    const al = aliases ?? (await this.aliasMap(modelDir));
    return {
      name,
      version,
      createdAt: rec.created_at,
      status: 'READY',
      aliases: Object.keys(al).filter((a) => al[a] === version),
      source: rec.source,
      ...(rec.description === undefined ? {} : { description: rec.description }),
      tags: rec.tags,
      flavor: rec.flavor,
      files: rec.files,
    };
  }

  async listModels(): Promise<RegisteredModel[]> {
    const entries = await readdir(join(this.root, 'models')).catch(() => [] as string[]);
    const names: string[] = [];
    for (const e of entries) {
      const rec = await readJson<ModelRecord>(join(this.root, 'models', e, MODEL_FILE)).catch(() => undefined);
      if (rec === undefined) continue;
      // Records of short names may lack `name`: their folder name is the encoded name.
      const name = rec.name ?? decodeFolderName(e);
      if (name !== undefined) names.push(name);
    }
    const out: RegisteredModel[] = [];
    for (const name of names.sort()) {
      const m = await this.getModel(name).catch(() => undefined);
      if (m) out.push(m);
    }
    return out;
  }

  async getModel(name: string): Promise<RegisteredModel> {
    const dir = await this.requireModel(name);
    const rec = await readJson<ModelRecord>(join(dir, MODEL_FILE));
    const versions = await this.versionNumbers(dir);
    // A model directory without a version is a registration that never completed.
    if (rec === undefined || versions.length === 0) throw new ResourceNotFoundError(`Registered Model with name=${name} not found`);
    return {
      name,
      createdAt: rec.created_at,
      ...(rec.description === undefined ? {} : { description: rec.description }),
      tags: rec.tags,
      aliases: await this.aliasMap(dir),
      latestVersion: String(versions[versions.length - 1]),
    };
  }

  async listVersions(name: string): Promise<ModelVersion[]> {
    const dir = await this.requireModel(name);
    const aliases = await this.aliasMap(dir);
    const nums = await this.versionNumbers(dir);
    // A model folder without versions is a first registration that never completed.
    if (nums.length === 0) throw new ResourceNotFoundError(`Registered Model with name=${name} not found`);
    return Promise.all(nums.map((n) => this.readVersion(name, dir, String(n), aliases)));
  }

  async getVersion(name: string, version: string): Promise<ModelVersion> {
    const dir = await this.requireModel(name);
    return this.readVersion(name, dir, validateVersion(version));
  }

  async getVersionByAlias(name: string, alias: string): Promise<ModelVersion> {
    const dir = await this.requireModel(name);
    const aliases = await this.aliasMap(dir);
    const version = aliases[alias];
    if (version === undefined) throw new ResourceNotFoundError(`Registered model alias ${alias} not found.`);
    return this.readVersion(name, dir, version, aliases);
  }

  async getLatestVersion(name: string, stage?: string): Promise<ModelVersion> {
    if (stage !== undefined) {
      throw new GatewayError(
        'INVALID_PARAMETER_VALUE',
        `Stages ('${stage}') are a deprecated MLflow registry feature; the local registry uses aliases: models:/${name}@<alias>.`,
      );
    }
    const dir = await this.requireModel(name);
    const nums = await this.versionNumbers(dir);
    if (nums.length === 0) throw new ResourceNotFoundError(`Registered Model with name=${name} has no versions`);
    return this.readVersion(name, dir, String(nums[nums.length - 1]));
  }

  async setAlias(name: string, alias: string, version: string): Promise<void> {
    validateAlias(alias);
    const v = validateVersion(version);
    const dir = await this.requireModel(name);
    await this.readVersion(name, dir, v); // must exist
    await mkdir(join(dir, 'aliases'), { recursive: true });
    await writeFileAtomic(join(dir, 'aliases', alias), `${v}\n`);
  }

  async deleteAlias(name: string, alias: string): Promise<boolean> {
    validateAlias(alias);
    const dir = await this.requireModel(name);
    try {
      await unlink(join(dir, 'aliases', alias));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  /**
   * Deletes a version: its metadata first (it is gone for readers from that instant), its files
   * after, and a tombstone keeps its number taken. Aliases pointing at it are removed too; the
   * Registry refuses to get here for one unless forced.
   */
  async deleteVersion(name: string, version: string): Promise<void> {
    const dir = await this.requireModel(name);
    const v = validateVersion(version);
    const vdir = join(dir, 'versions', v);
    await this.readVersion(name, dir, v); // must exist
    await writeFileAtomic(join(vdir, TOMBSTONE), `${new Date().toISOString()}\n`);
    await unlink(join(vdir, VERSION_FILE));
    const aliases = await this.aliasMap(dir);
    for (const [alias, target] of Object.entries(aliases))
      if (target === v) await unlink(join(dir, 'aliases', alias)).catch(() => undefined);
    await this.discard(join(vdir, ARTIFACTS_DIR));
  }

  /** Deletes a model with everything it holds; the Registry refuses to get here for one with versions unless forced. */
  async deleteModel(name: string): Promise<void> {
    await this.discard(await this.requireModel(name));
  }

  /** Moves a folder out of sight in one rename (under staging/, swept if this process dies), then removes it. */
  private async discard(path: string): Promise<void> {
    const staging = join(this.root, 'staging');
    await mkdir(staging, { recursive: true });
    const trash = join(staging, ownedName(`${Date.now()}-deleted-`));
    try {
      await rename(path, trash);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    await rm(trash, { recursive: true, force: true });
  }

  /** inotify on the model's aliases/ and versions/ folders; polling stays the safety net. */
  watchModel(name: string, onChange: () => void): () => void {
    const dir = this.modelDir(name);
    let timer: NodeJS.Timeout | undefined;
    const fire = () => {
      clearTimeout(timer);
      timer = setTimeout(onChange, 20); // one notice for a burst of events
    };
    const watchers = ['aliases', 'versions'].flatMap((sub) => {
      try {
        const w = watch(join(dir, sub), { persistent: false }, fire);
        w.on('error', () => w.close());
        return [w];
      } catch {
        return []; // not there yet (no alias set): polling covers it
      }
    });
    return () => {
      clearTimeout(timer);
      for (const w of watchers) w.close();
    };
  }

  /** Checks every file against its recorded sha256, and that nothing was added. */
  async materialize(version: ModelVersion): Promise<MaterializedModel> {
    const modelDir = await this.requireModel(version.name);
    const v = validateVersion(version.version);
    const rec = await readJson<VersionRecord>(join(modelDir, 'versions', v, VERSION_FILE));
    if (rec === undefined) throw new ResourceNotFoundError(`Model Version (name=${version.name}, version=${v}) not found`);
    const dir = join(modelDir, 'versions', v, ARTIFACTS_DIR);
    const actual = await digestTree(dir).catch((err: unknown) => {
      throw new RegistryIntegrityError(`Cannot read the files of models:/${version.name}/${v} in ${dir}: ${(err as Error).message}`);
    });
    const expected = new Map(rec.files.map((f) => [f.path, f]));
    const problems: string[] = [];
    for (const f of actual) {
      const want = expected.get(f.path);
      if (want === undefined) problems.push(`${f.path} was added`);
      else if (want.sha256 !== f.sha256 || want.size !== f.size)
        problems.push(`${f.path} was modified (sha256 ${f.sha256}, registered ${want.sha256})`);
      expected.delete(f.path);
    }
    for (const missing of expected.keys()) problems.push(`${missing} is missing`);
    if (problems.length > 0) {
      throw new RegistryIntegrityError(
        `Refusing to load models:/${version.name}/${v}: its files no longer match the digests recorded at registration: ${problems.join('; ')}.`,
      );
    }
    return { dir, files: rec.files };
  }

  /**
   * Removes what crashed registrations and alias writes left: staging folders and `.tmp-` files
   * whose process is gone (or that are a day old). Runs at every registration, and from the CLI
   * and the server at start; ones still being written by a live process are left alone.
   */
  async sweep(): Promise<void> {
    const removeLeftovers = async (dir: string, match: (name: string) => boolean) => {
      for (const e of await readdir(dir).catch(() => [] as string[])) {
        if (!match(e)) continue;
        const p = join(dir, e);
        const st = await stat(p).catch(() => undefined);
        if (st !== undefined && leftByCrash(e, st.mtimeMs, STALE_STAGING_MS)) await rm(p, { recursive: true, force: true });
      }
    };
    await removeLeftovers(join(this.root, 'staging'), () => true);
    const tmp = (n: string) => n.startsWith('.tmp-');
    for (const m of await readdir(join(this.root, 'models')).catch(() => [] as string[])) {
      await removeLeftovers(join(this.root, 'models', m), tmp);
      await removeLeftovers(join(this.root, 'models', m, 'aliases'), tmp);
    }
  }

  /** The first registration's record wins: link() fails if model.json exists, where rename() would replace it. */
  private async createModelRecord(modelDir: string, rec: ModelRecord): Promise<void> {
    const tmp = join(modelDir, ownedName('.tmp-'));
    await writeFileAtomic(tmp, modelRecordJson(rec));
    try {
      await link(tmp, join(modelDir, MODEL_FILE));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      await unlink(tmp);
    }
  }

  async registerVersion(name: string, sourceDir: string, options: RegisterOptions = {}): Promise<ModelVersion> {
    const modelDir = this.modelDir(name);
    // The folder itself may be reached through a link: copy what it points at, not the link.
    const source = await realpath(resolve(sourceDir)).catch(() => resolve(sourceDir));
    const st = await stat(source).catch(() => undefined);
    if (!st?.isDirectory()) throw new ResourceNotFoundError(`Model directory ${source} does not exist or is not a directory`);
    // Refuses symbolic links before anything is copied: followed, they would copy files from
    // outside the folder into the registry (and from there into images).
    await listFiles(source);
    const staging = join(this.root, 'staging');
    await mkdir(staging, { recursive: true });
    await this.sweep();
    const stage = join(staging, ownedName(`${Date.now()}-`));
    try {
      const artifacts = join(stage, ARTIFACTS_DIR);
      await cp(source, artifacts, {
        recursive: true,
        // A link that appeared since the check is copied as a link, and digestTree refuses it below.
        verbatimSymlinks: true,
        errorOnExist: true,
        filter: (src) => !src.split(sep).includes('.git'),
      });
      const { flavor } = options.prepare ? await options.prepare(artifacts) : { flavor: 'unknown' };
      const record: VersionRecord = {
        format: 1,
        created_at: Date.now(),
        source,
        flavor,
        ...(options.description === undefined ? {} : { description: options.description }),
        tags: options.tags ?? {},
        files: await digestTree(artifacts),
      };
      await writeFileAtomic(join(stage, VERSION_FILE), versionRecordJson(record));

      await mkdir(join(modelDir, 'versions'), { recursive: true });
      await this.createModelRecord(modelDir, { name, created_at: record.created_at, tags: {} });

      let n = ((await this.versionNumbers(modelDir, true)).at(-1) ?? 0) + 1;
      for (;;) {
        try {
          await rename(stage, join(modelDir, 'versions', String(n)));
          break;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
          n++;
        }
      }
      return await this.getVersion(name, String(n));
    } catch (err) {
      await rm(stage, { recursive: true, force: true });
      throw err;
    }
  }
}

export function localRegistry(uri: string, root: string): LocalRegistry {
  return new LocalRegistry(uri, root);
}
