/** Writes the generated docs (docs/configuration.md, docs/cli.md) from the code they describe. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cliMarkdown } from '../src/cli/docs.js';
import { configurationMarkdown } from '../src/config/docs.js';
import { isMain } from './is-main.js';

export const GENERATED_DOCS: Readonly<Record<string, () => string>> = {
  'docs/configuration.md': configurationMarkdown,
  'docs/cli.md': cliMarkdown,
};

if (isMain(import.meta.url)) {
  const root = join(import.meta.dirname, '..', '..');
  for (const [path, make] of Object.entries(GENERATED_DOCS)) await writeFile(join(root, path), make());
}
