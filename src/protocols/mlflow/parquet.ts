/**
 * `application/vnd.apache.parquet` bodies (MLflow 3): a parquet file of the input DataFrame, as
 * `pandas.DataFrame.to_parquet()` writes it. The reader (hyparquet, pure JavaScript, with fzstd
 * for zstd pages) is imported when the first such body arrives, so it costs nothing at start-up.
 *
 * MLflow reads the file with `pandas.read_parquet` and leaves the types to schema enforcement
 * (there is no parse-time cast as for JSON), so columns keep the file's types, held as the other
 * codecs hold them: integers and floats in typed arrays (int64 as BigInt), strings as `str`
 * with null for a missing value, booleans as `bool`, and everything else (binary, dates,
 * timestamps, lists, structs) as `object` cells. The index pandas stores as a column is not a
 * column, as `read_parquet` makes it the index again.
 *
 * A file small on the wire can decode to much more (compression, run-length encoding): its page
 * headers are checked against a limit on decoded bytes and values before any page is decoded.
 */
import { InvalidInputError } from '../../errors.js';
import { objectColumn } from '../../schema/model-io.js';
import type { DataFrame } from '../../schema/model-io.js';
import { DTYPES, type DType, type NDArray } from '../../schema/ndarray.js';
import type { BinaryBodyCodec, DecodeLimits } from './codec.js';
import type * as Hyparquet from 'hyparquet';
import type { Compressors, FileMetaData, SchemaElement, SchemaTree } from 'hyparquet';
import type { parquetHeader } from 'hyparquet/src/column.js';
import type * as Zlib from 'node:zlib';

export const PARQUET_MIME = 'application/vnd.apache.parquet';

/** Most bytes a parquet body's pages may decompress to (the default body memory budget). */
export const MAX_PARQUET_DECODED_BYTES = 64 * 1024 * 1024;
/** Most values (and dictionary entries) a parquet body's pages may hold, nulls included. */
export const MAX_PARQUET_VALUES = 16 * 1024 * 1024;

interface Reader {
  readonly hyparquet: typeof Hyparquet;
  readonly parquetHeader: typeof parquetHeader;
  readonly compressors: Compressors;
}

let reader: Promise<Reader> | undefined;

/** Whether the reader was imported (for the test that it is not, before a parquet body). */
export function parquetReaderLoaded(): boolean {
  return reader !== undefined;
}

/** Decompressors that write exactly the size a page header declares, never more. */
function exactCompressors(
  hyparquet: Reader['hyparquet'],
  { gunzipSync, brotliDecompressSync }: typeof Zlib,
  zstd: (input: Uint8Array, out: Uint8Array) => Uint8Array,
): Compressors {
  return {
    SNAPPY: (input, n) => {
      const out = new Uint8Array(n);
      hyparquet.snappyUncompress(input, out);
      return out;
    },
    GZIP: (input, n) => gunzipSync(input, { maxOutputLength: Math.max(1, n) }),
    BROTLI: (input, n) => brotliDecompressSync(input, { maxOutputLength: Math.max(1, n) }),
    ZSTD: (input, n) => zstd(input, new Uint8Array(n)),
  };
}

function loadReader(): Promise<Reader> {
  reader ??= Promise.all([import('hyparquet'), import('hyparquet/src/column.js'), import('node:zlib'), import('fzstd')]).then(
    ([hyparquet, column, zlib, fzstd]) => ({
      hyparquet,
      parquetHeader: column.parquetHeader,
      compressors: exactCompressors(hyparquet, zlib, fzstd.decompress),
    }),
  );
  return reader;
}

function parseError(detail: string): InvalidInputError {
  return new InvalidInputError(
    'Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid parquet file produced using the ' +
      `\`pandas.DataFrame.to_parquet()\` method. Error: '${detail.length > 200 ? `${detail.slice(0, 200)}…` : detail}'`,
  );
}

/** Reads every page header of every column chunk, before decoding, against the decoded-size limits. */
function checkPages(bytes: Uint8Array, metadata: FileMetaData, parquetHeader: Reader['parquetHeader']): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let decoded = 0;
  let values = 0;
  for (const group of metadata.row_groups) {
    for (const chunk of group.columns) {
      const meta = chunk.meta_data;
      if (meta === undefined) throw parseError('a column chunk has no metadata');
      const start = Number(meta.dictionary_page_offset || meta.data_page_offset);
      const end = start + Number(meta.total_compressed_size);
      if (!(start >= 0 && end <= bytes.byteLength)) throw parseError('a column chunk lies outside the file');
      const at = { view, offset: start };
      while (at.offset < end - 1) {
        const header = parquetHeader(at);
        if (!(header.compressed_page_size >= 0)) throw parseError('a page has a negative size');
        at.offset += header.compressed_page_size;
        decoded += header.uncompressed_page_size;
        const pageHeader = header.data_page_header ?? header.data_page_header_v2 ?? header.dictionary_page_header;
        values += pageHeader?.num_values ?? 0;
        if (decoded > MAX_PARQUET_DECODED_BYTES || values > MAX_PARQUET_VALUES) {
          throw new InvalidInputError(
            `The parquet body decodes to more than the limit of ${MAX_PARQUET_DECODED_BYTES} bytes or ${MAX_PARQUET_VALUES} values.`,
          );
        }
      }
    }
  }
}

/** The column names pandas stored for its index (`__index_level_0__`, or a named index). */
function indexColumns(metadata: FileMetaData): Set<string> {
  const text = metadata.key_value_metadata?.find((kv) => kv.key === 'pandas')?.value;
  if (text === undefined) return new Set();
  try {
    const pandas = JSON.parse(text) as { index_columns?: unknown[] };
    return new Set((pandas.index_columns ?? []).filter((c): c is string => typeof c === 'string'));
  } catch {
    return new Set();
  }
}

const INTEGER_DTYPES: Readonly<Record<string, DType>> = {
  '8true': 'int8',
  '16true': 'int16',
  '32true': 'int32',
  '64true': 'int64',
  '8false': 'uint8',
  '16false': 'uint16',
  '32false': 'uint32',
  '64false': 'uint64',
};
const CONVERTED_INTEGERS: Readonly<Record<string, DType>> = {
  INT_8: 'int8',
  INT_16: 'int16',
  INT_32: 'int32',
  INT_64: 'int64',
  UINT_8: 'uint8',
  UINT_16: 'uint16',
  UINT_32: 'uint32',
  UINT_64: 'uint64',
};

/** The dtype pandas gives a top-level column (numpy's where there is one), `object` for the rest. */
function columnDType(node: SchemaTree): DType {
  const el: SchemaElement = node.element;
  if (node.children.length > 0) return 'object';
  const logical = el.logical_type;
  if (logical?.type === 'INTEGER') return INTEGER_DTYPES[`${logical.bitWidth}${logical.isSigned}`] ?? 'object';
  if (logical?.type === 'STRING' || logical?.type === 'ENUM') return 'str';
  if (logical?.type === 'DECIMAL' || el.converted_type === 'DECIMAL') return 'float64';
  if (logical !== undefined) return logical.type === 'FLOAT16' ? 'float16' : 'object';
  if (el.converted_type === 'UTF8' || el.converted_type === 'ENUM') return 'str';
  if (el.converted_type !== undefined) return CONVERTED_INTEGERS[el.converted_type] ?? 'object';
  switch (el.type) {
    case 'BOOLEAN':
      return 'bool';
    case 'INT32':
      return 'int32';
    case 'INT64':
      return 'int64';
    case 'FLOAT':
      return 'float32';
    case 'DOUBLE':
      return 'float64';
    default:
      return 'object'; // binary, fixed-length binary, INT96 timestamps
  }
}

const utf8 = new TextDecoder();

/** Binary cells as Buffers, as a base64 `binary` column of a JSON body decodes to. */
function objectCell(v: unknown): unknown {
  return v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : (v ?? null);
}

/** One column of cells as an NDArray of `dtype`, missing values as pandas holds them. */
function toColumn(cells: unknown[], dtype: DType): NDArray {
  const n = cells.length;
  const kind = DTYPES[dtype].kind;
  const missing = cells.some((v) => v === null || v === undefined);
  if (kind === 'str') {
    return { dtype, shape: [n], data: cells.map((v) => (v instanceof Uint8Array ? utf8.decode(v) : (v ?? null))) };
  }
  if (kind === 'object' || (kind === 'bool' && missing)) return objectColumn(cells.map(objectCell));
  // numpy cannot hold a missing integer: pandas reads such a column as float64 with NaN.
  const target: DType = missing && kind !== 'float' ? 'float64' : dtype;
  const out = DTYPES[target].alloc(n) as unknown[];
  const big = target === 'int64' || target === 'uint64';
  for (let i = 0; i < n; i++) {
    const v = cells[i];
    if (v === null || v === undefined) out[i] = Number.NaN;
    else if (kind === 'bool') out[i] = v ? 1 : 0;
    else out[i] = big ? BigInt(v as bigint | number) : Number(v);
  }
  return { dtype: target, shape: [n], data: out as NDArray['data'] };
}

async function readFrame(body: Uint8Array, limits: DecodeLimits | undefined): Promise<DataFrame> {
  const { hyparquet, parquetHeader, compressors } = await loadReader();
  const file =
    body.byteOffset === 0 && body.byteLength === body.buffer.byteLength
      ? (body.buffer as ArrayBuffer)
      : (body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer);
  let metadata: FileMetaData;
  try {
    metadata = hyparquet.parquetMetadata(file);
  } catch (err) {
    throw parseError(err instanceof Error ? err.message : String(err));
  }
  const rows = Number(metadata.num_rows);
  const maxRows = limits?.maxRows;
  if (maxRows !== undefined && rows > maxRows) throw new InvalidInputError(`The request has ${rows} rows; the limit is ${maxRows}.`);
  const schema = hyparquet.parquetSchema(metadata);
  let table: unknown[][] = [];
  try {
    checkPages(new Uint8Array(file), metadata, parquetHeader);
    await hyparquet.parquetRead({ file, metadata, compressors, utf8: false, onComplete: (r) => (table = r) });
  } catch (err) {
    if (err instanceof InvalidInputError) throw err;
    throw parseError(err instanceof Error ? err.message : String(err));
  }
  const index = indexColumns(metadata);
  const columns: string[] = [];
  const values: NDArray[] = [];
  schema.children.forEach((node, c) => {
    const name = node.element.name;
    if (index.has(name)) return;
    columns.push(name);
    values.push(
      toColumn(
        table.map((row) => row[c]),
        columnDType(node),
      ),
    );
  });
  return { columns, values, rows: table.length };
}

export const parquetCodec: BinaryBodyCodec = {
  mimeType: PARQUET_MIME,
  binary: true,
  async decode(body, _schema, limits) {
    return { input: { kind: 'dataframe', value: await readFrame(body, limits) }, params: undefined, unwrapped: false };
  },
};
