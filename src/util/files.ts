/** File helpers shared by the registries: digests, tree listings, atomic writes. */
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { createReadStream } from 'node:fs';
import { open, readdir, rename, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { GatewayError } from '../errors.js';

export interface FileDigest {
  /** Relative path with forward slashes. */
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/**
 * Every regular file below `root`, as sorted forward-slash paths. Anything else is refused:
 * symbolic links (followed, they would let a model folder read, copy or serve files from
 * anywhere, outside the digests), sockets, devices.
 */
export async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      const rel = relative(root, p).split(sep).join('/');
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(rel);
      else if (e.isSymbolicLink()) {
        throw new GatewayError(
          'INVALID_PARAMETER_VALUE',
          `${rel} in ${root} is a symbolic link; model folders may not hold symbolic links (copy the file in instead).`,
        );
      } else throw new GatewayError('INVALID_PARAMETER_VALUE', `${rel} in ${root} is neither a file nor a directory`);
    }
  };
  await walk(root);
  return out.sort();
}

export async function digestTree(root: string): Promise<FileDigest[]> {
  const files = await listFiles(root);
  return Promise.all(
    files.map(async (path) => {
      const abs = join(root, path);
      const [st, sha256] = await Promise.all([stat(abs), sha256File(abs)]);
      return { path, size: st.size, sha256 };
    }),
  );
}

const HOST = hostname().replace(/[^A-Za-z0-9.]/g, '_') || 'host';

/**
 * A name part saying which process made a temporary file or folder (`<pid>-<host>`), so a later
 * process can tell one left by a crash (its process is gone) from one still being written.
 */
export function ownerTag(): string {
  return `${process.pid}-${HOST}`;
}

const OWNER_RE = /(?:^|-)(\d+)-([A-Za-z0-9._]+)-[0-9a-f]{16}$/;

/**
 * Whether the process that made a tagged name is gone: on this host, its pid no longer runs. Names
 * from other hosts (a shared volume) or without a tag are left alone unless older than `staleMs`.
 */
export function leftByCrash(name: string, mtimeMs: number, staleMs: number): boolean {
  if (Date.now() - mtimeMs > staleMs) return true;
  const m = OWNER_RE.exec(name);
  if (m === null || m[2] !== HOST) return false;
  try {
    process.kill(Number(m[1]), 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** A unique temporary name owned by this process: `<prefix><pid>-<host>-<16 hex>`. */
export function ownedName(prefix: string): string {
  return `${prefix}${ownerTag()}-${randomBytes(8).toString('hex')}`;
}

/** Writes a file durably and atomically: a hidden temp file beside it, fsync, rename. */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const tmp = join(dirname(path), ownedName('.tmp-'));
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}
