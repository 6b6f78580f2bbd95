/**
 * A build context as a list of entries (files on disk or generated text), streamed to the daemon
 * as a tar with tar-stream, or written to a directory for other builders. Files are read from
 * where they are while the tar is sent: no temporary copy of the model or the dependencies.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Environment, environment } from '../config/env.js';

interface EntryBase {
  /** Relative path inside the context, forward slashes, no `..`. */
  readonly path: string;
  /** Unix permission bits; 0o644 or 0o755. */
  readonly mode: number;
}

export interface FileEntry extends EntryBase {
  /** An absolute path read when the context is streamed. */
  readonly source: string;
  /** Size when the context was planned (tar needs it up front; a file that changed since fails the stream). */
  readonly size: number;
}

export interface TextEntry extends EntryBase {
  readonly content: string | Buffer;
}

export type ContextEntry = FileEntry | TextEntry;

/**
 * Every entry gets the same owner (root) and modification time, so the layers do not depend on
 * when or by whom the files were written. SOURCE_DATE_EPOCH sets it, as for other reproducible builds.
 */
export function contextMtime(env: Environment = environment()): Date {
  const epoch = env.SOURCE_DATE_EPOCH;
  return epoch !== undefined && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000) : new Date('2020-01-01T00:00:00Z');
}

export function isFileEntry(e: ContextEntry): e is FileEntry {
  return 'source' in e;
}

function checkPaths(entries: readonly ContextEntry[]): void {
  const seen = new Set<string>();
  for (const e of entries) {
    if (e.path === '' || e.path.startsWith('/') || e.path.split('/').some((p) => p === '' || p === '.' || p === '..')) {
      throw new Error(`Invalid build context path '${e.path}'`);
    }
    if (seen.has(e.path)) throw new Error(`Duplicate build context path '${e.path}'`);
    seen.add(e.path);
  }
}

/** Parent directories of every entry, parents first. */
function directoriesOf(entries: readonly ContextEntry[]): string[] {
  const dirs = new Set<string>();
  for (const e of entries) {
    const parts = e.path.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  return [...dirs].sort();
}

/** Total bytes of file content in the context. */
export function contextSize(entries: readonly ContextEntry[]): number {
  return entries.reduce((n, e) => n + (isFileEntry(e) ? e.size : Buffer.byteLength(e.content)), 0);
}

/** The context as a tar stream; entries are read one after another as the consumer pulls. */
export function createBuildContext(entries: readonly ContextEntry[], mtime: Date = contextMtime()): Readable {
  checkPaths(entries);
  // tar-stream's streams are streamx streams; consumers such as dockerode expect a Node stream.
  return Readable.from(tarChunks(entries, mtime), { objectMode: false });
}

async function* tarChunks(entries: readonly ContextEntry[], mtime: Date): AsyncGenerator<Buffer> {
  // Imported on first use: the server bundle, which images run, must not load the builder's packages.
  const { pack } = await import('tar-stream');
  const tar = pack();
  const header = { uid: 0, gid: 0, uname: 'root', gname: 'root', mtime };
  void (async () => {
    for (const dir of directoriesOf(entries)) {
      tar.entry({ ...header, name: `${dir}/`, type: 'directory', mode: 0o755 });
    }
    for (const e of entries) {
      if (isFileEntry(e)) {
        const sink = tar.entry({ ...header, name: e.path, type: 'file', mode: e.mode, size: e.size });
        await pipeline(createReadStream(e.source), sink);
      } else {
        const body = typeof e.content === 'string' ? Buffer.from(e.content) : e.content;
        await new Promise<void>((res, rej) =>
          tar.entry({ ...header, name: e.path, type: 'file', mode: e.mode }, body, (err) => (err ? rej(err) : res())),
        );
      }
    }
    tar.finalize();
  })().catch((err: unknown) => tar.destroy(err as Error));
  yield* tar as AsyncIterable<Buffer>;
}

/** Writes the context into `dir` (which must be empty or missing), e.g. for buildah or kaniko. */
export async function writeBuildContext(entries: readonly ContextEntry[], dir: string): Promise<void> {
  checkPaths(entries);
  await mkdir(dir, { recursive: true });
  const existing = await readdir(dir);
  if (existing.length > 0) throw new Error(`${dir} is not empty; give a new or empty directory for the build context`);
  for (const d of directoriesOf(entries)) await mkdir(join(dir, d), { recursive: true });
  for (const e of entries) {
    const target = join(dir, e.path);
    await mkdir(dirname(target), { recursive: true });
    if (isFileEntry(e)) await pipeline(createReadStream(e.source), createWriteStream(target, { mode: e.mode }));
    else await writeFile(target, e.content, { mode: e.mode });
    await chmod(target, e.mode); // the umask may have cleared bits
  }
}
