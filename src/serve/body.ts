/**
 * Reads a request body with a size limit, straight from Node's IncomingMessage when there is one
 * (building a WHATWG Request for every call costs more than the inference of a small model), and
 * without buffering more than the limit: a declared Content-Length over it is refused before
 * reading, a chunked body as soon as it passes it.
 */
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { GatewayError } from '../errors.js';

function tooLarge(limit: number): GatewayError {
  // Connection: close, so the unread rest of the body is not parsed as the next request.
  return new GatewayError('REQUEST_LIMIT_EXCEEDED', `The request body is larger than the limit of ${limit} bytes.`, {
    status: 413,
    headers: { connection: 'close' },
  });
}

const decoder = new TextDecoder();

export async function readBodyText(c: Context, limit: number): Promise<string> {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming === undefined) {
    const buf = await c.req.arrayBuffer();
    if (buf.byteLength > limit) throw tooLarge(limit);
    return decoder.decode(buf);
  }
  const declared = incoming.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) throw tooLarge(limit);
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
      incoming.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        incoming.pause();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      const buf = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
      resolve(decoder.decode(buf));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new GatewayError('BAD_REQUEST', `The request body could not be read: ${err.message}`));
    };
    const onClose = () => {
      if (!incoming.readableEnded) onError(new Error('the client closed the connection'));
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
    incoming.on('close', onClose);
  });
}

/** A request header, from Node's parsed headers when available (avoids building a Headers object). */
export function requestHeader(c: Context, name: string): string | undefined {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming === undefined) return c.req.header(name);
  const v = incoming.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}
