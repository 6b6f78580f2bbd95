/**
 * The safe unpickler: every protocol of both scikit-learn generations decodes to the same model,
 * and hostile input (truncated, oversized, deeply nested, memo and stack abuse, references to code)
 * is refused quickly with an error, never by running anything or exhausting memory or stack.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileSklearn } from '../../src/flavors/sklearn/compile.js';
import {
  type NdArray,
  type PyDict,
  type PyObject,
  UnpicklingError,
  UnsafePickleError,
  loadPickle,
} from '../../src/flavors/sklearn/pickle/index.js';
import { SKLEARN_FIXTURES } from './helpers.js';

const PICKLES = join(SKLEARN_FIXTURES, 'pickles');
const bytes = (...parts: (string | number[])[]): Uint8Array =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...p].map((c) => c.charCodeAt(0)) : p)));
const u32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];

function refusal(data: Uint8Array): Error {
  try {
    loadPickle(data);
  } catch (e) {
    return e as Error;
  }
  throw new Error('the pickle was accepted');
}

describe('protocols 0-5, pickle and cloudpickle, numpy 1.x and 2.x', () => {
  for (const tag of ['sk12', 'sk19']) {
    it(`${tag}: every protocol compiles to the same graph`, () => {
      const files = readdirSync(PICKLES).filter((f) => f.startsWith('iris-tree-') && f.endsWith(`-${tag}.pkl`));
      expect(files).toHaveLength(7);
      const graphs = files.map((f) =>
        Buffer.from(compileSklearn(loadPickle(readFileSync(join(PICKLES, f))), 'predict_proba').onnx).toString('hex'),
      );
      expect(new Set(graphs).size).toBe(1);
    });
  }

  it('decodes the tree state: structured nodes, values, n_classes as an int64 array', () => {
    const tree = loadPickle(readFileSync(join(PICKLES, 'iris-tree-p5-sk19.pkl'))) as PyObject;
    expect(tree.cls.path).toBe('sklearn.tree._classes.DecisionTreeClassifier');
    const t = tree.dict?.get('tree_') as PyObject;
    expect(t.cls.path).toBe('sklearn.tree._tree.Tree');
    const nodes = t.dict?.get('nodes') as NdArray;
    expect(Object.keys(nodes.fields ?? {})).toEqual([
      'left_child',
      'right_child',
      'feature',
      'threshold',
      'impurity',
      'n_node_samples',
      'weighted_n_node_samples',
      'missing_go_to_left',
    ]);
    expect((t.args[1] as NdArray).data).toEqual(BigInt64Array.from([3n]));
    expect((t.dict?.get('values') as NdArray).shape).toEqual([5, 1, 3]);
    const old = loadPickle(readFileSync(join(PICKLES, 'iris-tree-p0-sk12.pkl'))) as PyObject;
    const oldNodes = ((old.dict?.get('tree_') as PyObject).dict?.get('nodes') as NdArray).fields ?? {};
    expect('missing_go_to_left' in oldNodes).toBe(false);
    expect(oldNodes.threshold).toEqual((nodes.fields ?? {}).threshold);
  });

  it('reads numpy strings, Fortran order, big-endian, float16 and bool arrays', () => {
    // pickle.dumps({'a': asfortranarray(arange(6, dtype='>i4').reshape(2, 3)), 'u': array(['ab', 'c'])}, protocol=2)
    const v = loadPickle(readFileSync(join(PICKLES, 'numpy-kinds-sk12.pkl'))) as PyDict;
    const a = v.get('a') as NdArray;
    expect(a.shape).toEqual([2, 3]);
    expect(Array.from(a.data as Int32Array)).toEqual([0, 1, 2, 3, 4, 5]);
    expect((v.get('u') as NdArray).data).toEqual(['ab', 'c']);
    expect(Array.from((v.get('h') as NdArray).data as Float32Array)).toEqual([1.5, -2]);
    expect(Array.from((v.get('b') as NdArray).data as Uint8Array)).toEqual([1, 0]);
  });
});

describe('hostile pickles', () => {
  const tree = readFileSync(join(PICKLES, 'iris-tree-p4-sk19.pkl'));

  it('refuses every truncation of a real pickle', () => {
    for (let n = 0; n < tree.length; n += Math.max(1, Math.floor(tree.length / 97))) {
      expect(refusal(tree.subarray(0, n))).toBeInstanceOf(UnpicklingError);
    }
  });

  it('refuses declared lengths beyond the input without allocating them', () => {
    expect(refusal(bytes([0x80, 4, 0x58], u32(0xffffffff), '.')).message).toMatch(/truncated or oversized/);
    expect(refusal(bytes([0x80, 4, 0x8e], u32(0), u32(0x100000), '.')).message).toMatch(/truncated or oversized/);
    expect(refusal(bytes([0x80, 4, 0x95, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0], '.')).message).toMatch(/oversized/);
    expect(refusal(bytes([0x80, 4, 0x8b], u32(0x7fffffff), '.'))).toBeInstanceOf(UnpicklingError);
  });

  it('bounds MARK nesting, the stack and the memo', () => {
    expect(refusal(bytes('('.repeat(20_000), '.')).message).toMatch(/MARK nesting/);
    expect(() => loadPickle(bytes('N', '2'.repeat(100), '.'), { maxStack: 50 })).toThrow(/stack limit/);
    expect(() => loadPickle(bytes('N', [0x94], '.'), { maxMemo: 0 })).toThrow(/memo limit/);
    const puts = Array.from({ length: 20 }, (_, k) => [0x72, ...u32(k * 1000)]);
    expect(() => loadPickle(bytes('N', ...puts, '.'), { maxMemo: 10 })).toThrow(/memo limit/);
    expect(refusal(bytes('h', [7], '.')).message).toMatch(/memo key 7/);
  });

  it('survives 200,000 nested lists and reports a refused class deep inside with a short path', () => {
    const depth = 200_000;
    const deep = bytes(']'.repeat(depth), 'cposix\nsystem\n', 'a'.repeat(depth), '.');
    const err = refusal(deep) as UnsafePickleError;
    expect(err).toBeInstanceOf(UnsafePickleError);
    expect(err.classPath).toBe('posix.system');
    expect(err.message.length).toBeLessThan(1000);
  });

  it('keeps self-referencing containers inert and refuses them as models', () => {
    const cyclic = loadPickle(bytes(']q', [0], 'h', [0], 'a.')) as unknown[];
    expect(cyclic[0]).toBe(cyclic);
    expect(() => compileSklearn(cyclic as never, 'predict')).toThrow(/does not hold an estimator/);
  });

  it('refuses code references in any protocol: os.system, builtins.eval, subprocess, getattr', () => {
    const cases: [Uint8Array, string][] = [
      [bytes('cos\nsystem\n(Vtouch /tmp/x\ntR.'), 'os.system'],
      [bytes('c__builtin__\neval\n(Vprint(1)\ntR.'), 'builtins.eval'],
      [bytes([0x80, 4], [0x8c, 10], 'subprocess', [0x8c, 5], 'Popen', [0x93], ')R.'), 'subprocess.Popen'],
      [bytes('cbuiltins\ngetattr\n(cbuiltins\nobject\nV__subclasses__\ntR.'), 'builtins.getattr'],
      [bytes('(Vls\nios\nsystem\n.'), 'os.system'],
    ];
    for (const [data, path] of cases) {
      const err = refusal(data) as UnsafePickleError;
      expect(err, path).toBeInstanceOf(UnsafePickleError);
      expect(err.classPath).toBe(path);
    }
  });

  it('refuses arrays whose data does not match their shape', () => {
    // numpy.core.multiarray._reconstruct(ndarray, (0,), b'b') then BUILD (1, (1000000,), dtype('f8'), False, 8 bytes)
    const arr = bytes(
      'cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\n(I0\ntC',
      [1],
      'btR',
      '(I1\n(I1000000\ntcnumpy\ndtype\n(Vf8\nI00\nI01\ntR(I3\nV<\nNNNI-1\nI-1\nI0\ntbI00\nC',
      [8],
      '\0\0\0\0\0\0\0\0',
      'tb.',
    );
    expect(refusal(arr).message).toMatch(/8 bytes, its shape and dtype need 8000000/);
  });

  it('refuses persistent ids, the extension registry and out-of-band buffers', () => {
    expect(refusal(bytes('Pfoo\n.')).message).toMatch(/persistent ids/);
    expect(refusal(bytes([0x80, 2, 0x82, 1], '.')).message).toMatch(/extension registry/);
    expect(refusal(bytes([0x80, 5, 0x97], '.')).message).toMatch(/out-of-band/);
  });

  it('never touches attributes of refused objects (their state is kept, not applied)', () => {
    const v = loadPickle(bytes('csklearn.preprocessing._data\nStandardScaler\n)\x81}VX\nI1\nsb.')) as PyObject;
    expect(v.cls.path).toBe('sklearn.preprocessing._data.StandardScaler');
    expect((v.state as PyDict).get('X')).toBe(1);
  });
});
