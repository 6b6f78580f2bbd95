/**
 * JSON-lines files in one folder, a new file when the current one passes a size or an age, so
 * they can be shipped and deleted whole. Names sort by time: inference-<UTC time>-<pid>-<n>.jsonl
 * (each worker process writes files of its own).
 */
import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sink } from './queue.js';
import { type LoggedInference, recordLines } from './record.js';

export interface FileSinkOptions {
  readonly dir: string;
  /** Bytes before a new file starts. @default 67108864 (64 MiB) */
  readonly maxBytes?: number;
  /** Seconds before a new file starts (0 = by size only). @default 3600 */
  readonly maxAgeSeconds?: number;
  /** For tests: the clock. */
  readonly now?: () => number;
}

interface OpenFile {
  readonly handle: FileHandle;
  readonly path: string;
  readonly openedAt: number;
  bytes: number;
}

export class FileSink implements Sink<Buffer> {
  readonly name = 'file';
  private current: OpenFile | undefined;
  private sequence = 0;
  private readonly maxBytes: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;

  constructor(private readonly options: FileSinkOptions) {
    this.maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.maxAgeMs = (options.maxAgeSeconds ?? 3600) * 1000;
    this.now = options.now ?? Date.now;
  }

  encode(record: LoggedInference): Buffer {
    return Buffer.from(recordLines(record), 'utf8');
  }

  async write(batch: readonly Buffer[]): Promise<void> {
    let length = 0;
    for (const b of batch) length += b.length;
    const file = await this.fileFor(length);
    // One system call for the batch, and no copy of it joined (libuv goes on after a short write).
    const { bytesWritten } = await file.handle.writev(batch);
    file.bytes += bytesWritten;
    if (bytesWritten < length) {
      // The retry goes to a new file rather than after a line cut short.
      await this.close();
      throw new Error(`wrote ${bytesWritten} of ${length} bytes to ${file.path}`);
    }
  }

  async close(): Promise<void> {
    const file = this.current;
    this.current = undefined;
    await file?.handle.close();
  }

  /** The file to append to: a new one when this write would pass the size, or the file is too old. */
  private async fileFor(adding: number): Promise<OpenFile> {
    const c = this.current;
    const now = this.now();
    const tooOld = this.maxAgeMs > 0 && now - (c?.openedAt ?? now) >= this.maxAgeMs;
    if (c !== undefined && !tooOld && (c.bytes === 0 || c.bytes + adding <= this.maxBytes)) return c;
    await this.close();
    await mkdir(this.options.dir, { recursive: true });
    const stamp = new Date(now)
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z');
    const path = join(this.options.dir, `inference-${stamp}-${process.pid}-${String(++this.sequence).padStart(4, '0')}.jsonl`);
    const handle = await open(path, 'wx');
    return (this.current = { handle, path, openedAt: now, bytes: 0 });
  }
}
