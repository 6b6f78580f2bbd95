/** `modelgate predict`: score a file exactly as /invocations scores a body. */
import { readFile, writeFile } from 'node:fs/promises';
import { defaultRegistryUri, environment } from '../config/index.js';
import { openRegistry } from '../core/registration.js';
import { scoreBody } from '../core/scoring.js';
import { loadModel } from '../core/load-model.js';
import { type ParsedCommand, missingFlag } from './spec.js';
import { PREDICT } from './specs.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function predictCommand({ values }: ParsedCommand): Promise<number> {
  const uri = values.modelUri as string | undefined;
  if (uri === undefined) throw missingFlag(PREDICT, 'modelUri');
  const type = (values.contentType as string | undefined) ?? 'json';
  const input = values.inputPath === undefined ? await readStdin() : await readFile(values.inputPath as string, 'utf8');
  const registry = openRegistry((values.registryUri as string | undefined) ?? defaultRegistryUri(environment()));
  const servable = await loadModel(uri, registry, { warmup: false });
  try {
    const out = await scoreBody(servable, type === 'csv' ? 'text/csv' : 'application/json', input);
    if (values.outputPath === undefined) process.stdout.write(`${out}\n`);
    else await writeFile(values.outputPath as string, out);
  } finally {
    await servable.model.unload();
  }
  return 0;
}
