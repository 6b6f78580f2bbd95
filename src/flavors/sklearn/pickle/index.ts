/**
 * The safe unpickler's entry point: bytes in, inert values out, or an error that names the first
 * refused class and the path where it sits in the object graph (e.g.
 * `pipeline.steps[2][1] → mypkg.MyTransformer`).
 */
import { UnsafePickleError } from './errors.js';
import { NdArray, PyDict, PyObject, PySet, PyTuple, type PyValue, Refused } from './values.js';
import { type UnpickleLimits, unpickle } from './vm.js';

export { UnpicklingError, UnsafePickleError } from './errors.js';
export type { UnpickleLimits } from './vm.js';
export * from './values.js';

function children(v: PyValue): [string, PyValue][] {
  if (Array.isArray(v)) return v.map((c, i) => [`[${i}]`, c]);
  if (v instanceof PyTuple) return v.items.map((c, i) => [`[${i}]`, c]);
  if (v instanceof PySet) return v.items.map((c, i) => [`{${i}}`, c]);
  if (v instanceof PyDict) {
    return [
      ...[...v.strings].map(([k, c]): [string, PyValue] => [`['${k}']`, c]),
      ...v.others.map(([, c], i): [string, PyValue] => [`[<key ${i}>]`, c]),
    ];
  }
  if (v instanceof PyObject) {
    const out: [string, PyValue][] = v.args.map((c, i) => [`(arg ${i})`, c]);
    const d = v.dict;
    if (d !== undefined) for (const [k, c] of d.strings) out.push([`.${k}`, c]);
    else if (v.state !== undefined) out.push(['.__state__', v.state]);
    v.listItems.forEach((c, i) => out.push([`[${i}]`, c]));
    for (const [k, c] of v.dictItems.strings) out.push([`['${k}']`, c]);
    v.dictItems.others.forEach(([, c], i) => out.push([`[<key ${i}>]`, c]));
    return out;
  }
  if (v instanceof NdArray && v.dtype?.kind === 'O') return (v.data as PyValue[]).map((c, i) => [`[${i}]`, c]);
  return [];
}

/** Breadth-first, so the reported path is the shortest; iterative and cycle-safe. */
export function findPath(root: PyValue, target: PyValue): string | undefined {
  const rootName = root instanceof PyObject ? root.cls.name.toLowerCase() : 'model';
  if (root === target) return rootName;
  const seen = new Set<unknown>([root]);
  let frontier: [PyValue, string][] = [[root, rootName]];
  while (frontier.length > 0) {
    const next: [PyValue, string][] = [];
    for (const [v, path] of frontier) {
      for (const [step, c] of children(v)) {
        const p = step.startsWith('(') ? `${path} ${step}` : `${path}${step}`;
        if (c === target) return p;
        if (c !== null && typeof c === 'object' && !seen.has(c)) {
          seen.add(c);
          next.push([c, p]);
        }
      }
    }
    frontier = next;
  }
  return undefined;
}

/** Keeps error messages short when a hostile pickle nests a refused class very deep. */
function shorten(path: string): string {
  return path.length <= 400 ? path : `${path.slice(0, 200)}…${path.slice(-200)}`;
}

/** Unpickles `bytes`; refuses (with the path) any pickle that names a class outside the allow-list. */
export function loadPickle(bytes: Uint8Array, limits?: UnpickleLimits): PyValue {
  const { value, refused } = unpickle(bytes, limits);
  if (value instanceof Refused) throw new UnsafePickleError('the top-level object', value.cls.path);
  if (refused.length > 0) {
    for (const ref of refused) {
      const where = findPath(value, ref);
      if (where !== undefined) throw new UnsafePickleError(shorten(where), ref.cls.path);
    }
    throw new UnsafePickleError('a value not reachable from the model', refused[0].cls.path);
  }
  return value;
}
