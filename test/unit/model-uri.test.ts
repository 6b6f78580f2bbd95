import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import {
  ACCEPTED_FORMS,
  InvalidModelUriError,
  type ModelUri,
  formatModelUri,
  isModelUri,
  parseModelUri,
} from '../../src/registry/model-uri.js';

describe('parseModelUri: accepted forms', () => {
  it.each<[string, ModelUri]>([
    ['models:/iris/1', { kind: 'version', name: 'iris', version: '1' }],
    ['models:/iris/42', { kind: 'version', name: 'iris', version: '42' }],
    // Leading zeros are normalised: version 007 is version 7.
    ['models:/iris/007', { kind: 'version', name: 'iris', version: '7' }],
    ['models:/my-model_2.x/3', { kind: 'version', name: 'my-model_2.x', version: '3' }],
    ['models:/iris@champion', { kind: 'alias', name: 'iris', alias: 'champion' }],
    ['models:/iris@Champion-2', { kind: 'alias', name: 'iris', alias: 'Champion-2' }],
    ['models:/iris/latest', { kind: 'latest', name: 'iris' }],
    ['models:/iris/LATEST', { kind: 'latest', name: 'iris' }],
    ['models:/iris/Latest', { kind: 'latest', name: 'iris' }],
    ['models:/iris/Production', { kind: 'stage', name: 'iris', stage: 'Production' }],
    ['models:/iris/Staging', { kind: 'stage', name: 'iris', stage: 'Staging' }],
    ['models:/iris/None', { kind: 'stage', name: 'iris', stage: 'None' }],
    ['models:/m-c4e7d34ff21d41878f66d8e2cdf9ae51', { kind: 'logged-model', modelId: 'm-c4e7d34ff21d41878f66d8e2cdf9ae51' }],
    ['models:/m-ABCDEF12', { kind: 'logged-model', modelId: 'm-ABCDEF12' }],
    ['runs:/0a1b2c3d/model', { kind: 'run', runId: '0a1b2c3d', path: 'model' }],
    ['runs:/0a1b2c3d/nested/sk_model', { kind: 'run', runId: '0a1b2c3d', path: 'nested/sk_model' }],
    // A registered model may itself be called m-<hex>; with a version or alias it is a name.
    ['models:/m-12345678/2', { kind: 'version', name: 'm-12345678', version: '2' }],
    ['models:/m-12345678@prod', { kind: 'alias', name: 'm-12345678', alias: 'prod' }],
  ])('%s', (uri, expected) => {
    expect(parseModelUri(uri)).toEqual(expected);
  });

  it('isModelUri tells models: URIs from directory paths', () => {
    expect(isModelUri('models:/iris/1')).toBe(true);
    expect(isModelUri('./examples/iris')).toBe(false);
    expect(isModelUri('/abs/models/iris')).toBe(false);
  });
});

describe('parseModelUri: malformed forms', () => {
  it.each<[string, RegExp]>([
    ['', /must start with 'models:\/'/],
    ['iris/1', /must start with 'models:\/'/],
    ['model:/iris/1', /must start with 'models:\/'/],
    ['runs:/abc', /runs:\/<run_id>\/<artifact path>/],
    ['runs:/abc/../x', /runs:\/<run_id>\/<artifact path>/],
    ['models:iris/1', /must start with 'models:\/'/],
    ['models://host/iris/1', /registry host/],
    ['models:/', /model name is empty/],
    ['models:/ /1', /model name is empty/],
    ['models:/iris', /no version or alias; did you mean models:\/iris\/latest\?/],
    ['models:/m-xyz', /no version or alias/],
    ['models:/iris/', /version is empty/],
    ['models:/iris/1/', /sub-paths/],
    ['models:/iris/1/model.onnx', /sub-paths/],
    ['models:/@champion', /model name is empty/],
    ['models:/iris@', /alias is empty/],
    ['models:/iris@champion/1', /only one of a version or an alias/],
    ['models:/iris/1?x=1', /query strings and fragments/],
    ['models:/iris@champion#frag', /query strings and fragments/],
  ])('%j is rejected', (uri, why) => {
    let caught: unknown;
    try {
      parseModelUri(uri);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidModelUriError);
    const err = caught as InvalidModelUriError;
    expect(err).toBeInstanceOf(GatewayError);
    expect(err.code).toBe('INVALID_PARAMETER_VALUE');
    expect(err.status).toBe(400);
    expect(err.message).toContain(`'${uri}'`);
    expect(err.message).toMatch(why);
    // Every error teaches the accepted forms.
    for (const form of ACCEPTED_FORMS) expect(err.message).toContain(form);
    expect(err.message).toContain('models:/<name>/<version>');
    expect(err.message).toContain('models:/<name>@<alias>');
    expect(err.message).toContain('models:/<name>/latest');
    expect(err.message).toContain('models:/m-<id>');
  });
});

describe('formatModelUri', () => {
  it.each<[ModelUri, string]>([
    [{ kind: 'version', name: 'iris', version: '3' }, 'models:/iris/3'],
    [{ kind: 'alias', name: 'iris', alias: 'champion' }, 'models:/iris@champion'],
    [{ kind: 'latest', name: 'iris' }, 'models:/iris/latest'],
    [{ kind: 'stage', name: 'iris', stage: 'Production' }, 'models:/iris/Production'],
    [{ kind: 'logged-model', modelId: 'm-0123456789abcdef' }, 'models:/m-0123456789abcdef'],
  ])('%j → %s and back', (u, text) => {
    expect(formatModelUri(u)).toBe(text);
    expect(parseModelUri(text)).toEqual(u);
  });

  it.each([
    'models:/iris/1',
    'models:/iris/12',
    'models:/iris@champion',
    'models:/iris/latest',
    'models:/iris/Production',
    'models:/m-c4e7d34ff21d41878f66d8e2cdf9ae51',
    'models:/team.iris-v2/5',
  ])('parse → format is the identity for canonical %s', (text) => {
    expect(formatModelUri(parseModelUri(text))).toBe(text);
  });

  it.each([
    ['models:/iris/007', 'models:/iris/7'],
    ['models:/iris/LATEST', 'models:/iris/latest'],
  ])('normalises %s to %s, a fixed point', (text, canonical) => {
    const once = formatModelUri(parseModelUri(text));
    expect(once).toBe(canonical);
    expect(formatModelUri(parseModelUri(once))).toBe(canonical);
  });
});
