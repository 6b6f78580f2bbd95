/**
 * A minimal ONNX model *writer*: a hand-written protobuf encoder for the subset of
 * `onnx/onnx.proto` needed to build graphs at run time (models compiled from other formats) and
 * small test models (no protobufjs, no Python).
 *
 * Field numbers follow onnx.proto (proto2):
 *   ModelProto         ir_version=1 producer_name=2 producer_version=3 domain=4 model_version=5
 *                      doc_string=6 graph=7 opset_import=8
 *   OperatorSetIdProto domain=1 version=2
 *   GraphProto         node=1 name=2 initializer=5 doc_string=10 input=11 output=12
 *   NodeProto          input=1 output=2 name=3 op_type=4 attribute=5 doc_string=6 domain=7
 *   AttributeProto     name=1 f=2 i=3 s=4 t=5 g=6 floats=7 ints=8 strings=9 type=20
 *   TensorProto        dims=1 data_type=2 string_data=6 name=8 raw_data=9 external_data=13 data_location=14
 *   ValueInfoProto     name=1 type=2
 *   TypeProto          tensor_type=1;  TypeProto.Tensor elem_type=1 shape=2
 *   TensorShapeProto   dim=1;  Dimension dim_value=1 dim_param=2
 *
 * Output is deterministic: the same spec always gives the same bytes.
 */

export type OnnxDType = 'float32' | 'float64' | 'int8' | 'uint8' | 'int16' | 'int32' | 'int64' | 'bool' | 'string';

export interface TensorInit {
  name: string;
  dtype: OnnxDType;
  dims: number[];
  data: ArrayLike<number> | readonly bigint[] | readonly string[] | readonly boolean[];
  /** Store the data in another file instead (`data` is then ignored): onnxruntime reads it from `location`, relative to the model file. */
  external?: { location: string; offset?: number; length?: number };
}

/** A graph input or output. A string in `shape` is a symbolic dimension (e.g. 'N' for batch). */
export interface ValueInfo {
  name: string;
  dtype: OnnxDType;
  shape: (number | string)[];
}

export type AttrValue =
  | { f: number }
  | { i: number }
  | { s: string }
  | { floats: number[] }
  | { ints: number[] }
  | { strings: string[] }
  | { t: TensorInit }
  | { g: GraphSpec };

/** A graph body, e.g. the `body` of Loop or a branch of If (may read values of enclosing graphs). */
export interface GraphSpec {
  name: string;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  nodes: NodeSpec[];
  initializers?: TensorInit[];
}

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, AttrValue>;
  name?: string;
  domain?: string;
}

export interface ModelSpec {
  graphName?: string;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  nodes: NodeSpec[];
  initializers?: TensorInit[];
  /** Default-domain opset version. @default 13 */
  opset?: number;
  /** Opsets of other domains, e.g. `{ 'ai.onnx.ml': 3 }`. */
  domains?: Readonly<Record<string, number>>;
  /** @default 'modelgate-tools' */
  producer?: string;
  /** @default 8 */
  irVersion?: number;
  docString?: string;
}

/** TensorProto.DataType values. */
export const ONNX_DATA_TYPE: Readonly<Record<OnnxDType, number>> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float64: 11,
};

/** AttributeProto.AttributeType values. */
const ATTR_TYPE = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

/** Protobuf wire types. */
const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

const utf8 = new TextEncoder();

/** Appends protobuf fields to a growable byte buffer. */
class ProtoWriter {
  private buf = new Uint8Array(256);
  private len = 0;

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }

  /** Raw varint. Negative values are encoded as 64-bit two's complement (10 bytes), as for int64. */
  rawVarint(value: number | bigint): void {
    let v = typeof value === 'bigint' ? value : BigInt(checkInteger(value));
    if (v < 0n) v = BigInt.asUintN(64, v);
    if (v > 0xffff_ffff_ffff_ffffn) throw new RangeError(`varint out of range: ${value}`);
    while (v >= 0x80n) {
      this.byte(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.byte(Number(v));
  }

  private tag(field: number, wire: number): void {
    this.rawVarint((field << 3) | wire);
  }

  varint(field: number, value: number | bigint): void {
    this.tag(field, WIRE_VARINT);
    this.rawVarint(value);
  }

  float(field: number, value: number): void {
    this.tag(field, WIRE_I32);
    this.ensure(4);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.len, 4).setFloat32(0, value, true);
    this.len += 4;
  }

  bytes(field: number, value: Uint8Array): void {
    this.tag(field, WIRE_LEN);
    this.rawVarint(value.length);
    this.ensure(value.length);
    this.buf.set(value, this.len);
    this.len += value.length;
  }

  string(field: number, value: string): void {
    this.bytes(field, utf8.encode(value));
  }

  message(field: number, build: (w: ProtoWriter) => void): void {
    const inner = new ProtoWriter();
    build(inner);
    this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function checkInteger(v: number): number {
  if (!Number.isSafeInteger(v)) throw new RangeError(`expected a safe integer, got ${v}`);
  return v;
}

function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, d) => a * checkInteger(d), 1);
}

/** Encodes numeric/bool tensor data as fixed-width little-endian bytes (TensorProto.raw_data). */
export function encodeRawData(dtype: Exclude<OnnxDType, 'string'>, data: TensorInit['data']): Uint8Array {
  const n = data.length;
  const sizes: Record<Exclude<OnnxDType, 'string'>, number> = {
    float32: 4,
    float64: 8,
    int8: 1,
    uint8: 1,
    int16: 2,
    int32: 4,
    int64: 8,
    bool: 1,
  };
  const out = new Uint8Array(n * sizes[dtype]);
  const dv = new DataView(out.buffer);
  for (let k = 0; k < n; k++) {
    const v = (data as ArrayLike<unknown>)[k];
    if (typeof v === 'string') throw new TypeError(`string element in ${dtype} tensor`);
    switch (dtype) {
      case 'float32':
        dv.setFloat32(k * 4, Number(v), true);
        break;
      case 'float64':
        dv.setFloat64(k * 8, Number(v), true);
        break;
      case 'int8':
        dv.setInt8(k, checkInteger(Number(v)));
        break;
      case 'uint8':
        dv.setUint8(k, checkInteger(Number(v)));
        break;
      case 'int16':
        dv.setInt16(k * 2, checkInteger(Number(v)), true);
        break;
      case 'int32':
        dv.setInt32(k * 4, checkInteger(Number(v)), true);
        break;
      case 'int64':
        dv.setBigInt64(k * 8, typeof v === 'bigint' ? v : BigInt(checkInteger(Number(v))), true);
        break;
      case 'bool':
        dv.setUint8(k, v ? 1 : 0);
        break;
    }
  }
  return out;
}

function writeTensor(w: ProtoWriter, t: TensorInit): void {
  if (t.external !== undefined) {
    for (const d of t.dims) w.varint(1, d);
    w.varint(2, ONNX_DATA_TYPE[t.dtype]);
    if (t.name) w.string(8, t.name);
    const entries: [string, string][] = [['location', t.external.location]];
    if (t.external.offset !== undefined) entries.push(['offset', String(t.external.offset)]);
    if (t.external.length !== undefined) entries.push(['length', String(t.external.length)]);
    for (const [k, v] of entries) {
      w.message(13, (e) => {
        e.string(1, k);
        e.string(2, v);
      });
    }
    w.varint(14, 1); // DataLocation.EXTERNAL
    return;
  }
  const expected = elementCount(t.dims);
  if (t.data.length !== expected) {
    throw new RangeError(`tensor '${t.name}': dims [${t.dims.join(',')}] need ${expected} elements, got ${t.data.length}`);
  }
  for (const d of t.dims) w.varint(1, d);
  w.varint(2, ONNX_DATA_TYPE[t.dtype]);
  if (t.dtype === 'string') {
    const data = t.data as ArrayLike<unknown>;
    for (let k = 0; k < data.length; k++) {
      const s = data[k];
      if (typeof s !== 'string') throw new TypeError(`tensor '${t.name}': non-string element in string tensor`);
      w.bytes(6, utf8.encode(s));
    }
  }
  if (t.name) w.string(8, t.name);
  if (t.dtype !== 'string') w.bytes(9, encodeRawData(t.dtype, t.data));
}

function writeAttribute(w: ProtoWriter, name: string, value: AttrValue): void {
  w.string(1, name);
  if ('f' in value) {
    w.float(2, value.f);
    w.varint(20, ATTR_TYPE.FLOAT);
  } else if ('i' in value) {
    w.varint(3, value.i);
    w.varint(20, ATTR_TYPE.INT);
  } else if ('s' in value) {
    w.string(4, value.s);
    w.varint(20, ATTR_TYPE.STRING);
  } else if ('t' in value) {
    w.message(5, (tw) => writeTensor(tw, value.t));
    w.varint(20, ATTR_TYPE.TENSOR);
  } else if ('g' in value) {
    w.message(6, (gw) => writeGraph(gw, value.g));
    w.varint(20, ATTR_TYPE.GRAPH);
  } else if ('floats' in value) {
    for (const f of value.floats) w.float(7, f);
    w.varint(20, ATTR_TYPE.FLOATS);
  } else if ('ints' in value) {
    for (const i of value.ints) w.varint(8, i);
    w.varint(20, ATTR_TYPE.INTS);
  } else if ('strings' in value) {
    for (const s of value.strings) w.string(9, s);
    w.varint(20, ATTR_TYPE.STRINGS);
  } else {
    throw new TypeError(`attribute '${name}': unsupported value`);
  }
}

function writeNode(w: ProtoWriter, node: NodeSpec): void {
  for (const i of node.inputs) w.string(1, i);
  for (const o of node.outputs) w.string(2, o);
  if (node.name) w.string(3, node.name);
  w.string(4, node.op);
  for (const [name, value] of Object.entries(node.attrs ?? {})) {
    w.message(5, (aw) => writeAttribute(aw, name, value));
  }
  if (node.domain) w.string(7, node.domain);
}

function writeValueInfo(w: ProtoWriter, v: ValueInfo): void {
  w.string(1, v.name);
  w.message(2, (typeW) =>
    typeW.message(1, (tensorW) => {
      tensorW.varint(1, ONNX_DATA_TYPE[v.dtype]);
      tensorW.message(2, (shapeW) => {
        for (const d of v.shape) {
          shapeW.message(1, (dimW) => {
            if (typeof d === 'string') dimW.string(2, d);
            else dimW.varint(1, checkInteger(d));
          });
        }
      });
    }),
  );
}

/** `prefix` names the nodes of nested graphs apart from the enclosing graph's. */
function writeGraph(g: ProtoWriter, spec: GraphSpec, prefix = `${spec.name}/`): void {
  spec.nodes.forEach((node, k) => g.message(1, (nw) => writeNode(nw, { ...node, name: node.name ?? `${prefix}${node.op}_${k}` })));
  g.string(2, spec.name);
  for (const init of spec.initializers ?? []) g.message(5, (tw) => writeTensor(tw, init));
  for (const input of spec.inputs) g.message(11, (vw) => writeValueInfo(vw, input));
  for (const output of spec.outputs) g.message(12, (vw) => writeValueInfo(vw, output));
}

/** Serialises a model spec to ONNX (ModelProto) bytes. */
export function buildOnnxModel(spec: ModelSpec): Uint8Array {
  const w = new ProtoWriter();
  w.varint(1, spec.irVersion ?? 8);
  w.string(2, spec.producer ?? 'modelgate-tools');
  if (spec.docString) w.string(6, spec.docString);
  w.message(7, (g) =>
    writeGraph(
      g,
      { name: spec.graphName ?? 'main', inputs: spec.inputs, outputs: spec.outputs, nodes: spec.nodes, initializers: spec.initializers },
      '',
    ),
  );
  w.message(8, (o) => {
    o.string(1, '');
    o.varint(2, spec.opset ?? 13);
  });
  for (const [domain, version] of Object.entries(spec.domains ?? {})) {
    w.message(8, (o) => {
      o.string(1, domain);
      o.varint(2, version);
    });
  }
  return w.finish();
}
