/**
 * XGBoost model bytes in any of the forms MLflow directories and pickles hold, told apart by
 * content (a `.xgb`/`.bin` file is the legacy binary format before XGBoost 2.1 and UBJSON after):
 * JSON text, UBJSON, the legacy binary format, and the buffers `Booster.__getstate__` pickles:
 * 1.x `CONFIG-offset:` + int64 offset + legacy binary model + JSON config, or a JSON/UBJSON
 * `{"Config": …, "Model": …}` snapshot.
 */
import { parseJsonText } from '../../util/json-parse.js';
import { type XgbBooster, readBooster, refuse } from './booster.js';
import { isLegacyBinary, parseLegacyBinary } from './legacy-binary.js';
import { parseUbjson } from './ubjson.js';

/** Model files and pickled buffers larger than this are refused. */
export const MAX_XGB_MODEL_BYTES = 1024 * 1024 * 1024;

const SERIALISATION_HEADER = 'CONFIG-offset:';

function startsWith(bytes: Uint8Array, text: string): boolean {
  if (bytes.length < text.length) return false;
  for (let k = 0; k < text.length; k++) if (bytes[k] !== text.charCodeAt(k)) return false;
  return true;
}

/** `{` then optional whitespace then `"`: JSON text (UBJSON follows `{` with a type or length marker). */
function isJsonText(bytes: Uint8Array): boolean {
  if (bytes[0] !== 0x7b) return false;
  for (let k = 1; k < Math.min(bytes.length, 64); k++) {
    const c = bytes[k];
    if (c === 0x22 || c === 0x7d) return true;
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return false;
  }
  return false;
}

function decodeDocument(bytes: Uint8Array): unknown {
  if (isJsonText(bytes)) {
    try {
      return parseJsonText(new TextDecoder('utf-8').decode(bytes), false);
    } catch {
      refuse('the JSON model is not valid JSON');
    }
  }
  if (bytes[0] === 0x7b) return parseUbjson(bytes);
  if (isLegacyBinary(bytes)) return parseLegacyBinary(bytes);
  return refuse('the model file is neither JSON, UBJSON nor the legacy binary format');
}

/** A pickled Booster's `handle` buffer: the model part of whichever serialisation wrote it. */
function fromSnapshot(bytes: Uint8Array): unknown {
  if (startsWith(bytes, SERIALISATION_HEADER)) {
    const at = SERIALISATION_HEADER.length;
    if (bytes.length < at + 8) refuse('the pickled booster buffer is truncated');
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const offset = Number(dv.getBigInt64(at, true));
    if (!(offset > 0 && at + 8 + offset <= bytes.length)) refuse('the pickled booster buffer has a bad model offset');
    return parseLegacyBinary(bytes.subarray(at + 8, at + 8 + offset));
  }
  const doc = decodeDocument(bytes);
  const model = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>).Model : undefined;
  return model ?? doc;
}

/** Reads an XGBoost model file (any format). */
export function readXgbModel(bytes: Uint8Array): XgbBooster {
  if (bytes.length === 0) refuse('the model file is empty');
  if (bytes.length > MAX_XGB_MODEL_BYTES) refuse(`the model is ${bytes.length} bytes, more than the ${MAX_XGB_MODEL_BYTES} allowed`);
  return readBooster(decodeDocument(bytes));
}

/** Reads the buffer a pickled `xgboost.core.Booster` keeps in its `handle` state. */
export function readPickledBooster(bytes: Uint8Array): XgbBooster {
  if (bytes.length === 0) refuse('the pickled booster holds no model');
  if (bytes.length > MAX_XGB_MODEL_BYTES)
    refuse(`the pickled booster is ${bytes.length} bytes, more than the ${MAX_XGB_MODEL_BYTES} allowed`);
  return readBooster(fromSnapshot(bytes));
}
