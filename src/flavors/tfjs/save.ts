import { cp, mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { io } from '@tensorflow/tfjs-core';
import type { FlavorEntries, SaveModelCommonOptions } from '../flavor.js';
import { fileSystemSaveHandler, modelFiles, readModelJson, tfjsFormatOf } from './io.js';

/** Anything with TF.js's `save(handler)`: a LayersModel or a GraphModel. */
export interface TfjsSavable {
  save(handler: io.IOHandler): Promise<unknown>;
}

export interface SaveTfjsModelOptions extends SaveModelCommonOptions {
  flavor: 'tfjs';
  /** A directory holding model.json and its shards, or an in-memory LayersModel/GraphModel. */
  model: string | TfjsSavable;
  /** Shard size when saving an in-memory model. @default 4194304 (4 MiB) */
  shardBytes?: number;
}

declare module '../flavor.js' {
  interface SaveOptionsByFlavor {
    tfjs: SaveTfjsModelOptions;
  }
}

export async function saveTfjs(dir: string, o: SaveTfjsModelOptions): Promise<FlavorEntries> {
  if (typeof o.model === 'string') {
    const src = resolve(o.model);
    const json = await readModelJson(join(src, 'model.json'));
    for (const f of modelFiles(src, join(src, 'model.json'), json)) {
      await mkdir(dirname(join(dir, f)), { recursive: true });
      await cp(join(src, f), join(dir, f), { errorOnExist: true, force: false });
    }
  } else {
    await o.model.save(fileSystemSaveHandler(dir, o.shardBytes === undefined ? {} : { shardBytes: o.shardBytes }));
  }
  const format = tfjsFormatOf(await readModelJson(join(dir, 'model.json')));
  return { tfjs: { model_json: 'model.json', format } };
}
