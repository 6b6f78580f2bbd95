/**
 * What every baseline shares: a bare node:http server on 127.0.0.1 that collects the request
 * body and hands it to one function, with no routing (any method, any path), no validation, no
 * metrics and no error mapping beyond a 500. Each baseline kind (onnx.ts, tfjs.ts) adds only the
 * least parsing its runtime needs, so that modelgate's cost over it is the cost of being a
 * gateway.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Turns a request body into the response's JSON text. */
export type BaselineHandler = (body: Buffer, contentType: string | undefined) => string | Promise<string>;

export interface Baseline {
  port: number;
  close(): Promise<void>;
}

export async function listenBaseline(
  handler: BaselineHandler,
  port: number,
  release: () => Promise<void> = async () => {},
): Promise<Baseline> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const fail = (err: unknown) => {
        res.writeHead(500);
        res.end(String(err));
      };
      try {
        // A sync handler (TF.js) throws here; an async one (onnxruntime) rejects below.
        void Promise.resolve(handler(Buffer.concat(chunks), req.headers['content-type'])).then((text) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(text);
        }, fail);
      } catch (err) {
        fail(err);
      }
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      await release();
    },
  };
}

/** `node dist/bench/baselines/<kind>.js <model> <port>`: start, then exit on SIGINT/SIGTERM. */
export async function baselineMain(moduleUrl: string, start: (model: string, port: number) => Promise<Baseline>): Promise<void> {
  const script = process.argv[1];
  if (script === undefined || !moduleUrl.endsWith(script.replace(/.*\//, ''))) return;
  const model = process.argv[2];
  if (model === undefined) throw new Error(`usage: node ${script} <model> [port]`);
  const b = await start(model, Number(process.argv[3] ?? 8090));
  process.stdout.write(`baseline listening on ${b.port}\n`);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(0));
}
