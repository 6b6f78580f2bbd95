/** The MLmodel signature against what the compiled pipeline reads: refused at load if they disagree. */
import type { ModelSignature, ScalarColType } from '../../schema/signature.js';
import type { CompiledModel } from './compile.js';
import { UnsupportedModelError } from './state.js';

const NUMERIC: ReadonlySet<ScalarColType> = new Set(['double', 'float', 'long', 'integer', 'boolean']);

export function checkSignature(sig: ModelSignature | undefined, model: CompiledModel): void {
  const inputs = sig?.inputs;
  if (inputs === undefined) return;
  const fail = (reason: string): never => {
    throw new UnsupportedModelError('MLmodel signature', reason);
  };
  if (inputs.kind === 'tensors') {
    const [t] = inputs.inputs;
    if (inputs.inputs.length !== 1 || t.shape.length !== 2 || (t.shape[1] !== -1 && t.shape[1] !== model.columns.length)) {
      fail(`the model reads one 2-D array of ${model.columns.length} columns`);
    }
    return;
  }
  const specs = inputs.inputs;
  const specFor = (c: number) => (model.namesKnown ? specs.find((s) => s.name === model.columns[c].name) : specs[c]);
  if (!model.namesKnown && specs.length !== model.columns.length)
    fail(`it has ${specs.length} columns, the model was fitted on ${model.columns.length}`);
  for (const c of [...model.numericColumns, ...model.stringColumns]) {
    if (specFor(c) === undefined) fail(`it lacks column '${model.columns[c].name}', which the model reads`);
  }
  const typeOf = (c: number) => specFor(c)?.colType.type;
  for (const c of model.numericColumns) {
    const t = typeOf(c);
    if (t !== undefined && !NUMERIC.has(t as ScalarColType))
      fail(`column ${model.columns[c].name ?? c} is '${t}', the model reads it as numbers`);
  }
  for (const c of model.stringColumns) {
    const t = typeOf(c);
    if (t !== undefined && t !== 'string')
      fail(`column ${model.columns[c].name ?? c} is '${t}', the model reads it as strings (its categories are strings)`);
  }
}
