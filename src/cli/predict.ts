/** `modelgate predict`: score a file exactly as /invocations scores a body. */
import { readFile, writeFile } from 'node:fs/promises';
import { openRegistry } from '../registry/registry.js';
import { scoreBody } from '../serve/dataplane.js';
import { loadModel } from '../serve/load-model.js';
import { UsageError, parse, registryOption, registryUri } from './args.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function predictCommand(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    {
      'model-uri': { type: 'string', short: 'm' },
      'input-path': { type: 'string', short: 'i' },
      'content-type': { type: 'string', short: 't' },
      'output-path': { type: 'string', short: 'o' },
      ...registryOption,
    },
    false,
  );
  const uri = values['model-uri'] as string | undefined;
  if (uri === undefined) throw new UsageError('predict needs -m/--model-uri');
  const type = (values['content-type'] as string | undefined) ?? 'json';
  if (type !== 'json' && type !== 'csv') throw new UsageError(`-t/--content-type must be json or csv, got '${type}'`);
  const input = values['input-path'] === undefined ? await readStdin() : await readFile(values['input-path'] as string, 'utf8');
  const servable = await loadModel(uri, openRegistry(registryUri(values.registry as string | undefined)), { warmup: false });
  try {
    const out = await scoreBody(servable, type === 'csv' ? 'text/csv' : 'application/json', input);
    if (values['output-path'] === undefined) process.stdout.write(`${out}\n`);
    else await writeFile(values['output-path'] as string, out);
  } finally {
    await servable.model.unload();
  }
  return 0;
}
