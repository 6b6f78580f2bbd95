/**
 * The files an ONNX model reads besides itself: tensors stored as external data name a
 * `location` relative to the model file, which onnxruntime opens as it is given. A model folder's
 * digests only cover files inside it, so every such location must be checked before a session is
 * created; this walks the ModelProto for them without decoding anything else.
 *
 * Field numbers from onnx/onnx.proto:
 *   ModelProto        graph=7 functions=25
 *   GraphProto        node=1 initializer=5 sparse_initializer=15
 *   FunctionProto     node=7
 *   NodeProto         attribute=5
 *   AttributeProto    t=5 g=6 tensors=10 graphs=11 sparse_tensor=22 sparse_tensors=23
 *   SparseTensorProto values=1 indices=2
 *   TensorProto       external_data=13 (StringStringEntryProto key=1 value=2) data_location=14
 */

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

/** Sub-messages to descend into, per message kind: field number → kind of the field's message. */
type Kind = 'model' | 'graph' | 'function' | 'node' | 'attribute' | 'sparse' | 'tensor';
const CHILDREN: Record<Kind, Readonly<Record<number, Kind>>> = {
  model: { 7: 'graph', 25: 'function' },
  graph: { 1: 'node', 5: 'tensor', 15: 'sparse' },
  function: { 7: 'node' },
  node: { 5: 'attribute' },
  attribute: { 5: 'tensor', 6: 'graph', 10: 'tensor', 11: 'graph', 22: 'sparse', 23: 'sparse' },
  sparse: { 1: 'tensor', 2: 'tensor' },
  tensor: {},
};

/** Deeper nesting than any real model (subgraphs of subgraphs) is refused rather than recursed into. */
const MAX_DEPTH = 64;

export class OnnxFormatError extends Error {}

class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) throw new OnnxFormatError('truncated varint');
      const b = this.buf[this.pos++];
      if (shift < 49) result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) throw new OnnxFormatError('varint too long');
    }
  }

  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_I64:
        this.advance(8);
        return;
      case WIRE_I32:
        this.advance(4);
        return;
      case WIRE_LEN:
        this.advance(this.varint());
        return;
      default:
        throw new OnnxFormatError(`unsupported wire type ${wire}`);
    }
  }

  advance(n: number): void {
    if (n > this.end - this.pos) throw new OnnxFormatError('field runs past the end of the file');
    this.pos += n;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** The `location` of one TensorProto's external data, if it has any. */
function tensorLocation(buf: Uint8Array, start: number, end: number): string | undefined {
  const r = new Reader(buf, start, end);
  let location: string | undefined;
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 13 && wire === WIRE_LEN) {
      const len = r.varint();
      const entryEnd = r.pos + len;
      if (len > r.end - r.pos) throw new OnnxFormatError('field runs past the end of the file');
      const e = new Reader(buf, r.pos, entryEnd);
      let key: string | undefined;
      let value: string | undefined;
      while (e.pos < e.end) {
        const t = e.varint();
        if ((t & 7) !== WIRE_LEN) {
          e.skip(t & 7);
          continue;
        }
        const n = e.varint();
        e.advance(n);
        const s = utf8.decode(buf.subarray(e.pos - n, e.pos));
        if (t >>> 3 === 1) key = s;
        else if (t >>> 3 === 2) value = s;
      }
      if (key === 'location' && value !== undefined) location = value;
      r.pos = entryEnd;
    } else {
      r.skip(wire);
    }
  }
  return location;
}

function walk(buf: Uint8Array, start: number, end: number, kind: Kind, depth: number, out: Set<string>): void {
  if (depth > MAX_DEPTH) throw new OnnxFormatError(`subgraphs nested deeper than ${MAX_DEPTH}`);
  if (kind === 'tensor') {
    const loc = tensorLocation(buf, start, end);
    if (loc !== undefined) out.add(loc);
    return;
  }
  const children = CHILDREN[kind];
  const r = new Reader(buf, start, end);
  while (r.pos < r.end) {
    const tag = r.varint();
    const child = children[Math.floor(tag / 8)];
    if (child !== undefined && (tag & 7) === WIRE_LEN) {
      const len = r.varint();
      const at = r.pos;
      r.advance(len);
      walk(buf, at, at + len, child, depth + 1, out);
    } else {
      r.skip(tag & 7);
    }
  }
}

/** Every external-data `location` an ONNX model names, as written in the file. */
export function externalDataLocations(model: Uint8Array): string[] {
  const out = new Set<string>();
  walk(model, 0, model.length, 'model', 0, out);
  return [...out];
}
