/**
 * `text/csv` bodies, read as `pandas.read_csv` reads `DataFrame.to_csv()` output: a header row,
 * RFC 4180 quoting, empty cells (and pandas' other NA spellings) as NaN, an unnamed first column as "Unnamed: 0".
 *
 * Unlike MLflow, a CSV body also works for a model with one unnamed tensor input (its columns are
 * the tensor's last dimension); MLflow refuses it with "TensorSpec only supports numpy types".
 */
import { InvalidInputError } from '../../errors.js';
import type { Schema } from '../../schema/signature.js';
import type { BodyCodec, DecodeLimits } from './codec.js';
import { PRESCAN_FROM_BYTES, prescanCsv } from './prescan.js';
import { typedFrame } from './frame-cast.js';
import { LIMIT_DEFAULTS } from '../../limits.js';

/** Splits CSV text into rows of fields; quoted fields keep commas, quotes ("") and newlines. */
export function parseCsvRows(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  const n = text.length;
  let quoted = false;
  while (i < n) {
    const ch = text.charCodeAt(i);
    if (quoted) {
      if (ch === 34) {
        if (text.charCodeAt(i + 1) === 34) {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      field += text[i++];
      continue;
    }
    if (ch === 34 && field.length === 0) {
      quoted = true;
      i++;
    } else if (ch === 44) {
      row.push(field);
      field = '';
      i++;
    } else if (ch === 10 || ch === 13) {
      row.push(field);
      field = '';
      rows.push(row);
      row = [];
      i += ch === 13 && text.charCodeAt(i + 1) === 10 ? 2 : 1;
    } else {
      // Take the run of ordinary characters at once.
      let j = i + 1;
      while (j < n) {
        const c = text.charCodeAt(j);
        if (c === 44 || c === 10 || c === 13 || c === 34) break;
        j++;
      }
      field += text.slice(i, j);
      i = j;
    }
  }
  if (quoted) throw new InvalidInputError('Failed to parse input as a Pandas DataFrame: EOF inside a quoted field.');
  if (field.length > 0 || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  // Blank lines are skipped, as pandas does.
  return rows.filter((r) => !(r.length === 1 && r[0] === ''));
}

/**
 * The fields `pandas.read_csv` reads as missing by default (`keep_default_na`), whatever the
 * column's dtype: NaN in every column, a float NaN inside an object column. MLflow's CSV path
 * keeps that NaN (a string column's SimpleImputer(missing_values=nan) imputes it), where a JSON
 * null in a string column stays None.
 */
const PANDAS_NA = new Set([
  '',
  '#N/A',
  '#N/A N/A',
  '#NA',
  '-1.#IND',
  '-1.#QNAN',
  '-NaN',
  '-nan',
  '1.#IND',
  '1.#QNAN',
  '<NA>',
  'N/A',
  'NA',
  'NULL',
  'NaN',
  'None',
  'n/a',
  'nan',
  'null',
]);

const isNa = (c: string): boolean => PANDAS_NA.has(c);

const INT_RE = /^[+-]?\d+$/;
const FLOAT_RE = /^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|nan|NaN|inf|-inf|Infinity|-Infinity)$/;

/** pandas' per-column type inference for a column with no schema. */
function inferCells(cells: string[]): unknown[] {
  const present = cells.filter((c) => !isNa(c));
  if (present.length > 0 && present.every((c) => INT_RE.test(c)) && present.length === cells.length) {
    return cells.map(Number);
  }
  if (present.every((c) => INT_RE.test(c) || FLOAT_RE.test(c))) {
    // pandas: a numeric column with missing cells is float64 with NaN.
    return cells.map((c) => (isNa(c) ? Number.NaN : Number(c.replace(/^([+-]?)inf$/i, '$1Infinity'))));
  }
  if (present.length > 0 && present.every((c) => c === 'True' || c === 'False')) {
    return cells.map((c) => (isNa(c) ? Number.NaN : c === 'True'));
  }
  return cells.map((c) => (isNa(c) ? Number.NaN : c));
}

function headerNames(header: string[]): string[] {
  const seen = new Map<string, number>();
  return header.map((h, i) => {
    let name = h === '' ? `Unnamed: ${i}` : h;
    const count = seen.get(name) ?? 0;
    seen.set(name, count + 1);
    if (count > 0) name = `${name}.${count}`;
    return name;
  });
}

export const csvCodec: BodyCodec = {
  mimeType: 'text/csv',
  decode(body: string, schema: Schema | undefined, limits?: DecodeLimits) {
    // Splitting millions of one-cell lines costs gigabytes: count them first.
    if (body.length >= PRESCAN_FROM_BYTES) prescanCsv(body, limits?.maxRows ?? LIMIT_DEFAULTS.maxRows);
    const rows = parseCsvRows(body);
    if (rows.length === 0) throw new InvalidInputError('Failed to parse input as a Pandas DataFrame: No columns to parse from file');
    const names = headerNames(rows[0]);
    const width = names.length;
    const nrows = rows.length - 1;
    const cols: string[][] = names.map(() => new Array<string>(nrows));
    for (let r = 0; r < nrows; r++) {
      const row = rows[r + 1];
      if (row.length > width) {
        throw new InvalidInputError(
          `Failed to parse input as a Pandas DataFrame: Expected ${width} fields in line ${r + 2}, saw ${row.length}`,
        );
      }
      for (let c = 0; c < width; c++) cols[c][r] = row[c] ?? '';
    }
    // With a schema the cells stay text and are cast to the declared types (a string column keeps "007").
    const raw = schema === undefined ? cols.map(inferCells) : cols.map((c) => c.map((v) => (isNa(v) ? Number.NaN : v)));
    return { input: { kind: 'dataframe', value: typedFrame(names, raw, nrows, schema) }, params: undefined, unwrapped: false };
  },
};
