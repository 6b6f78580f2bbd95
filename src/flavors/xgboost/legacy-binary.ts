/**
 * XGBoost's legacy binary model format (what `save_model('model.xgb')` wrote before 2.1, and the
 * model half of a 1.x pickle's `CONFIG-offset:` buffer), decoded into the shape of the JSON
 * schema so one reader serves every format. Little-endian, from `learner.cc` / `gbtree_model.cc`
 * / `tree_model.cc`:
 *
 *   ["binf"] LearnerModelParamLegacy (136 bytes: base_score f32, num_feature u32, num_class i32,
 *   contain_extra_attrs i32, contain_eval_metrics i32, major u32, minor u32, num_target u32, ...)
 *   objective name, booster name (u64 length + bytes each), GBTreeModelParam (160 bytes:
 *   num_trees i32, num_parallel_tree i32, ...), per tree TreeParam (148 bytes: num_roots,
 *   num_nodes, num_deleted, max_depth, num_feature, size_leaf_vector, ...) + nodes (20 bytes:
 *   parent i32, cleft i32, cright i32, sindex u32 whose top bit is default-left, value f32) +
 *   node stats (16 bytes each), tree_info i32[num_trees], then the attributes as
 *   (u64 count, (key, value) strings) when contain_extra_attrs.
 *
 * Every count is checked against the bytes left before anything is allocated.
 */
import { GatewayError } from '../../errors.js';

export class XgbBinaryError extends GatewayError {
  constructor(message: string, offset: number) {
    super('INVALID_PARAMETER_VALUE', `Cannot read the XGBoost binary model: ${message} (at byte ${offset})`);
  }
}

const LEARNER_PARAM_BYTES = 136;
const GBTREE_PARAM_BYTES = 160;
const TREE_PARAM_BYTES = 148;
const NODE_BYTES = 20;
const STAT_BYTES = 16;
const MAX_NAME = 4096;
const MAX_ATTRS = 10_000;

class Reader {
  readonly dv: DataView;
  pos = 0;
  constructor(readonly buf: Uint8Array) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  fail(message: string): never {
    throw new XgbBinaryError(message, this.pos);
  }
  need(n: number): number {
    if (!Number.isSafeInteger(n) || n < 0 || this.pos + n > this.buf.length) this.fail(`truncated (${n} bytes wanted)`);
    const p = this.pos;
    this.pos += n;
    return p;
  }
  i32(): number {
    return this.dv.getInt32(this.need(4), true);
  }
  u32(): number {
    return this.dv.getUint32(this.need(4), true);
  }
  f32(): number {
    return this.dv.getFloat32(this.need(4), true);
  }
  count(what: string, max: number): number {
    const p = this.need(8);
    const lo = this.dv.getUint32(p, true);
    const hi = this.dv.getUint32(p + 4, true);
    if (hi !== 0 || lo > max) this.fail(`${what} count ${hi * 2 ** 32 + lo} is too large`);
    return lo;
  }
  string(max: number): string {
    const n = this.count('string length', Math.min(max, this.buf.length - this.pos));
    const p = this.need(n);
    return new TextDecoder('utf-8', { fatal: false }).decode(this.buf.subarray(p, p + n));
  }
}

function readTree(r: Reader, id: number): Record<string, unknown> {
  const p = r.need(TREE_PARAM_BYTES);
  const numNodes = r.dv.getInt32(p + 4, true);
  const numDeleted = r.dv.getInt32(p + 8, true);
  const numFeature = r.dv.getInt32(p + 16, true);
  const sizeLeafVector = r.dv.getInt32(p + 20, true);
  if (numNodes < 1 || numNodes * (NODE_BYTES + STAT_BYTES) > r.buf.length - r.pos) r.fail(`tree ${id} declares ${numNodes} nodes`);
  if (sizeLeafVector !== 0) r.fail(`tree ${id} has vector leaves`);
  const left = new Int32Array(numNodes);
  const right = new Int32Array(numNodes);
  const index = new Int32Array(numNodes);
  const cond = new Float32Array(numNodes);
  const dflt = new Uint8Array(numNodes);
  for (let k = 0; k < numNodes; k++) {
    r.i32(); // parent
    left[k] = r.i32();
    right[k] = r.i32();
    const sindex = r.u32();
    index[k] = sindex & 0x7fff_ffff;
    dflt[k] = sindex >>> 31;
    cond[k] = r.f32();
  }
  r.need(numNodes * STAT_BYTES);
  return {
    id,
    tree_param: { num_nodes: String(numNodes), num_deleted: String(numDeleted), num_feature: String(numFeature) },
    left_children: left,
    right_children: right,
    split_indices: index,
    split_conditions: cond,
    default_left: dflt,
    split_type: new Uint8Array(numNodes),
    categories: [],
    categories_nodes: [],
    categories_segments: [],
    categories_sizes: [],
  };
}

function readAttributes(r: Reader): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  const n = r.count('attribute', MAX_ATTRS);
  for (let k = 0; k < n; k++) {
    const key = r.string(MAX_NAME);
    out[key] = r.string(r.buf.length);
  }
  return out;
}

/** True when `bytes` look like the legacy binary format (with or without the `binf` header). */
export function isLegacyBinary(bytes: Uint8Array): boolean {
  if (bytes.length >= 4 && String.fromCharCode(...bytes.subarray(0, 4)) === 'binf') return true;
  // No header: the first field is base_score, a float, never '{' (JSON or UBJSON) in practice.
  return bytes.length >= LEARNER_PARAM_BYTES && bytes[0] !== 0x7b;
}

/** Decodes a legacy binary model into the JSON schema's `{ learner: ... }` shape. */
export function parseLegacyBinary(bytes: Uint8Array): Record<string, unknown> {
  const r = new Reader(bytes);
  if (bytes.length >= 4 && String.fromCharCode(...bytes.subarray(0, 4)) === 'binf') r.pos = 4;
  const p = r.need(LEARNER_PARAM_BYTES);
  const baseScore = r.dv.getFloat32(p, true);
  const numFeature = r.dv.getUint32(p + 4, true);
  const numClass = r.dv.getInt32(p + 8, true);
  const extraAttrs = r.dv.getInt32(p + 12, true);
  const objective = r.string(MAX_NAME);
  const booster = r.string(MAX_NAME);
  if (booster !== 'gbtree') r.fail(`booster '${booster}' in the binary format is not supported (only gbtree)`);
  const g = r.need(GBTREE_PARAM_BYTES);
  const numTrees = r.dv.getInt32(g, true);
  const numParallelTree = r.dv.getInt32(g + 4, true);
  if (numTrees < 0 || numTrees * TREE_PARAM_BYTES > bytes.length - r.pos) r.fail(`the model declares ${numTrees} trees`);
  const trees: Record<string, unknown>[] = [];
  for (let t = 0; t < numTrees; t++) trees.push(readTree(r, t));
  const info = new Int32Array(numTrees);
  for (let t = 0; t < numTrees; t++) info[t] = r.i32();
  const attributes = extraAttrs !== 0 ? readAttributes(r) : {};
  return {
    learner: {
      attributes,
      learner_model_param: { base_score: String(baseScore), num_feature: String(numFeature), num_class: String(numClass) },
      objective: { name: objective },
      gradient_booster: {
        name: booster,
        model: {
          gbtree_model_param: { num_trees: String(numTrees), num_parallel_tree: String(Math.max(1, numParallelTree)) },
          trees,
          tree_info: info,
        },
      },
    },
  };
}
