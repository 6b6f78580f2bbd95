/** pandas-style bodies: `{"dataframe_split": {columns, data, index}}` and `{"dataframe_records": [{…}, …]}`. */
import { InvalidInputError } from '../../errors.js';
import type { JsonFormatCodec } from './codec.js';
import { typedFrame } from './frame-cast.js';

function rowsToColumns(data: readonly unknown[], width: number): unknown[][] {
  const cols: unknown[][] = Array.from({ length: width }, () => new Array<unknown>(data.length));
  for (let r = 0; r < data.length; r++) {
    const row = data[r];
    if (Array.isArray(row)) {
      for (let c = 0; c < width; c++) cols[c][r] = row[c];
    } else {
      cols[0][r] = row;
    }
  }
  return cols;
}

const SPLIT_KEYS = new Set(['data', 'columns', 'index']);

export const dataframeSplitCodec: JsonFormatCodec = {
  key: 'dataframe_split',
  decode(value, schema) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      const got = Array.isArray(value) ? 'list' : value === null ? 'None' : typeof value;
      throw new InvalidInputError(`Dataframe split format must be a dictionary. Got ${got}.`);
    }
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    if (!('data' in obj) || keys.some((k) => !SPLIT_KEYS.has(k))) {
      throw new InvalidInputError(
        `Dataframe split format must have 'data' field and optionally 'columns' and 'index' fields. Got [${keys.map((k) => `'${k}'`).join(', ')}].`,
      );
    }
    const data = obj.data;
    if (!Array.isArray(data)) throw new InvalidInputError("Dataframe split format must have 'data' as a list of rows.");
    const columns = obj.columns;
    if (columns !== undefined && (!Array.isArray(columns) || columns.some((c) => typeof c !== 'string' && typeof c !== 'number'))) {
      throw new InvalidInputError("Dataframe split format must have 'columns' as a list of column names.");
    }
    const widthOf = (row: unknown): number => (Array.isArray(row) ? row.length : 1);
    const width = columns ? columns.length : data.length > 0 ? widthOf(data[0]) : 0;
    for (const row of data) {
      if (widthOf(row) !== width) {
        throw new InvalidInputError(`${width} columns passed, passed data had ${widthOf(row)} columns`);
      }
    }
    if (obj.index !== undefined && (!Array.isArray(obj.index) || obj.index.length !== data.length)) {
      throw new InvalidInputError(`Length of values (${data.length}) does not match length of index`);
    }
    const names = (columns as (string | number)[] | undefined) ?? Array.from({ length: width }, (_, i) => i);
    return { kind: 'dataframe', value: typedFrame(names, rowsToColumns(data, width), data.length, schema) };
  },
};

export const dataframeRecordsCodec: JsonFormatCodec = {
  key: 'dataframe_records',
  decode(value, schema) {
    if (!Array.isArray(value)) {
      const got = typeof value === 'object' && value !== null ? 'dictionary' : value === null ? 'None' : typeof value;
      throw new InvalidInputError(`Dataframe records format must be a list of records. Got ${got}.`);
    }
    if (value.length > 0 && value.every(Array.isArray)) {
      return dataframeSplitCodec.decode({ data: value }, schema);
    }
    const names: string[] = [];
    const index = new Map<string, number>();
    for (const rec of value) {
      if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) {
        throw new InvalidInputError('Dataframe records format must be a list of records (objects).');
      }
      for (const k of Object.keys(rec)) {
        if (!index.has(k)) {
          index.set(k, names.length);
          names.push(k);
        }
      }
    }
    // A key missing from a record is a missing value (NaN in pandas).
    const cols: unknown[][] = names.map(() => new Array<unknown>(value.length).fill(null));
    for (let r = 0; r < value.length; r++) {
      for (const [k, v] of Object.entries(value[r] as Record<string, unknown>)) {
        cols[index.get(k) as number][r] = v;
      }
    }
    return { kind: 'dataframe', value: typedFrame(names, cols, value.length, schema) };
  },
};
