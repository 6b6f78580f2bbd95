/**
 * A model version's files, from MLflow's artifact proxy to a verified local cache.
 *
 * Listing and downloads follow MLflow's HttpArtifactRepository: `GET <base>?path=P` lists one
 * directory (entries are basenames, `is_dir` entries are listed in turn), `GET <base>/P/<file>`
 * streams one file. Files are streamed to disk through a sha256 hash, several at a time, each
 * checked against the listed size and retried on its own when the connection drops.
 *
 * Cache layout (a registry version is immutable, so an entry never changes once written):
 *
 *   <cache>/mlflow/<name>/<version>-<key>/manifest.json   where it came from + every file's digest
 *   <cache>/mlflow/<name>/<version>-<key>/artifacts/      the model directory
 *   <cache>/mlflow/.staging/                              downloads in progress
 *
 * `<key>` hashes the server, name, version and the version's source, so two servers (or a
 * re-created model) never share an entry. A download becomes an entry by one rename of its
 * complete staging folder, so a crash or a dropped connection leaves nothing that looks complete;
 * entries are re-hashed against their manifest before each use.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GatewayError, ResourceNotFoundError, describeError } from '../../../errors.js';
import { listFiles, sha256File } from '../../../util/files.js';
import type { FileDigest, MaterializedModel } from '../../backend.js';
import type { MlflowHttp } from './client.js';

export const ARTIFACTS_API = '/api/2.0/mlflow-artifacts/artifacts';
const STALE_STAGING_MS = 24 * 3600 * 1000;

/** Where a version's files are: an MLflow artifact server (`base`) and the directory under it. */
export interface ArtifactLocation {
  /** `<server>/api/2.0/mlflow-artifacts/artifacts`, without a trailing slash. */
  readonly base: string;
  /** The directory relative to `base`, without leading or trailing slashes (may be empty). */
  readonly path: string;
}

/** Artifact stores read through a cloud SDK in MLflow; we name the scheme and the way around it. */
export class UnsupportedArtifactStoreError extends GatewayError {
  constructor(
    readonly scheme: string,
    uri: string,
  ) {
    super(
      'NOT_IMPLEMENTED',
      `The model's files are in an artifact store with URI scheme '${scheme}:' (${uri}), which modelgate cannot read yet: ` +
        `it needs that store's SDK. Let the MLflow server proxy the artifacts instead (mlflow server --serve-artifacts ` +
        `--artifacts-destination ${scheme}://…, so versions get mlflow-artifacts:/ URIs), or download the model and serve its directory.`,
    );
  }
}

const trimSlashes = (s: string) => s.replace(/^\/+|\/+$/g, '');

/**
 * Maps an `mlflow-artifacts:` or `http(s):` artifact URI to the proxy that serves it, as MLflow's
 * MlflowArtifactsRepository.resolve_uri does: `mlflow-artifacts:/P` is under the tracking server
 * (keeping its path prefix), `mlflow-artifacts://host:port/P` under that host with the tracking
 * server's scheme, and an http(s) URI must already point into `…/mlflow-artifacts/artifacts/`.
 * Other schemes throw; `runs:/` and `models:/` need the registry and are resolved by the caller.
 */
export function artifactLocation(uri: string, trackingBase: string): ArtifactLocation {
  const m = /^([a-z][a-z0-9+.-]*):/i.exec(uri);
  const scheme = m?.[1].toLowerCase();
  if (scheme === 'mlflow-artifacts') {
    const url = new URL(uri);
    const tracking = new URL(trackingBase);
    const origin = url.host === '' ? tracking.origin : `${tracking.protocol}//${url.host}`;
    const prefix = url.host === '' ? trimSlashes(tracking.pathname) : '';
    const base = `${origin}${prefix === '' ? '' : `/${prefix}`}${ARTIFACTS_API}`;
    return { base, path: trimSlashes(decodeURIComponent(url.pathname)) };
  }
  if (scheme === 'http' || scheme === 'https') {
    const url = new URL(uri);
    const marker = '/mlflow-artifacts/artifacts';
    const at = url.pathname.indexOf(marker);
    if (at === -1) {
      throw new GatewayError(
        'NOT_IMPLEMENTED',
        `The artifact URI ${url.origin}${url.pathname} is plain HTTP(S); modelgate reads HTTP artifact stores through MLflow's artifact API, so it must contain '${ARTIFACTS_API}/'.`,
      );
    }
    const end = at + marker.length;
    return { base: `${url.origin}${url.pathname.slice(0, end)}`, path: trimSlashes(decodeURIComponent(url.pathname.slice(end))) };
  }
  if (scheme === undefined || scheme.length === 1) {
    // A bare path (or C:\…) is on the MLflow server's own disk, which we cannot see.
    throw new GatewayError(
      'NOT_IMPLEMENTED',
      `The model's files are at '${uri}', a path on the MLflow server's own disk. Start the server with --serve-artifacts so it proxies them (mlflow-artifacts:/ URIs).`,
    );
  }
  throw new UnsupportedArtifactStoreError(scheme, uri);
}

const encodePath = (p: string) =>
  p
    .split('/')
    .filter((s) => s !== '')
    .map(encodeURIComponent)
    .join('/');

export function downloadUrl(loc: ArtifactLocation, file: string): string {
  const full = [loc.path, file].filter((s) => s !== '').join('/');
  return `${loc.base}/${encodePath(full)}`;
}

interface ListedFile {
  /** Relative to the listed root, forward slashes. */
  readonly path: string;
  readonly size: number | undefined;
}

interface ListResponse {
  files?: { path?: string; is_dir?: boolean; file_size?: number | string }[];
}

/** A listing entry is a basename; anything else could write outside the download folder. */
function checkEntryName(name: unknown, where: string): string {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || /[/\\\x00]/.test(name)) {
    throw new GatewayError(
      'INTERNAL_ERROR',
      `The artifact listing of ${where} has an entry that is not a plain file name: ${JSON.stringify(name)}`,
    );
  }
  return name;
}

/** Every file under the location, depth first, as the proxy lists them. */
export async function listArtifacts(http: MlflowHttp, loc: ArtifactLocation): Promise<ListedFile[]> {
  const out: ListedFile[] = [];
  const walk = async (rel: string, depth: number): Promise<void> => {
    if (depth > 32) throw new GatewayError('INTERNAL_ERROR', `The artifact tree under ${loc.base}/${loc.path} is deeper than 32 levels`);
    const dir = [loc.path, rel].filter((s) => s !== '').join('/');
    const res = await http.jsonAt<ListResponse>('GET', `${loc.base}?${new URLSearchParams({ path: dir }).toString()}`);
    for (const f of res.files ?? []) {
      const name = checkEntryName(f.path, `${loc.base}?path=${dir}`);
      const path = rel === '' ? name : `${rel}/${name}`;
      if (f.is_dir === true) await walk(path, depth + 1);
      else out.push({ path, size: f.file_size === undefined ? undefined : Number(f.file_size) });
    }
  };
  await walk('', 0);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export interface DownloadProgress {
  /** What is being downloaded, e.g. `models:/iris/1`. */
  readonly label: string;
  readonly files: number;
  readonly filesDone: number;
  readonly totalBytes: number;
  readonly doneBytes: number;
  readonly done: boolean;
}

export type ProgressListener = (p: DownloadProgress) => void;

const WRITE_ERRORS = new Set(['ENOSPC', 'EDQUOT', 'EACCES', 'EPERM', 'EROFS', 'EMFILE', 'ENFILE']);

async function downloadFile(
  http: MlflowHttp,
  url: string,
  dest: string,
  expectedSize: number | undefined,
  onBytes: (delta: number) => void,
  signal: AbortSignal,
): Promise<{ size: number; sha256: string }> {
  return http.retrying(
    'GET',
    url,
    async () => {
      const res = await http.send('GET', url, undefined, signal);
      if (res.statusCode !== 200) throw await http.errorFor('GET', url, res);
      const hash = createHash('sha256');
      let size = 0;
      const count = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          hash.update(chunk);
          size += chunk.length;
          onBytes(chunk.length);
          cb(null, chunk);
        },
      });
      try {
        await pipeline(res.body, count, createWriteStream(dest), { signal });
      } catch (err) {
        onBytes(-size); // this attempt's bytes start over
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== undefined && WRITE_ERRORS.has(code)) {
          throw new GatewayError('INTERNAL_ERROR', `Cannot write ${dest}: ${describeError(err)}`, { cause: err });
        }
        throw http.classify('GET', url, err);
      }
      if (expectedSize !== undefined && size !== expectedSize) {
        onBytes(-size);
        throw http.retryable(
          new GatewayError('DATA_LOSS', `GET ${url} delivered ${size} bytes where the artifact listing says ${expectedSize}`),
        );
      }
      return { size, sha256: hash.digest('hex') };
    },
    signal,
  );
}

/** Runs `fn` over `items`, at most `limit` at a time; the first failure aborts the rest and is thrown. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T, signal: AbortSignal) => Promise<void>): Promise<void> {
  const ctrl = new AbortController();
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const item = items[next++];
      try {
        await fn(item, ctrl.signal);
      } catch (err) {
        if (failure === undefined) {
          failure = { err };
          ctrl.abort();
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== undefined) throw failure.err;
}

// ---------------------------------------------------------------------------------------------
// the cache

export interface CacheKey {
  /** The tracking server, without credentials. */
  readonly server: string;
  readonly name: string;
  readonly version: string;
  /** The version's source (its artifact URI as registered); immutable with the version. */
  readonly source: string;
}

interface Manifest extends CacheKey {
  format: 1;
  /** The URI the files were downloaded from (get-download-uri's answer, resolved). */
  artifact_uri: string;
  downloaded_at: string;
  files: FileDigest[];
}

const MANIFEST = 'manifest.json';
const ARTIFACTS = 'artifacts';

function segment(s: string): string {
  const enc = encodeURIComponent(s).replace(/^\./, '%2E');
  return enc.length <= 100 ? enc : enc.slice(0, 100).replace(/%[0-9A-F]?$/, '');
}

export function cacheEntryDir(cacheRoot: string, key: CacheKey): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([key.server, key.name, key.version, key.source]))
    .digest('hex')
    .slice(0, 16);
  return join(cacheRoot, 'mlflow', segment(key.name), `${segment(key.version)}-${digest}`);
}

/** Moves a bad entry out of the way (one rename, so readers never see it half-deleted), then deletes it. */
async function discard(cacheRoot: string, dir: string): Promise<void> {
  const trash = join(cacheRoot, 'mlflow', '.staging', `discard-${randomBytes(6).toString('hex')}`);
  await mkdir(dirname(trash), { recursive: true });
  await rename(dir, trash).catch(() => undefined);
  await rm(trash, { recursive: true, force: true });
}

/**
 * A complete cache entry whose files still match their manifest, or undefined (an entry that
 * does not match is removed, so the caller downloads it again).
 */
export async function readCacheEntry(cacheRoot: string, entry: string, key: CacheKey): Promise<MaterializedModel | undefined> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(join(entry, MANIFEST), 'utf8')) as Manifest;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && (await stat(entry).catch(() => undefined)) === undefined) return undefined;
    await discard(cacheRoot, entry);
    return undefined;
  }
  const dir = join(entry, ARTIFACTS);
  const sameKey =
    manifest.server === key.server && manifest.name === key.name && manifest.version === key.version && manifest.source === key.source;
  const ok =
    sameKey &&
    Array.isArray(manifest.files) &&
    (await (async () => {
      const present = await listFiles(dir).catch(() => undefined);
      if (present === undefined || present.join('\n') !== manifest.files.map((f) => f.path).join('\n')) return false;
      for (const f of manifest.files) {
        const abs = join(dir, ...f.path.split('/'));
        const st = await stat(abs);
        if (st.size !== f.size || (await sha256File(abs)) !== f.sha256) return false;
      }
      return true;
    })());
  if (!ok) {
    await discard(cacheRoot, entry);
    return undefined;
  }
  return { dir, files: manifest.files };
}

async function cleanStaging(staging: string): Promise<void> {
  const now = Date.now();
  for (const e of await readdir(staging).catch(() => [] as string[])) {
    const p = join(staging, e);
    const st = await stat(p).catch(() => undefined);
    if (st && now - st.mtimeMs > STALE_STAGING_MS) await rm(p, { recursive: true, force: true });
  }
}

export interface DownloadOptions {
  readonly http: MlflowHttp;
  readonly cacheRoot: string;
  readonly key: CacheKey;
  readonly location: ArtifactLocation;
  /** The artifact URI as the server gave it, for the manifest and messages. */
  readonly artifactUri: string;
  readonly label: string;
  /** Parallel downloads. @default 4 */
  readonly concurrency?: number;
  readonly progress?: ProgressListener;
}

/** Lists, downloads and verifies every file into staging, then publishes the entry by rename. */
export async function downloadToCache(o: DownloadOptions): Promise<MaterializedModel> {
  const entry = cacheEntryDir(o.cacheRoot, o.key);
  const listed = await listArtifacts(o.http, o.location);
  if (listed.length === 0) {
    // The proxy lists a missing directory as `{}` with status 200.
    throw new ResourceNotFoundError(
      `${o.label} has no files: the artifact listing of ${o.artifactUri} is empty (or the directory does not exist).`,
    );
  }
  const staging = join(o.cacheRoot, 'mlflow', '.staging');
  await mkdir(staging, { recursive: true });
  await cleanStaging(staging);
  const tmp = join(staging, `${Date.now()}-${randomBytes(8).toString('hex')}`);
  const tmpArtifacts = join(tmp, ARTIFACTS);
  try {
    const totalBytes = listed.reduce((n, f) => n + (f.size ?? 0), 0);
    let doneBytes = 0;
    let filesDone = 0;
    const report = (done: boolean) => o.progress?.({ label: o.label, files: listed.length, filesDone, totalBytes, doneBytes, done });
    report(false);
    const digests = new Map<string, FileDigest>();
    const dirs = new Set(listed.map((f) => dirname(join(tmpArtifacts, ...f.path.split('/')))));
    for (const d of dirs) await mkdir(d, { recursive: true });
    await eachLimited(listed, o.concurrency ?? 4, async (f, signal) => {
      const dest = join(tmpArtifacts, ...f.path.split('/'));
      const { size, sha256 } = await downloadFile(
        o.http,
        downloadUrl(o.location, f.path),
        dest,
        f.size,
        (delta) => {
          doneBytes += delta;
          report(false);
        },
        signal,
      );
      digests.set(f.path, { path: f.path, size, sha256 });
      filesDone++;
    });
    const files = listed.map((f) => digests.get(f.path)!);
    const manifest: Manifest = {
      format: 1,
      ...o.key,
      artifact_uri: o.artifactUri,
      downloaded_at: new Date().toISOString(),
      files,
    };
    await writeFile(join(tmp, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    await mkdir(dirname(entry), { recursive: true });
    for (let attempt = 0; ; attempt++) {
      try {
        await rename(tmp, entry);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || attempt > 0) throw err;
        // Another process finished the same version first: use its copy if it is sound.
        const theirs = await readCacheEntry(o.cacheRoot, entry, o.key);
        if (theirs !== undefined) {
          await rm(tmp, { recursive: true, force: true });
          report(true);
          return theirs;
        }
      }
    }
    report(true);
    return { dir: join(entry, ARTIFACTS), files };
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// progress on a terminal

export interface ProgressReporterOptions {
  readonly stream: NodeJS.WritableStream & { isTTY?: boolean };
  /** Downloads smaller than this print nothing. @default 16 MiB */
  readonly minBytes?: number;
  /** Fewest milliseconds between two redraws on a terminal. @default 200 */
  readonly intervalMs?: number;
}

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;

/**
 * Progress for people: on a terminal one line redrawn in place; elsewhere (logs, CI) a line at
 * the start, at each quarter and at the end, so logs stay short.
 */
export function progressReporter(options: ProgressReporterOptions): ProgressListener {
  const minBytes = options.minBytes ?? 16 * 1024 * 1024;
  const interval = options.intervalMs ?? 200;
  const tty = options.stream.isTTY === true;
  const last = new Map<string, { at: number; quarter: number }>();
  return (p) => {
    if (p.totalBytes < minBytes) return;
    const pct = p.totalBytes === 0 ? 100 : Math.floor((p.doneBytes / p.totalBytes) * 100);
    const line = `Downloading ${p.label}: ${pct}% (${mb(p.doneBytes)} of ${mb(p.totalBytes)}, ${p.filesDone}/${p.files} files)`;
    const seen = last.get(p.label);
    if (seen === undefined) {
      last.set(p.label, { at: Date.now(), quarter: 0 });
      options.stream.write(tty ? `\r${line}` : `${line}\n`);
      return;
    }
    if (p.done) {
      last.delete(p.label);
      options.stream.write(tty ? `\r${line}\n` : `${line}\n`);
      return;
    }
    if (tty) {
      if (Date.now() - seen.at < interval) return;
      seen.at = Date.now();
      options.stream.write(`\r${line}`);
    } else {
      const quarter = Math.floor(pct / 25);
      if (quarter > seen.quarter && quarter < 4) {
        seen.quarter = quarter;
        options.stream.write(`${line}\n`);
      }
    }
  };
}
