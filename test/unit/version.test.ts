import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MODELGATE_VERSION } from '../../src/version.js';

describe('version', () => {
  it('matches package.json', () => {
    expect(MODELGATE_VERSION).toBe(
      (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version,
    );
  });
});
