/**
 * 10,000+ malformed and adversarial requests against a running server process: invalid UTF-8,
 * truncated JSON, huge numbers, NaN/Infinity, deep nesting, wrong shapes and types, huge arrays,
 * odd content types, duplicate keys, broken HTTP, to /invocations and to V2 /infer. No request may
 * get a 5xx or an error body in the wrong protocol's shape, the process must survive, answer a
 * valid request correctly afterwards, and its memory must stay bounded.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../tools/onnx/models.js';
import { IRIS, killAll, requireBuiltCli, startCliServer, stop, waitReady } from '../fixtures/cli.js';

afterAll(() => killAll());

const VALID = '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}';

function rssBytes(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[21]) * 4096;
}

/** `v2`: sent to the Open Inference Protocol's /infer, whose errors are `{"error": …}`. */
type Case = { body: Uint8Array | string; contentType?: string; v2?: boolean };

const V2_VALID = '{"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}';
const v2 = (inputs: string) => `{"inputs": [{"name": "input", ${inputs}}]}`;

function cases(rand: () => number): (() => Case)[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const num = () => pick(['5.1', '-0', '1e308', '-1e308', '123456789012345678901234567890', '0.1', '7']);
  const row = (n: number) => `[${Array.from({ length: n }, num).join(', ')}]`;
  return [
    () => ({ body: Buffer.from([0x7b, 0x22, 0x69, 0x6e, 0x70, 0x75, 0x74, 0x73, 0x22, 0x3a, 0xff, 0xfe, 0xc3, 0x28, 0x7d]) }), // invalid UTF-8
    () => ({ body: VALID.slice(0, Math.floor(rand() * VALID.length)) }), // truncated
    () => ({ body: `{"inputs": [[1e999999, 5, 6, ${'9'.repeat(400)}]]}` }), // huge numbers
    () => ({ body: '{"inputs": [[NaN, Infinity, -Infinity, 1]]}' }),
    () => {
      const d = 1 + Math.floor(rand() * 3000);
      return { body: `{"inputs": ${'['.repeat(d)}1${']'.repeat(d)}}` };
    },
    () => ({ body: `{"inputs": [${row(1 + Math.floor(rand() * 8))}]}` }), // wrong widths
    () => ({ body: `{"inputs": [["a", true, null, {"x": 1}]]}` }),
    () => ({ body: `{"inputs": ${row(50_000)}}` }), // a huge 1-D array
    () => ({ body: `{"inputs": [[5.1, 3.5, 1.4, 0.2]], "inputs": [[1]]}` }), // duplicate keys
    () => ({
      body: VALID,
      contentType: pick([
        'text/plain',
        'application/xml',
        'application/json; charset=latin-1',
        'multipart/form-data',
        '',
        'application/json; format=pandas-records',
      ]),
    }),
    () => ({ body: 'a,b,c,d\n1,2,3\n"x', contentType: 'text/csv' }),
    () => ({ body: `{"dataframe_split": {"columns": ["a"], "data": [[1, 2]]}}` }),
    () => ({ body: `{"dataframe_records": {"a": 1}}` }),
    () => ({ body: `{"instances": [{"a": 1}, [1, 2]]}` }),
    () => ({ body: `{"inputs": [[5.1, 3.5, 1.4, 0.2]], "params": [1, 2]}` }),
    () => ({ body: `{"messages": [{"role": "user", "content": "hi"}]}` }),
    () => ({ body: Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 200) }, () => Math.floor(rand() * 256))) }),
    () => ({ body: VALID }), // some valid traffic in the mix
    () => ({ v2: true, body: V2_VALID.slice(0, Math.floor(rand() * V2_VALID.length)) }),
    () => ({
      v2: true,
      body: v2(`"shape": [${pick(['1e9', '4294967296, 4294967296', '-1, 4', '1.5', '"1"', '0, 4'])}], "datatype": "FP32", "data": []`),
    }),
    () => ({
      v2: true,
      body: v2(`"shape": [1, 4], "datatype": "${pick(['FP32', 'FP64', 'INT64', 'BOOL', 'BYTES', 'BF16', 'fp32', ''])}", "data": ${row(4)}`),
    }),
    () => {
      const d = 1 + Math.floor(rand() * 3000);
      return { v2: true, body: v2(`"shape": [1], "datatype": "FP32", "data": ${'['.repeat(d)}1${']'.repeat(d)}`) };
    },
    () => ({ v2: true, body: v2(`"shape": [50000], "datatype": "FP32", "data": ${row(50_000)}`) }),
    () => ({ v2: true, body: `{"inputs": [${V2_VALID.slice(12, -2)}, ${V2_VALID.slice(12, -2)}], "outputs": [{"name": "nope"}]}` }),
    () => ({ v2: true, body: V2_VALID, contentType: pick(['text/plain', '', 'application/octet-stream']) }),
    () => ({ v2: true, body: Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 200) }, () => Math.floor(rand() * 256))) }),
    () => ({ v2: true, body: V2_VALID }),
    // Names a plain object treats specially, and LLM-style bodies (the first campaign's misses).
    () => ({ body: `{"inputs": {"${pick(['__proto__', 'constructor', 'toString', 'hasOwnProperty'])}": [[1, 2, 3, 4]]}}` }),
    () => ({ body: `{"instances": [{"__proto__": [1, 2, 3, 4]}], "__proto__": {"x": 1}}` }),
    () => ({ body: `{"dataframe_records": [{"__proto__": 1, "constructor": 2}]}` }),
    () => ({ body: `{"dataframe_split": {"columns": ["__proto__", "constructor"], "data": [[1, 2]]}}` }),
    () => ({ body: `{"inputs": [[5.1, 3.5, 1.4, 0.2]], "params": {"__proto__": {"polluted": 1}}}` }),
    () => ({ body: pick(['{"input": 1}', '{"prompt": "x"}', '{"input": [1, 2]}', '{"prompt": {"__proto__": 1}}']) }),
    () => ({
      v2: true,
      body: `{"inputs": [{"name": "${pick(['__proto__', 'constructor'])}", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}`,
    }),
  ];
}

/**
 * One request on a connection of its own whose client half-closes (FIN) right after the body, as
 * HTTP/1.1 allows; resolves with the status and body of the answer (status 0: none came).
 */
function halfClosed(
  port: number,
  path: string,
  headers: Record<string, string>,
  body: Uint8Array | string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body);
    const head = Object.entries({ host: '127.0.0.1', ...headers, 'content-length': String(bytes.length) })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    const chunks: Buffer[] = [];
    const sock = connect(port, '127.0.0.1', () => {
      sock.write(`POST ${path} HTTP/1.1\r\n${head}\r\n`);
      sock.end(bytes);
    });
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
      resolve({ status, text: raw.slice(raw.indexOf('\r\n\r\n') + 4) });
    });
  });
}

/** Raw bytes that are not valid HTTP: Node's parser must refuse them without harm. */
function rawGarbage(port: number, payload: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let text = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (text += d));
    sock.on('error', () => resolve(text));
    sock.on('close', () => resolve(text));
    sock.end(payload);
    setTimeout(() => sock.destroy(), 2000);
  });
}

describe('HTTP fuzzing', () => {
  it('survives 10,000 adversarial requests without a 5xx and with bounded memory', async () => {
    requireBuiltCli();
    const s = startCliServer(['serve', '-m', IRIS, '-p', '0'], {
      env: { MODELGATE_MAX_BODY_BYTES: String(4 * 1024 * 1024) },
    });
    await waitReady(s);
    const port = Number(new URL(s.base).port);
    const pid = s.child.pid as number;
    const rssBefore = rssBytes(pid);
    const rand = mulberry32(20261126);
    const gens = cases(rand);
    const statuses = new Map<number, number>();
    const bad: string[] = [];
    let sent = 0;
    const total = 10_000;
    const worker = async () => {
      while (sent < total) {
        sent++;
        const c = gens[Math.floor(rand() * gens.length)]();
        const headers: Record<string, string> = {};
        if (c.contentType !== '') headers['content-type'] = c.contentType ?? 'application/json';
        const path = c.v2 ? '/v2/models/iris/infer' : '/invocations';
        // One request in ten comes from a client that half-closes after its body.
        const res =
          rand() < 0.1
            ? await halfClosed(port, path, headers, c.body)
            : await fetch(`${s.base}${path}`, { method: 'POST', headers, body: c.body }).then(async (r) => ({
                status: r.status,
                text: await r.text(),
              }));
        const text = res.text;
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 0) bad.push(`no answer to a half-closing client on ${path}`);
        if (res.status >= 500) bad.push(`${path} ${res.status} ${text.slice(0, 200)}`);
        if (res.status !== 200 && res.status !== 0) {
          const parsed = JSON.parse(text) as Record<string, unknown>;
          const shaped = c.v2
            ? Object.keys(parsed).join() === 'error' && typeof parsed.error === 'string'
            : typeof parsed.error_code === 'string' && typeof parsed.message === 'string';
          if (!shaped) bad.push(`bad error shape from ${path}: ${text.slice(0, 200)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    for (const payload of [
      'GARBAGE\r\n\r\n',
      'POST /invocations HTTP/9.9\r\n\r\n',
      'POST /invocations HTTP/1.1\r\nContent-Length: -5\r\n\r\n',
      '\x00\x01\x02\r\n\r\n',
    ]) {
      const reply = await rawGarbage(port, payload);
      expect(reply === '' || reply.startsWith('HTTP/1.1 400')).toBe(true);
    }

    const after = await fetch(`${s.base}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: VALID });
    expect(after.status).toBe(200);
    expect(((await after.json()) as { predictions: { label: number[] } }).predictions.label).toEqual([0]);
    const afterV2 = await fetch(`${s.base}/v2/models/iris/infer`, { method: 'POST', body: V2_VALID });
    expect(((await afterV2.json()) as { outputs: { data: number[] }[] }).outputs[1].data).toEqual([0]);
    expect((await fetch(`${s.base}/ready`)).status).toBe(200);
    const grown = rssBytes(pid) - rssBefore;
    const exit = await stop(s);

    expect(bad).toEqual([]);
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(total);
    expect(statuses.get(200)).toBeGreaterThan(0);
    expect(statuses.get(400)).toBeGreaterThan(0);
    expect(statuses.get(415)).toBeGreaterThan(0);
    expect(grown).toBeLessThan(150 * 1024 * 1024);
    expect(exit.code, s.output()).toBe(0);
  }, 180_000);
});
