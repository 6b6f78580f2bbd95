/**
 * A pickle virtual machine for protocols 0-5 that never runs code. It implements the opcode set
 * of CPython's `pickle.py`, except persistent ids, the extension registry and out-of-band
 * buffers, which a saved model does not use. Calls (REDUCE, NEWOBJ, INST, OBJ) go through the
 * allow-list ({@link classify}); BUILD records state instead of calling `__setstate__`.
 *
 * Every resource is bounded: input size, stack and memo entries, mark depth, text-line and
 * integer lengths, and each array's element count (data lengths must match the shape).
 */
import { canonicalGlobal, classify } from './allow-list.js';
import { UnpicklingError } from './errors.js';
import { setArrayState, setDTypeState } from './numpy.js';
import { NdArray, NpDType, PyDict, PyGlobal, PyObject, PySet, PyTuple, type PyValue, Refused } from './values.js';

export interface UnpickleLimits {
  /** @default 512 MiB */
  maxBytes?: number;
  /** Values on the stack at once. @default 4,000,000 */
  maxStack?: number;
  /** Memo entries. @default 4,000,000 */
  maxMemo?: number;
  /** Nested MARKs. @default 10,000 */
  maxMarks?: number;
}

export interface UnpickleResult {
  value: PyValue;
  /** Globals the allow-list refused, in the order they appeared. */
  refused: Refused[];
}

const MAX_LINE = 4096;
const MAX_LONG_BYTES = 1024;
const MARK = Symbol('mark');
type Slot = PyValue | typeof MARK;

const dec = new TextDecoder('utf-8', { fatal: true });

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}
  need(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0 || this.pos + n > this.buf.length) {
      throw new UnpicklingError(`truncated or oversized field (${n} bytes wanted at offset ${this.pos})`);
    }
  }
  byte(): number {
    this.need(1);
    return this.buf[this.pos++];
  }
  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  uint(n: 1 | 2 | 4): number {
    const b = this.bytes(n);
    let v = 0;
    for (let k = n - 1; k >= 0; k--) v = v * 256 + b[k];
    return v;
  }
  int32(): number {
    const v = this.uint(4);
    return v >= 0x8000_0000 ? v - 0x1_0000_0000 : v;
  }
  uint64(): number {
    const lo = this.uint(4);
    const hi = this.uint(4);
    if (hi > 0x1fffff) throw new UnpicklingError('length field too large');
    return hi * 0x1_0000_0000 + lo;
  }
  float64(): number {
    const b = this.bytes(8);
    return new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, false);
  }
  line(): string {
    const start = this.pos;
    const end = this.buf.indexOf(0x0a, start);
    if (end === -1 || end - start > MAX_LINE) throw new UnpicklingError('missing or over-long text line');
    this.pos = end + 1;
    let s = '';
    for (let k = start; k < end; k++) s += String.fromCharCode(this.buf[k]);
    return s.endsWith('\r') ? s.slice(0, -1) : s;
  }
  utf8(n: number): string {
    const b = this.bytes(n);
    try {
      return dec.decode(b);
    } catch {
      throw new UnpicklingError('invalid UTF-8 in a string');
    }
  }
}

function toInt(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Little-endian two's-complement bytes (LONG1/LONG4). */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  if (b.length > MAX_LONG_BYTES) throw new UnpicklingError('integer too long');
  let v = 0n;
  for (let k = b.length - 1; k >= 0; k--) v = (v << 8n) | BigInt(b[k]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return toInt(v);
}

function parseTextInt(s: string): number | bigint | boolean {
  if (s === '01') return true;
  if (s === '00') return false;
  const t = s.endsWith('L') ? s.slice(0, -1) : s;
  if (!/^[+-]?\d+$/.test(t)) throw new UnpicklingError(`bad integer literal '${s.slice(0, 40)}'`);
  return toInt(BigInt(t));
}

/** Python string-literal (repr) text of STRING: quotes and backslash escapes. */
function parseReprString(s: string): Uint8Array {
  const q = s[0];
  if (s.length < 2 || (q !== "'" && q !== '"') || s[s.length - 1] !== q) throw new UnpicklingError('bad STRING literal');
  return unescape(s.slice(1, -1), false);
}

/** `raw-unicode-escape` (UNICODE) or `string-escape` (STRING) decoding, to bytes or code units. */
function unescape(s: string, rawUnicode: boolean): Uint8Array {
  const out: number[] = [];
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c !== 0x5c || k + 1 >= s.length) {
      out.push(c);
      continue;
    }
    const n = s[k + 1];
    if (!rawUnicode) {
      const simple: Record<string, number> = { n: 10, r: 13, t: 9, '\\': 92, "'": 39, '"': 34, a: 7, b: 8, f: 12, v: 11, '0': 0 };
      if (n === 'x') {
        out.push(parseInt(s.slice(k + 2, k + 4), 16));
        k += 3;
      } else if (n in simple) {
        out.push(simple[n]);
        k += 1;
      } else out.push(c);
    } else out.push(c);
  }
  return Uint8Array.from(out);
}

function rawUnicode(line: string): string {
  return line.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, a: string, b: string) => String.fromCodePoint(parseInt(a ?? b, 16)));
}

export class PickleVM {
  private readonly r: Reader;
  private stack: Slot[] = [];
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, PyValue>();
  private readonly refused: Refused[] = [];
  private readonly maxStack: number;
  private readonly maxMemo: number;
  private readonly maxMarks: number;

  constructor(bytes: Uint8Array, limits: UnpickleLimits = {}) {
    const maxBytes = limits.maxBytes ?? 512 * 1024 * 1024;
    if (bytes.length > maxBytes) throw new UnpicklingError(`the pickle is ${bytes.length} bytes, more than the ${maxBytes} allowed`);
    this.r = new Reader(bytes);
    this.maxStack = limits.maxStack ?? 4_000_000;
    this.maxMemo = limits.maxMemo ?? 4_000_000;
    this.maxMarks = limits.maxMarks ?? 10_000;
  }

  private push(v: Slot): void {
    if (this.stack.length >= this.maxStack) throw new UnpicklingError('stack limit exceeded');
    this.stack.push(v);
  }

  private pop(): PyValue {
    const v = this.stack.pop();
    if (v === undefined || v === MARK) throw new UnpicklingError('stack underflow');
    return v;
  }

  private top(): PyValue {
    const v = this.stack[this.stack.length - 1];
    if (v === undefined || v === MARK) throw new UnpicklingError('stack underflow');
    return v;
  }

  private popMark(): PyValue[] {
    const m = this.marks.pop();
    if (m === undefined) throw new UnpicklingError('no MARK on the stack');
    const items = this.stack.splice(m) as Slot[];
    items.shift();
    return items as PyValue[];
  }

  private mark(): void {
    if (this.marks.length >= this.maxMarks) throw new UnpicklingError('MARK nesting limit exceeded');
    this.marks.push(this.stack.length);
    this.push(MARK);
  }

  private memoize(index: number, v: PyValue): void {
    if (!this.memo.has(index) && this.memo.size >= this.maxMemo) throw new UnpicklingError('memo limit exceeded');
    this.memo.set(index, v);
  }

  private get(index: number): PyValue {
    const v = this.memo.get(index);
    if (v === undefined) throw new UnpicklingError(`memo key ${index} is not set`);
    return v;
  }

  private global(module: string, name: string): PyValue {
    const g = canonicalGlobal(module, name);
    if (classify(module, name) !== undefined) return g;
    const ref = new Refused(g);
    this.refused.push(ref);
    return ref;
  }

  /** Calling `callable(*args)`: interpreted, an inert instance, or refused. */
  private call(callable: PyValue, args: readonly PyValue[], kwargs?: PyDict): PyValue {
    if (callable instanceof Refused) return callable;
    if (!(callable instanceof PyGlobal)) throw new UnpicklingError('REDUCE of a value that is not a class or function');
    const kind = classify(callable.module, callable.name);
    if (kind?.kind === 'call' && kwargs === undefined) return kind.interpret(args);
    if (kind?.kind === 'class') return new PyObject(callable, args, kwargs);
    const ref = new Refused(callable);
    this.refused.push(ref);
    return ref;
  }

  private build(): void {
    const state = this.pop();
    const obj = this.top();
    if (obj instanceof PyObject) obj.state = state;
    else if (obj instanceof NdArray) setArrayState(obj, state);
    else if (obj instanceof NpDType) setDTypeState(obj, state);
    else if (!(obj instanceof Refused)) throw new UnpicklingError('BUILD on a value that has no state');
  }

  private setItems(target: PyValue, items: PyValue[]): void {
    const d = target instanceof PyObject ? target.dictItems : target;
    if (!(d instanceof PyDict)) throw new UnpicklingError('SETITEM(S) on a value that is not a dict');
    if (items.length % 2 !== 0) throw new UnpicklingError('odd number of items for SETITEMS');
    for (let k = 0; k < items.length; k += 2) d.set(items[k], items[k + 1]);
  }

  private append(target: PyValue, items: PyValue[]): void {
    const list = target instanceof PyObject ? target.listItems : target;
    if (Array.isArray(list)) {
      if (list.length + items.length > this.maxStack) throw new UnpicklingError('list too long');
      for (const it of items) list.push(it);
    } else if (list instanceof PySet && !list.frozen) {
      if (list.items.length + items.length > this.maxStack) throw new UnpicklingError('set too long');
      for (const it of items) list.items.push(it);
    } else throw new UnpicklingError('APPEND(S)/ADDITEMS on a value that is not a list or set');
  }

  run(): UnpickleResult {
    for (;;) {
      const op = this.r.byte();
      if (op === 0x2e /* STOP */) {
        const value = this.pop();
        return { value, refused: this.refused };
      }
      this.step(op);
    }
  }

  // Opcodes are split over five switches by family (scalars, strings, containers, memo and globals, calls).
  private step(op: number): void {
    const r = this.r;
    switch (op) {
      case 0x80 /* PROTO */:
        if (r.byte() > 5) throw new UnpicklingError('pickle protocol above 5');
        return;
      case 0x95 /* FRAME */:
        r.need(r.uint64());
        return;
      case 0x28 /* MARK */:
        return this.mark();
      case 0x30 /* POP */:
        if (this.stack[this.stack.length - 1] === MARK) this.popMark();
        else this.pop();
        return;
      case 0x31 /* POP_MARK */:
        this.popMark();
        return;
      case 0x32 /* DUP */:
        return this.push(this.top());
      case 0x4e /* NONE */:
        return this.push(null);
      case 0x88 /* NEWTRUE */:
        return this.push(true);
      case 0x89 /* NEWFALSE */:
        return this.push(false);
      case 0x49 /* INT */:
        return this.push(parseTextInt(r.line()));
      case 0x4c /* LONG */:
        return this.push(parseTextInt(r.line()) as number | bigint);
      case 0x4a /* BININT */:
        return this.push(r.int32());
      case 0x4b /* BININT1 */:
        return this.push(r.byte());
      case 0x4d /* BININT2 */:
        return this.push(r.uint(2));
      case 0x8a /* LONG1 */:
        return this.push(decodeLong(r.bytes(r.byte())));
      case 0x8b /* LONG4 */: {
        const n = r.int32();
        if (n < 0) throw new UnpicklingError('negative LONG4 length');
        return this.push(decodeLong(r.bytes(n)));
      }
      case 0x46 /* FLOAT */: {
        const s = r.line().trim();
        const v = /^(nan|[+-]?inf)$/i.test(s) ? (s.toLowerCase() === 'nan' ? NaN : s.startsWith('-') ? -Infinity : Infinity) : Number(s);
        if (Number.isNaN(v) && s.toLowerCase() !== 'nan') throw new UnpicklingError('bad FLOAT literal');
        return this.push(v);
      }
      case 0x47 /* BINFLOAT */:
        return this.push(r.float64());
      default:
        return this.stepStrings(op);
    }
  }

  private stepStrings(op: number): void {
    const r = this.r;
    switch (op) {
      case 0x53 /* STRING */:
        return this.push(new TextDecoder('latin1').decode(parseReprString(r.line())));
      case 0x54 /* BINSTRING */: {
        const n = r.int32();
        return this.push(new TextDecoder('latin1').decode(r.bytes(n)));
      }
      case 0x55 /* SHORT_BINSTRING */:
        return this.push(new TextDecoder('latin1').decode(r.bytes(r.byte())));
      case 0x56 /* UNICODE */:
        return this.push(rawUnicode(r.line()));
      case 0x58 /* BINUNICODE */:
        return this.push(r.utf8(r.uint(4)));
      case 0x8c /* SHORT_BINUNICODE */:
        return this.push(r.utf8(r.byte()));
      case 0x8d /* BINUNICODE8 */:
        return this.push(r.utf8(r.uint64()));
      case 0x42 /* BINBYTES */:
        return this.push(r.bytes(r.uint(4)).slice());
      case 0x43 /* SHORT_BINBYTES */:
        return this.push(r.bytes(r.byte()).slice());
      case 0x8e /* BINBYTES8 */:
      case 0x96 /* BYTEARRAY8 */:
        return this.push(r.bytes(r.uint64()).slice());
      case 0x98 /* READONLY_BUFFER */:
        this.top();
        return;
      default:
        return this.stepContainers(op);
    }
  }

  private stepContainers(op: number): void {
    switch (op) {
      case 0x5d /* EMPTY_LIST */:
        return this.push([]);
      case 0x7d /* EMPTY_DICT */:
        return this.push(new PyDict());
      case 0x29 /* EMPTY_TUPLE */:
        return this.push(new PyTuple([]));
      case 0x8f /* EMPTY_SET */:
        return this.push(new PySet([], false));
      case 0x6c /* LIST */:
        return this.push(this.popMark());
      case 0x74 /* TUPLE */:
        return this.push(new PyTuple(this.popMark()));
      case 0x85 /* TUPLE1 */:
      case 0x86 /* TUPLE2 */:
      case 0x87 /* TUPLE3 */: {
        const n = op - 0x84;
        const items: PyValue[] = [];
        for (let k = 0; k < n; k++) items.unshift(this.pop());
        return this.push(new PyTuple(items));
      }
      case 0x64 /* DICT */: {
        const d = new PyDict();
        this.setItems(d, this.popMark());
        return this.push(d);
      }
      case 0x91 /* FROZENSET */:
        return this.push(new PySet(this.popMark(), true));
      case 0x61 /* APPEND */: {
        const v = this.pop();
        return this.append(this.top(), [v]);
      }
      case 0x65 /* APPENDS */:
      case 0x90 /* ADDITEMS */: {
        const items = this.popMark();
        return this.append(this.top(), items);
      }
      case 0x73 /* SETITEM */: {
        const v = this.pop();
        const k = this.pop();
        return this.setItems(this.top(), [k, v]);
      }
      case 0x75 /* SETITEMS */: {
        const items = this.popMark();
        return this.setItems(this.top(), items);
      }
      default:
        return this.stepMemoAndCalls(op);
    }
  }

  private stepMemoAndCalls(op: number): void {
    const r = this.r;
    switch (op) {
      case 0x70 /* PUT */:
        return this.memoize(Number(parseTextInt(r.line())), this.top());
      case 0x71 /* BINPUT */:
        return this.memoize(r.byte(), this.top());
      case 0x72 /* LONG_BINPUT */:
        return this.memoize(r.uint(4), this.top());
      case 0x94 /* MEMOIZE */:
        return this.memoize(this.memo.size, this.top());
      case 0x67 /* GET */:
        return this.push(this.get(Number(parseTextInt(r.line()))));
      case 0x68 /* BINGET */:
        return this.push(this.get(r.byte()));
      case 0x6a /* LONG_BINGET */:
        return this.push(this.get(r.uint(4)));
      case 0x63 /* GLOBAL */: {
        const module = r.line();
        return this.push(this.global(module, r.line()));
      }
      case 0x93 /* STACK_GLOBAL */: {
        const name = this.pop();
        const module = this.pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw new UnpicklingError('STACK_GLOBAL needs two strings');
        return this.push(this.global(module, name));
      }
      default:
        return this.stepCalls(op);
    }
  }

  private stepCalls(op: number): void {
    const r = this.r;
    switch (op) {
      case 0x52 /* REDUCE */: {
        const args = this.pop();
        const fn = this.pop();
        if (!(args instanceof PyTuple)) throw new UnpicklingError('REDUCE arguments must be a tuple');
        return this.push(this.call(fn, args.items));
      }
      case 0x81 /* NEWOBJ */: {
        const args = this.pop();
        const cls = this.pop();
        if (!(args instanceof PyTuple)) throw new UnpicklingError('NEWOBJ arguments must be a tuple');
        return this.push(this.newObject(cls, args.items));
      }
      case 0x92 /* NEWOBJ_EX */: {
        const kwargs = this.pop();
        const args = this.pop();
        const cls = this.pop();
        if (!(args instanceof PyTuple) || !(kwargs instanceof PyDict)) throw new UnpicklingError('bad NEWOBJ_EX arguments');
        return this.push(this.newObject(cls, args.items, kwargs.size > 0 ? kwargs : undefined));
      }
      case 0x69 /* INST */: {
        const module = r.line();
        const cls = this.global(module, r.line());
        return this.push(this.newObject(cls, this.popMark()));
      }
      case 0x6f /* OBJ */: {
        const items = this.popMark();
        const cls = items.shift();
        if (cls === undefined) throw new UnpicklingError('OBJ without a class');
        return this.push(this.newObject(cls, items));
      }
      case 0x62 /* BUILD */:
        return this.build();
      default:
        throw new UnpicklingError(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')}${unsupportedHint(op)}`);
    }
  }

  /** `cls.__new__(cls, *args)`: only allowed classes, and never with arguments that would be code. */
  private newObject(cls: PyValue, args: readonly PyValue[], kwargs?: PyDict): PyValue {
    if (cls instanceof Refused) return cls;
    if (!(cls instanceof PyGlobal)) throw new UnpicklingError('NEWOBJ of a value that is not a class');
    const kind = classify(cls.module, cls.name);
    if (kind?.kind === 'class' || (kind?.kind === 'type' && cls.path === 'builtins.object')) return new PyObject(cls, args, kwargs);
    if (kind?.kind === 'type' && cls.path === 'builtins.list') return [];
    if (kind?.kind === 'type' && cls.path === 'builtins.dict') return new PyDict();
    return this.call(cls, args, kwargs);
  }
}

function unsupportedHint(op: number): string {
  if (op === 0x50 || op === 0x51) return ' (persistent ids are not supported)';
  if (op >= 0x82 && op <= 0x84) return ' (the copyreg extension registry is not supported)';
  if (op === 0x97) return ' (out-of-band buffers are not supported)';
  return '';
}

/** Decodes a pickle into inert values. Throws {@link UnpicklingError} on malformed input. */
export function unpickle(bytes: Uint8Array, limits?: UnpickleLimits): UnpickleResult {
  return new PickleVM(bytes, limits).run();
}
