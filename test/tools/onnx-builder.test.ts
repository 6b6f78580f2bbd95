import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { buildOnnxModel, encodeRawData, type ModelSpec, type TensorInit } from '../../src/onnx/writer.js';

const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));

describe('buildOnnxModel encoding', () => {
  const spec: ModelSpec = {
    inputs: [{ name: 'x', dtype: 'float32', shape: ['N', 2] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: ['N', 2] }],
    nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
  };

  it('starts with ir_version (field 1) and producer_name (field 2)', () => {
    const bytes = buildOnnxModel(spec);
    expect([...bytes.subarray(0, 2)]).toEqual([0x08, 8]);
    expect([...bytes.subarray(2, 4 + 15)]).toEqual([0x12, 15, ...ascii('modelgate-tools')]);
  });

  it('ends with opset_import (field 8) { domain "" (1), version (2) }', () => {
    const bytes = buildOnnxModel({ ...spec, opset: 17 });
    expect([...bytes.subarray(bytes.length - 6)]).toEqual([0x42, 4, 0x0a, 0, 0x10, 17]);
    expect(buildOnnxModel({ ...spec, irVersion: 7 })[1]).toBe(7);
  });

  it('is deterministic', () => {
    expect(buildOnnxModel(spec)).toEqual(buildOnnxModel(spec));
  });

  it('writes raw_data little-endian', () => {
    expect([...encodeRawData('int32', [1, -2])]).toEqual([1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff]);
    expect([...encodeRawData('int64', [1n])]).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
    expect([...encodeRawData('float32', [1])]).toEqual([0, 0, 0x80, 0x3f]);
    expect([...encodeRawData('bool', [true, false])]).toEqual([1, 0]);
  });

  it('rejects data that does not match dims', () => {
    expect(() => buildOnnxModel({ ...spec, initializers: [{ name: 'w', dtype: 'float32', dims: [2, 2], data: [1, 2, 3] }] })).toThrow(
      /need 4 elements/,
    );
  });
});

describe('buildOnnxModel output loads in onnxruntime', () => {
  it('round-trips initializers of every dtype (raw_data and string_data)', async () => {
    const inits: TensorInit[] = [
      { name: 'f32', dtype: 'float32', dims: [3], data: [1.5, -2.25, 3e-8] },
      { name: 'f64', dtype: 'float64', dims: [2], data: [Math.PI, -1e300] },
      { name: 'i8', dtype: 'int8', dims: [3], data: [-128, 0, 127] },
      { name: 'u8', dtype: 'uint8', dims: [2], data: [0, 255] },
      { name: 'i16', dtype: 'int16', dims: [2], data: [-32768, 32767] },
      { name: 'i32', dtype: 'int32', dims: [2, 1], data: [-2147483648, 2147483647] },
      { name: 'i64', dtype: 'int64', dims: [3], data: [-(2n ** 63n), 2n ** 63n - 1n, 5n] },
      { name: 'i64n', dtype: 'int64', dims: [1], data: [-7] },
      { name: 'b', dtype: 'bool', dims: [3], data: [true, false, true] },
      { name: 's', dtype: 'string', dims: [3], data: ['a', 'héllo wörld', ''] },
    ];
    const bytes = buildOnnxModel({
      inputs: [{ name: 'x', dtype: 'float32', shape: [1] }],
      outputs: [
        { name: 'x_out', dtype: 'float32', shape: [1] },
        ...inits.map((t) => ({ name: `${t.name}_out`, dtype: t.dtype, shape: t.dims })),
      ],
      nodes: [
        { op: 'Identity', inputs: ['x'], outputs: ['x_out'] },
        ...inits.map((t) => ({ op: 'Identity', inputs: [t.name], outputs: [`${t.name}_out`] })),
      ],
      initializers: inits,
    });
    const session = await ort.InferenceSession.create(bytes);
    const out = await session.run({ x: new ort.Tensor('float32', new Float32Array([0]), [1]) });
    expect([...(out.f32_out.data as Float32Array)]).toEqual([...Float32Array.from([1.5, -2.25, 3e-8])]);
    expect([...(out.f64_out.data as Float64Array)]).toEqual([Math.PI, -1e300]);
    expect([...(out.i8_out.data as Int8Array)]).toEqual([-128, 0, 127]);
    expect([...(out.u8_out.data as Uint8Array)]).toEqual([0, 255]);
    expect([...(out.i16_out.data as Int16Array)]).toEqual([-32768, 32767]);
    expect([...(out.i32_out.data as Int32Array)]).toEqual([-2147483648, 2147483647]);
    expect(out.i32_out.dims).toEqual([2, 1]);
    expect([...(out.i64_out.data as BigInt64Array)]).toEqual([-(2n ** 63n), 2n ** 63n - 1n, 5n]);
    expect([...(out.i64n_out.data as BigInt64Array)]).toEqual([-7n]);
    expect(out.b_out.type).toBe('bool');
    expect([...(out.b_out.data as Uint8Array)]).toEqual([1, 0, 1]);
    expect(out.s_out.data).toEqual(['a', 'héllo wörld', '']);
  });

  it('encodes every attribute kind (Constant value_* attributes)', async () => {
    const bytes = buildOnnxModel({
      inputs: [{ name: 'x', dtype: 'float32', shape: [1] }],
      outputs: [
        { name: 'x_out', dtype: 'float32', shape: [1] },
        { name: 'c_f', dtype: 'float32', shape: [] },
        { name: 'c_i', dtype: 'int64', shape: [] },
        { name: 'c_s', dtype: 'string', shape: [] },
        { name: 'c_floats', dtype: 'float32', shape: [3] },
        { name: 'c_ints', dtype: 'int64', shape: [3] },
        { name: 'c_strings', dtype: 'string', shape: [2] },
        { name: 'c_t', dtype: 'int32', shape: [2, 2] },
      ],
      nodes: [
        { op: 'Identity', inputs: ['x'], outputs: ['x_out'] },
        { op: 'Constant', inputs: [], outputs: ['c_f'], attrs: { value_float: { f: 0.25 } } },
        { op: 'Constant', inputs: [], outputs: ['c_i'], attrs: { value_int: { i: -3 } } },
        { op: 'Constant', inputs: [], outputs: ['c_s'], attrs: { value_string: { s: 'ünïcode' } } },
        { op: 'Constant', inputs: [], outputs: ['c_floats'], attrs: { value_floats: { floats: [1, -0.5, 2] } } },
        { op: 'Constant', inputs: [], outputs: ['c_ints'], attrs: { value_ints: { ints: [-1, 0, 300] } } },
        { op: 'Constant', inputs: [], outputs: ['c_strings'], attrs: { value_strings: { strings: ['p', 'q'] } } },
        {
          op: 'Constant',
          inputs: [],
          outputs: ['c_t'],
          attrs: { value: { t: { name: 'tv', dtype: 'int32', dims: [2, 2], data: [1, 2, 3, -4] } } },
        },
      ],
    });
    const session = await ort.InferenceSession.create(bytes);
    const out = await session.run({ x: new ort.Tensor('float32', new Float32Array([0]), [1]) });
    expect([...(out.c_f.data as Float32Array)]).toEqual([0.25]);
    expect([...(out.c_i.data as BigInt64Array)]).toEqual([-3n]);
    expect(out.c_s.data).toEqual(['ünïcode']);
    expect([...(out.c_floats.data as Float32Array)]).toEqual([1, -0.5, 2]);
    expect([...(out.c_ints.data as BigInt64Array)]).toEqual([-1n, 0n, 300n]);
    expect(out.c_strings.data).toEqual(['p', 'q']);
    expect([...(out.c_t.data as Int32Array)]).toEqual([1, 2, 3, -4]);
    expect(out.c_t.dims).toEqual([2, 2]);
  });

  it('encodes negative int attributes (Softmax axis=-1) and symbolic dims', async () => {
    const bytes = buildOnnxModel({
      inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 'features'] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 'features'] }],
      nodes: [{ op: 'Softmax', inputs: ['x'], outputs: ['y'], attrs: { axis: { i: -1 } } }],
    });
    const session = await ort.InferenceSession.create(bytes);
    expect(session.inputMetadata[0]).toMatchObject({ name: 'x', isTensor: true, type: 'float32', shape: ['batch', 'features'] });
    const out = await session.run({ x: new ort.Tensor('float32', new Float32Array([0, 0, 1, 1]), [2, 2]) });
    expect([...(out.y.data as Float32Array)]).toEqual([0.5, 0.5, 0.5, 0.5]);
  });
});
