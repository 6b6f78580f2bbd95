/** File helpers shared by the registries: digests, tree listings, atomic writes. */
import { createHash, randomBytes } from 'node:crypto';
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

/** Every regular file below `root`, as sorted forward-slash paths; anything else (a socket, a device) is refused. */
export async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(relative(root, p).split(sep).join('/'));
      else throw new GatewayError('INVALID_PARAMETER_VALUE', `${p} is neither a file nor a directory`);
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

/** Writes a file durably and atomically: a hidden temp file beside it, fsync, rename. */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const tmp = join(dirname(path), `.tmp-${randomBytes(8).toString('hex')}`);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}
