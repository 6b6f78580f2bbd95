/**
 * Hostile and unsupported XGBoost models: truncated or garbage bytes in every format, declared
 * counts beyond the file, children out of range or cyclic, features beyond the input, and the
 * boosters whose predictions the format cannot reproduce (DART, gblinear, custom objectives) are
 * refused with a reason, never served.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { readPickledBooster, readXgbModel } from '../../src/flavors/xgboost/index.js';
import { parseUbjson } from '../../src/flavors/xgboost/ubjson.js';
import { parseLegacyBinary } from '../../src/flavors/xgboost/legacy-binary.js';

const XGB = fileURLToPath(new URL('../fixtures/xgboost/', import.meta.url));
const ubj = readFileSync(join(XGB, 'binary-logistic-ubj', 'model.ubj'));
const json = readFileSync(join(XGB, 'multi-softprob-json', 'model.json'), 'utf8');
const bin = readFileSync(join(XGB, 'reg-squarederror-xgb', 'model.xgb'));

const refused = (f: () => unknown, message: RegExp) => {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(GatewayError);
  expect((err as GatewayError).status).toBe(400);
  expect((err as Error).message).toMatch(message);
};

/** A JSON model document, edited freely by the tests. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests reach into arbitrary model fields
type Doc = Record<string, any>;

function mutated(edit: (doc: Doc) => void): Uint8Array {
  const doc = JSON.parse(json) as Doc;
  edit(doc);
  return new TextEncoder().encode(JSON.stringify(doc));
}

describe('every format decodes to the same kind of booster', () => {
  it('reads UBJSON, JSON and the legacy binary format', () => {
    expect(readXgbModel(ubj).objective).toBe('binary:logistic');
    expect(readXgbModel(new TextEncoder().encode(json)).groups).toBe(3);
    const b = readXgbModel(bin);
    expect(b.objective).toBe('reg:squarederror');
    expect(b.attributes.scikit_learn).toContain('"n_estimators"');
  });
});

describe('truncated and garbage bytes', () => {
  it('refuses every truncation of each format', () => {
    for (const bytes of [ubj, bin]) {
      for (const cut of [1, 3, 17, 100, 500, Math.floor(bytes.length / 2), bytes.length - 1]) {
        refused(() => readXgbModel(bytes.subarray(0, cut)), /Cannot (read|serve)/);
      }
    }
    refused(() => readXgbModel(new TextEncoder().encode(json.slice(0, json.length - 10))), /not valid JSON/);
  });

  it('refuses random bytes and empty files', () => {
    refused(() => readXgbModel(new Uint8Array(0)), /empty/);
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed & 0xff);
    for (let k = 0; k < 50; k++) {
      const bytes = Uint8Array.from({ length: 200 + k * 13 }, rand);
      refused(() => readXgbModel(bytes), /Cannot (read|serve)/);
    }
  });

  it('refuses UBJSON whose declared lengths exceed the file, and deep nesting', () => {
    // '[' '#' 'L' <2^40>: an array count far beyond the bytes left.
    refused(() => parseUbjson(Uint8Array.from([0x5b, 0x23, 0x4c, 0, 0, 1, 0, 0, 0, 0, 0])), /exceeds/);
    refused(() => parseUbjson(Uint8Array.from([0x53, 0x6c, 0x7f, 0xff, 0xff, 0xff])), /exceeds|bad length/);
    refused(() => parseUbjson(new Uint8Array(200).fill(0x5b)), /nested more than/);
    refused(() => parseUbjson(Uint8Array.from([0x5b, 0x24, 0x64, 0x23, 0x69, 10, 0, 0])), /exceeds|truncated/);
  });

  it('refuses a legacy binary model that declares more trees or nodes than it holds', () => {
    const b = Uint8Array.from(bin);
    const dv = new DataView(b.buffer);
    const gbtree = 4 + 136 + 8 + 'reg:squarederror'.length + 8 + 'gbtree'.length;
    dv.setInt32(gbtree, 1_000_000_000, true);
    refused(() => parseLegacyBinary(b), /declares 1000000000 trees/);
    const c = Uint8Array.from(bin);
    new DataView(c.buffer).setInt32(gbtree + 160 + 4, 2 ** 30, true);
    refused(() => parseLegacyBinary(c), /declares \d+ nodes/);
  });
});

describe('malformed trees', () => {
  it('refuses children out of range, cycles, and features beyond the input', () => {
    const tree = (d: Doc) => d.learner.gradient_booster.model.trees[0];
    refused(() => readXgbModel(mutated((d) => (tree(d).left_children[0] = 99))), /child 99 out of range/);
    refused(() => readXgbModel(mutated((d) => (tree(d).right_children[0] = 0))), /reached twice/);
    refused(() => readXgbModel(mutated((d) => (tree(d).split_indices[0] = 4))), /feature 4, the model has 4/);
    refused(() => readXgbModel(mutated((d) => (tree(d).split_conditions = [1]))), /split_conditions has 1 entries/);
    refused(() => readXgbModel(mutated((d) => (d.learner.gradient_booster.model.tree_info[0] = 7))), /output group out of range/);
    refused(() => readXgbModel(mutated((d) => (d.learner.learner_model_param.num_feature = '1e12'))), /num_feature/);
  });
});

describe('what the format cannot express', () => {
  it('refuses DART, gblinear, custom and unknown objectives, multi-target models', () => {
    refused(() => readXgbModel(mutated((d) => (d.learner.gradient_booster.name = 'dart'))), /DART/);
    refused(() => readXgbModel(mutated((d) => (d.learner.gradient_booster = { name: 'gblinear', model: {} }))), /gblinear/);
    refused(() => readXgbModel(mutated((d) => (d.learner.objective = { name: 'mypkg:custom' }))), /custom objective/);
    refused(() => readXgbModel(mutated((d) => (d.learner.learner_model_param.num_target = '2'))), /multi-target/);
  });

  it('refuses a pickled booster buffer that holds no model', () => {
    refused(() => readPickledBooster(new TextEncoder().encode('CONFIG-offset:\x10\0\0\0\0\0\0\0')), /bad model offset|truncated/);
    refused(() => readPickledBooster(new Uint8Array(0)), /no model/);
  });
});

describe('pickled XGBoost estimators', () => {
  const enc = (s: string) => Array.from(new TextEncoder().encode(s));
  const str = (s: string) => [0x58, ...[s.length, 0, 0, 0], ...enc(s)];
  const global = (m: string, n: string) => [0x63, ...enc(`${m}\n${n}\n`)];
  /** `cls()` with `state` BUILT onto it: GLOBAL, EMPTY_TUPLE, NEWOBJ, EMPTY_DICT, items, BUILD. */
  const obj = (m: string, n: string, items: number[][]) => [...global(m, n), 0x29, 0x81, 0x7d, ...items.flat(), 0x62];
  const item = (k: string, v: number[]) => [...str(k), ...v, 0x73];
  const pickle = (body: number[]) => Uint8Array.from([0x80, 0x03, ...body, 0x2e]);

  it('refuses a booster buffer that is garbage, naming the estimator', async () => {
    const { loadPickle } = await import('../../src/flavors/sklearn/pickle/index.js');
    const { compileSklearn } = await import('../../src/flavors/sklearn/index.js');
    const booster = obj('xgboost.core', 'Booster', [item('handle', [0x43, 3, ...enc('abc')])]);
    const p = pickle(obj('xgboost.sklearn', 'XGBClassifier', [item('n_classes_', [0x4b, 2]), item('_Booster', booster)]));
    refused(() => compileSklearn(loadPickle(p), 'predict'), /xgbclassifier \(xgboost\.sklearn\.XGBClassifier\).*neither JSON, UBJSON nor/i);
  });

  it('never runs xgboost or lightgbm functions a pickle names', async () => {
    const { loadPickle } = await import('../../src/flavors/sklearn/pickle/index.js');
    for (const [m, n] of [
      ['xgboost.core', '_load_lib'],
      ['xgboost.sklearn', 'XGBModel'],
      ['lightgbm.basic', '_LIB'],
      ['xgboost.training', 'train'],
    ]) {
      const p = pickle([...global(m, n), 0x29, 0x52]);
      refused(() => loadPickle(p), new RegExp(`${m.replace('.', '\\.')}\\.${n}`));
    }
  });
});
