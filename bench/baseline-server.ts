/**
 * The baseline every benchmark compares against: a bare node:http server that does the least
 * work possible — parse `{"inputs": [[…]]}`, run onnxruntime, reply with the outputs — with no
 * validation, metrics, routing or error handling.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as ort from 'onnxruntime-node';

export async function startBaseline(modelPath: string, port = 0): Promise<{ port: number; close: () => Promise<void> }> {
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
  const input = session.inputNames[0];
  const width = Number(session.inputMetadata[0].isTensor ? session.inputMetadata[0].shape[1] : 0);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rows = (JSON.parse(Buffer.concat(chunks).toString()) as { inputs: number[][] }).inputs;
      const data = new Float32Array(rows.length * width);
      let k = 0;
      for (const r of rows) for (const x of r) data[k++] = x;
      void session.run({ [input]: new ort.Tensor('float32', data, [rows.length, width]) }).then(
        (out) => {
          const body: Record<string, unknown> = {};
          for (const [name, t] of Object.entries(out)) body[name] = Array.from(t.data as Float32Array, Number);
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ predictions: body }));
        },
        (err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        },
      );
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      await session.release();
    },
  };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/.*\//, ''))) {
  const b = await startBaseline(process.argv[2], Number(process.argv[3] ?? 8090));
  process.stdout.write(`baseline listening on ${b.port}\n`);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(0));
}
