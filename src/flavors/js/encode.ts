/**
 * A JS model's result as JSON text, written where the model runs: in its own thread (so a huge
 * result costs that thread, not the server's event loop, and crosses back as one string, the
 * cheapest thing to clone) or in the server's thread with `--js-isolation none`.
 *
 * One pass checks the value (what `JSON.stringify` would keep; a function, a symbol, a cycle or
 * absurd nesting is the model's error) and writes it as Python's `json.dumps` does: ", "
 * separators, ensure_ascii, NaN/Infinity tokens; whole numbers as ints (JavaScript has one
 * number type); BigInts exact; typed arrays and Sets as lists, Maps as objects, Dates as ISO
 * strings. Text past `maxBytes` is refused before it is all built.
 *
 * Self-contained (no imports, no outer names): the thread is started from this function's
 * source text.
 */
export function encodeJsResult(value: unknown, maxBytes: number): string {
  const MAX_DEPTH = 256;
  const NEEDS_ESCAPE = /[^\x20-\x21\x23-\x5b\x5d-\x7e]/;
  const NON_ASCII = /[\u0080-\uffff]/g;
  const fail = (path: string, what: string): never => {
    const err = new Error(`predict returned ${what} at ${path}, which cannot be sent as JSON`);
    err.name = 'UnserializableOutputError';
    throw err;
  };
  const parts: string[] = [];
  let size = 0;
  const push = (s: string): void => {
    size += s.length;
    if (size > maxBytes) {
      const err = new Error(`The prediction is larger than the response limit of ${maxBytes} bytes.`);
      err.name = 'ResponseTooLargeError';
      throw err;
    }
    parts.push(s);
  };
  const str = (s: string): string =>
    NEEDS_ESCAPE.test(s) ? JSON.stringify(s).replace(NON_ASCII, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : `"${s}"`;
  const num = (x: number): string => {
    if (x !== x) return 'NaN';
    if (x === Infinity) return 'Infinity';
    if (x === -Infinity) return '-Infinity';
    if (Number.isInteger(x) && Math.abs(x) < 1e16) return String(x);
    const a = Math.abs(x);
    if (a >= 1e-4 && a < 1e16) return String(x);
    const e = x.toExponential();
    const i = e.indexOf('e');
    const exp = e.slice(i + 2);
    return `${e.slice(0, i)}e${e[i + 1]}${exp.length < 2 ? `0${exp}` : exp}`;
  };
  const seen = new Set<object>();
  const list = (items: Iterable<unknown>, path: string, depth: number): void => {
    push('[');
    let i = 0;
    for (const x of items) {
      if (i > 0) push(', ');
      write(x, `${path}[${i}]`, depth + 1);
      i++;
    }
    push(']');
  };
  const entries = (items: Iterable<[unknown, unknown]>, path: string, depth: number): void => {
    push('{');
    let first = true;
    for (const [k, x] of items) {
      if (x === undefined) continue; // as JSON.stringify does
      push(`${first ? '' : ', '}${str(String(k))}: `);
      write(x, `${path}.${String(k)}`, depth + 1);
      first = false;
    }
    push('}');
  };
  const write = (v: unknown, path: string, depth: number): void => {
    switch (typeof v) {
      case 'string':
        return push(str(v));
      case 'number':
        return push(num(v));
      case 'boolean':
        return push(v ? 'true' : 'false');
      case 'bigint':
        return push(v.toString());
      case 'undefined':
        return push('null');
      case 'function':
        return fail(path, 'a function');
      case 'symbol':
        return fail(path, 'a symbol');
    }
    if (v === null) return push('null');
    const obj = v as object;
    if (depth > MAX_DEPTH) return fail(path, `data nested more than ${MAX_DEPTH} levels deep`);
    if (seen.has(obj)) return fail(path, 'a circular reference');
    if (ArrayBuffer.isView(obj) && !(obj instanceof DataView)) return list(obj as unknown as Iterable<unknown>, path, depth);
    if (obj instanceof Date) return push(str(obj.toISOString()));
    seen.add(obj);
    try {
      if (Array.isArray(obj) || obj instanceof Set) return list(obj, path, depth);
      if (obj instanceof Map) return entries(obj, path, depth);
      const toJSON = (obj as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') return write((toJSON as () => unknown).call(obj), path, depth + 1);
      return entries(Object.entries(obj), path, depth);
    } finally {
      seen.delete(obj);
    }
  };
  if (value === undefined) fail('the top level', 'undefined');
  write(value, '$', 0);
  return parts.join('');
}
