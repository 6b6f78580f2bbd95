/**
 * JSON text exactly as Python's `json.dumps` writes it (", " and ": " separators, ensure_ascii,
 * float repr, NaN/Infinity tokens), so our bodies match MLflow's byte for byte and Python clients
 * see floats as floats (`3.0`, not `3`).
 */

const NEEDS_ESCAPE = /[^\x20-\x21\x23-\x5b\x5d-\x7e]/;
const NON_ASCII = /[\u0080-\uffff]/g;

export function pyString(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return `"${s}"`;
  return JSON.stringify(s).replace(NON_ASCII, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Python's `repr(float)`: shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
export function pyFloat(x: number): string {
  if (x !== x) return 'NaN';
  if (x === Number.POSITIVE_INFINITY) return 'Infinity';
  if (x === Number.NEGATIVE_INFINITY) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const a = x < 0 ? -x : x;
  if (a >= 1e-4 && a < 1e16) {
    const s = String(x);
    return s.includes('.') ? s : `${s}.0`;
  }
  const e = x.toExponential();
  const i = e.indexOf('e');
  const exp = e.slice(i + 2);
  return `${e.slice(0, i)}e${e[i + 1]}${exp.length < 2 ? `0${exp}` : exp}`;
}

function pyNumber(x: number): string {
  return Number.isInteger(x) && Math.abs(x) < 1e16 ? String(x) : pyFloat(x);
}

/** `json.dumps(value)` for plain JSON-like values (numbers that are whole print as ints). */
export function pyJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return pyString(value);
    case 'number':
      return pyNumber(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return value.toString();
    case 'undefined':
      return 'null';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let s = '[';
        for (let i = 0; i < value.length; i++) s += (i === 0 ? '' : ', ') + pyJson(value[i]);
        return `${s}]`;
      }
      if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
        return pyJson(Array.from(value as unknown as ArrayLike<unknown>));
      }
      if (value instanceof Date) return pyString(value.toISOString());
      const maybe = value as { toJSON?: () => unknown };
      if (typeof maybe.toJSON === 'function') return pyJson(maybe.toJSON());
      let s = '{';
      let first = true;
      for (const [k, v] of Object.entries(value)) {
        if (v === undefined || typeof v === 'function') continue;
        s += `${first ? '' : ', '}${pyString(k)}: ${pyJson(v)}`;
        first = false;
      }
      return `${s}}`;
    }
    default:
      return 'null';
  }
}

/** Text past a writer's limit: thrown as soon as it is passed, so a huge answer is never written whole. */
export class TextLimitError extends Error {
  constructor(readonly limit: number) {
    super(`more than ${limit} characters`);
  }
}
