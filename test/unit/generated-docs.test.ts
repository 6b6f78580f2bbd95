/** The generated docs match the code they are written from (`npm run docs` rewrites them). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GENERATED_DOCS } from '../../tools/gen-docs.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('generated docs', () => {
  it.each(Object.keys(GENERATED_DOCS))('%s is up to date (run `npm run docs`)', (path) => {
    expect(readFileSync(join(ROOT, path), 'utf8')).toBe(GENERATED_DOCS[path]());
  });
});
