/**
 * Cheap looks at a large body before it is parsed: parsing builds every value, so a body under
 * the size limit can still cost gigabytes and block the event loop for seconds (millions of empty
 * rows, a record with millions of keys). One pass over the text, without building anything,
 * refuses what would be refused after parsing anyway (too many rows) and what costs far more to
 * build than its size suggests (too many arrays and objects, too many keys in one object).
 */
import { InvalidInputError } from '../../errors.js';

export interface PrescanLimits {
  readonly maxRows: number;
  /** Arrays and objects in the whole body. */
  readonly maxContainers: number;
  /** Keys in one object. */
  readonly maxKeys: number;
}

/** Bodies smaller than this are parsed as they are: what they can build is bounded by their size. */
export const PRESCAN_FROM_BYTES = 1024 * 1024;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

/** The `/invocations` keys whose value holds the rows (an array of rows, or for `inputs` also an object of them). */
const ROW_KEYS = new Set(['inputs', 'instances', 'dataframe_records']);

interface Frame {
  readonly array: boolean;
  /** Elements (arrays: 1 + commas seen once one has started) or keys (objects) so far. */
  count: number;
  /** Whether this container's elements are rows, and whose limit applies. */
  readonly rows: boolean;
  /** The key of the value being read (objects), for the layout. */
  key?: string;
  readonly path: string;
}

function tooMany(what: string, limit: number): never {
  throw new InvalidInputError(`The request has more than ${limit} ${what}; the limit is ${limit}.`);
}

/** Whether an array opened at `path` (its parents' keys) holds the body's rows. */
function rowsAt(path: string): boolean {
  // {"inputs": [rows]}, {"instances": [rows]}, {"dataframe_records": [rows]},
  // {"inputs": {"a": [rows]}}, {"dataframe_split": {"data": [rows]}}
  const parts = path.split('/');
  if (parts.length === 2) return ROW_KEYS.has(parts[1]);
  // (a row of a rows array is under '/inputs/[]', and is not itself rows)
  if (parts.length === 3) return (parts[1] === 'inputs' && parts[2] !== '[]') || (parts[1] === 'dataframe_split' && parts[2] === 'data');
  return false;
}

/** Counts one more element of a rows array (after a comma). */
function element(top: Frame | undefined, limits: PrescanLimits): void {
  if (top !== undefined && top.rows && ++top.count > limits.maxRows) tooMany('rows', limits.maxRows);
}

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** Throws an InvalidInputError when the JSON text holds more than the limits allow. */
export function prescanJson(text: string, limits: PrescanLimits): void {
  const stack: Frame[] = [];
  let top: Frame | undefined;
  let containers = 0;
  let lastString: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (isSpace(c)) continue;
    // An array's first element, whatever it is, starts here.
    if (top !== undefined && top.array && top.count === 0 && c !== 0x5d) top.count = 1;
    if (c === QUOTE) {
      const start = i + 1;
      for (i = start; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === BACKSLASH) i++;
        else if (d === QUOTE) break;
      }
      // Keys are short; a long string is never a key we look at.
      lastString = i - start <= 64 ? text.slice(start, i) : '';
    } else if (c === 0x2c /* , */) {
      if (top !== undefined && top.array) element(top, limits);
    } else if (c === COLON) {
      if (top !== undefined && !top.array) {
        top.key = lastString;
        if (++top.count > limits.maxKeys) tooMany('keys in one object', limits.maxKeys);
      }
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++containers > limits.maxContainers) tooMany('arrays and objects', limits.maxContainers);
      const path = top === undefined ? '' : top.array ? `${top.path}/[]` : `${top.path}/${top.key ?? ''}`;
      top = { array: c === 0x5b, count: 0, rows: c === 0x5b && rowsAt(path), path };
      stack.push(top);
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      stack.pop();
      top = stack.at(-1);
    }
  }
}

/** Refuses a CSV body with more data lines than `maxRows` before it is split into cells. */
export function prescanCsv(text: string, maxRows: number): void {
  let lines = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) quoted = !quoted;
    else if (c === 0x0a && !quoted) {
      // The header is not a row.
      if (++lines > maxRows + 1) tooMany('rows', maxRows);
    }
  }
}
