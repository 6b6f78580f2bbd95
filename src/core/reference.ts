/**
 * A version's drift reference from the dataset given at registration: the file decoded as
 * /invocations decodes a CSV or parquet body, profiled, and written into the staged copy before
 * its digests are taken, so the profile is part of the version like any of its files.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { InvalidInputError } from '../errors.js';
import { PROFILE_FILE, buildProfile } from '../monitor/drift/profile.js';
import { csvCodec } from '../protocols/mlflow/csv.js';
import { parquetCodec } from '../protocols/mlflow/parquet.js';
import type { DataFrame } from '../schema/model-io.js';

/** Rows read from a reference dataset at most: a profile needs a sample, not a warehouse. */
const MAX_REFERENCE_ROWS = 1_000_000;

async function readFrame(path: string): Promise<DataFrame> {
  const ext = extname(path).toLowerCase();
  const limits = { maxRows: MAX_REFERENCE_ROWS, maxJsonDepth: 1 };
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new InvalidInputError(
      `Cannot read the reference dataset ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  const decoded =
    ext === '.parquet' || ext === '.pq'
      ? await parquetCodec.decode(bytes, undefined, limits)
      : ext === '.csv'
        ? csvCodec.decode(bytes.toString('utf8'), undefined, limits)
        : undefined;
  if (decoded === undefined) throw new InvalidInputError(`The reference dataset ${path} must be a .csv or .parquet file.`);
  if (decoded.input.kind !== 'dataframe') throw new InvalidInputError(`The reference dataset ${path} is not a table.`);
  return decoded.input.value;
}

const plain = (v: unknown): unknown => (typeof v === 'bigint' ? Number(v) : v);

/** Profiles `path` and writes the profile into `dir`; returns how many rows and features it has. */
export async function writeReferenceProfile(path: string, dir: string): Promise<{ rows: number; features: number }> {
  const frame = await readFrame(path);
  if (frame.rows === 0) throw new InvalidInputError(`The reference dataset ${path} has no rows.`);
  const columns = new Map<string, unknown[]>();
  frame.columns.forEach((c, j) => columns.set(String(c), Array.from(frame.values[j].data as ArrayLike<unknown>, plain)));
  const profile = buildProfile(columns, frame.rows);
  await writeFile(join(dir, PROFILE_FILE), `${JSON.stringify(profile)}\n`);
  return { rows: frame.rows, features: profile.features.length };
}
