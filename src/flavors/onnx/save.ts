import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FlavorEntries, SaveModelCommonOptions } from '../flavor.js';

export interface SaveOnnxModelOptions extends SaveModelCommonOptions {
  flavor: 'onnx';
  /** The model's bytes, or the path of a .onnx file. */
  model: Uint8Array | string;
}

declare module '../flavor.js' {
  interface SaveOptionsByFlavor {
    onnx: SaveOnnxModelOptions;
  }
}

export async function saveOnnx(dir: string, o: SaveOnnxModelOptions): Promise<FlavorEntries> {
  const bytes = typeof o.model === 'string' ? await readFile(o.model) : o.model;
  await writeFile(join(dir, 'model.onnx'), bytes);
  // The same two entries mlflow.onnx writes, so MLflow can load the directory too.
  return {
    onnx: { code: null, data: 'model.onnx', onnx_session_options: null, providers: ['CPUExecutionProvider'] },
    python_function: { data: 'model.onnx', loader_module: 'mlflow.onnx' },
  };
}
