/**
 * The inference log writes rows as JSON text straight from the tensors; that text must be what
 * JSON.stringify makes of the row values drift reads, for every kind of input and output. And
 * entries packed for the log's thread must come out of it as they went in.
 */
import { describe, expect, it } from 'vitest';
import { type LogEntry, isoTime, logRecord, recordLines } from '../../src/monitor/log/record.js';
import { capture, inputRows, inputTexts, outputRows, outputTexts } from '../../src/monitor/log/rows.js';
import { Packer, unpackEntries } from '../../src/monitor/log/wire.js';
import type { ModelInput, ModelOutput } from '../../src/schema/model-io.js';
import type { NDArray } from '../../src/schema/ndarray.js';

const f32 = (shape: number[], values: number[]): NDArray => ({ dtype: 'float32', shape, data: new Float32Array(values) });

const INPUTS: Record<string, ModelInput> = {
  'float32 rows': { kind: 'tensor', value: f32([2, 4], [5.1, 3.5, 1.4, 0.2, -0, NaN, Infinity, 1e-7]) },
  '1-D float64': { kind: 'tensor', value: { dtype: 'float64', shape: [3], data: new Float64Array([0.1, 1e21, -2.5e-8]) } },
  scalar: { kind: 'tensor', value: { dtype: 'int32', shape: [], data: new Int32Array([7]) } },
  '3-D': { kind: 'tensor', value: f32([2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8.25]) },
  int64: { kind: 'tensor', value: { dtype: 'int64', shape: [2, 1], data: new BigInt64Array([1n, -9007199254740993n]) } },
  strings: { kind: 'tensor', value: { dtype: 'str', shape: [2], data: ['a "quoted"\nline', 'ü'] } },
  bool: { kind: 'tensor', value: { dtype: 'bool', shape: [2], data: new Uint8Array([1, 0]) } },
  'one named tensor': { kind: 'tensors', value: { x: f32([1, 2], [0.5, 2]) } },
  'named tensors': {
    kind: 'tensors',
    value: { a: f32([2, 2], [1, 2, 3, 4]), 'b"c': { dtype: 'int32', shape: [2], data: new Int32Array([5, 6]) } },
  },
  'ragged named tensors': { kind: 'tensors', value: { a: f32([2], [1, 2]), b: f32([1], [3]) } },
  dataframe: {
    kind: 'dataframe',
    value: {
      columns: ['sepal length', 'species', 7],
      rows: 2,
      values: [
        f32([2], [5.1, 4.9]),
        { dtype: 'object', shape: [2], data: ['setosa', null] },
        { dtype: 'object', shape: [2], data: [{ nested: [1] }, true] },
      ],
    },
  },
  json: { kind: 'json', value: { messages: [{ role: 'user', content: 'hi' }] } },
};

describe('inference log rows as text', () => {
  for (const [name, input] of Object.entries(INPUTS)) {
    it(`${name}: the text is JSON.stringify of the row values`, () => {
      for (const redact of [new Set<string>(), new Set(['a', 'species'])]) {
        expect(inputTexts(input, redact)).toEqual(inputRows(input, redact).map((r) => JSON.stringify(r)));
        const output = input as ModelOutput;
        expect(outputTexts(output, 2, redact)).toEqual(outputRows(output, 2, redact).map((r) => JSON.stringify(r)));
      }
    });
  }

  it('outputs that are not one per row, and encoded outputs', () => {
    const encoded: ModelOutput = { kind: 'encoded', text: '[{"label": 1}, {"label": 2}]' };
    expect(outputTexts(encoded, 2)).toEqual(['{"label":1}', '{"label":2}']);
    expect(outputTexts(encoded, 3)).toEqual(['[{"label":1},{"label":2}]']);
    expect(outputTexts({ kind: 'json', value: { predictions: [1, 2], x: 1 } }, 2)).toEqual(['1', '2']);
  });

  it('capture keeps the input when the model takes its buffers', () => {
    const data = new Float32Array([5.1, 3.5, 1.4, 0.2]);
    const kept = capture({ kind: 'tensor', value: { dtype: 'float32', shape: [1, 4], data } });
    // What handing the tensor to a session thread does to it.
    structuredClone(data.buffer, { transfer: [data.buffer] });
    expect(data.length).toBe(0);
    expect(inputTexts(kept)).toEqual(['[5.1,3.5,1.4,0.2]']);
  });

  it('a record writes the lines JSON.stringify would', () => {
    const facts = { id: 'r"1', time: isoTime(Date.now()), model: 'm', version: '3', route: 'canary', latencyMs: 0.25, status: 200 };
    const line = { id: 'r"1', time: facts.time, model: 'm', version: '3', route: 'canary', latency_ms: 0.25, status: 200 };
    const lines = (text: string) =>
      text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown);
    expect(lines(recordLines({ ...facts, inputs: ['[1,2]', '[3,4]'], predictions: ['0', '1'] }))).toEqual([
      { ...line, row: 0, rows: 2, input: [1, 2], prediction: 0 },
      { ...line, row: 1, rows: 2, input: [3, 4], prediction: 1 },
    ]);
    expect(lines(recordLines({ ...facts, inputs: ['[1,2]', '[3,4]'], predictions: ['{"p":[0,1]}'] }))[1]).toEqual({
      ...line,
      row: 1,
      rows: 2,
      input: [3, 4],
      prediction: { p: [0, 1] },
    });
    expect(lines(recordLines({ ...facts, status: 400, error: 'BAD_REQUEST', inputs: ['[1]'], predictions: [] }))).toEqual([
      { ...line, status: 400, error: 'BAD_REQUEST', row: 0, rows: 1, input: [1] },
    ]);
    expect(lines(recordLines({ ...facts, status: 400, error: 'BAD_REQUEST', inputs: [], predictions: [] }))).toEqual([
      { ...line, status: 400, error: 'BAD_REQUEST', row: null },
    ]);
    expect(isoTime(Date.UTC(2026, 11, 1, 12, 0, 0, 250.7))).toBe('2026-12-01T12:00:00.250Z');
  });
});

describe('log entries packed for the log thread', () => {
  const entry = (input: ModelInput | undefined, output: ModelOutput | undefined, extra: Partial<LogEntry> = {}): LogEntry => ({
    id: 'req-1',
    time: Date.UTC(2026, 11, 1, 12, 0, 0, 250),
    model: 'iris',
    version: '3',
    route: 'canary',
    latencyMs: 1.23456,
    status: 200,
    input,
    output,
    ...extra,
  });
  /** As the thread gets them: the numbers transferred, the rest cloned. */
  const roundTrip = (entries: LogEntry[]): LogEntry[] => {
    const packer = new Packer();
    for (const e of entries) expect(packer.add(e)).toBe(true);
    const packed = packer.take();
    expect(packer.empty).toBe(true);
    return unpackEntries(structuredClone(packed, { transfer: [packed.numbers] }));
  };

  it('every kind of input and output comes out as it went in', () => {
    const outputs: (ModelOutput | undefined)[] = [...Object.values(INPUTS), { kind: 'encoded', text: '[{"label": 1}]' }, undefined];
    const entries = [
      ...Object.values(INPUTS).flatMap((input) => outputs.map((output) => entry(input, output))),
      entry(undefined, undefined, { status: 400, error: 'BAD_REQUEST' }),
      // The model, version and route go once per run of entries that share them.
      entry(undefined, undefined, { model: 'churn', route: 'shadow' }),
      entry(undefined, undefined, { model: 'churn', version: '4', route: 'shadow' }),
      entry(INPUTS.scalar, undefined),
    ];
    const back = roundTrip(entries);
    expect(back).toHaveLength(entries.length);
    back.forEach((e, i) => {
      expect(e).toEqual(entries[i]);
      for (const redact of [new Set<string>(), new Set(['a', 'species'])])
        expect(logRecord(e, redact)).toEqual(logRecord(entries[i], redact));
    });
  });

  it('typed arrays keep their kind; a large one or a view of a larger buffer brings only its elements', () => {
    const big = new Float32Array(1000).map((_, i) => i / 3);
    const batch = new Float64Array(12).map((_, i) => i + 0.5);
    const entries = [
      entry({ kind: 'tensor', value: { dtype: 'float32', shape: [10, 100], data: big } }, undefined),
      entry({ kind: 'tensor', value: { dtype: 'float64', shape: [1, 4], data: batch.subarray(4, 8) } }, undefined),
      entry({ kind: 'tensor', value: { dtype: 'uint64', shape: [1], data: new BigUint64Array([2n ** 64n - 1n]) } }, undefined),
    ];
    const [a, b, c] = roundTrip(entries).map((e) => (e.input as { value: NDArray }).value.data);
    expect(a).toBeInstanceOf(Float32Array);
    expect(a).toEqual(big);
    expect(b).toBeInstanceOf(Float64Array);
    expect(Array.from(b as Float64Array)).toEqual([4.5, 5.5, 6.5, 7.5]);
    expect((b as Float64Array).buffer.byteLength).toBe(32);
    expect(c).toEqual(new BigUint64Array([2n ** 64n - 1n]));
  });

  it('an entry that cannot be read is left out whole, and the batch still reads', () => {
    const packer = new Packer();
    const ok = entry(INPUTS['float32 rows'], undefined);
    expect(packer.add(ok)).toBe(true);
    expect(packer.add(entry({ kind: 'tensors', value: null as never }, undefined))).toBe(false);
    expect(packer.add({ ...ok, id: 'req-2' })).toBe(true);
    expect(unpackEntries(packer.take()).map((e) => e.id)).toEqual(['req-1', 'req-2']);
  });

  it('a batch cut short is an error, not a wrong entry', () => {
    const packer = new Packer();
    packer.add(entry(INPUTS['float32 rows'], INPUTS['named tensors'] as ModelOutput));
    const packed = packer.take();
    expect(() => unpackEntries({ ...packed, count: packed.count - 3 })).toThrow(/cut short/);
    expect(() => unpackEntries({ ...packed, values: packed.values.slice(0, 3) })).toThrow(/cut short/);
  });
});
