/**
 * The Open Inference Protocol (KServe V2) request the V2 scripts send and how its answers are
 * judged: POST /v2/models/{name}[/versions/{v}]/infer with one FP32 tensor (README.md, "Open
 * Inference Protocol").
 */
import http from 'k6/http';
import { type AnswerChecks, BASE_URL, type ModelExpectation, type Target, bodyText, faultOf, identityChecks, parseJson } from './common.ts';

interface V2Output {
  name?: unknown;
  datatype?: unknown;
  shape?: unknown;
  data?: unknown;
}

function inferUrl(model: ModelExpectation): string {
  const version = model.versions?.length === 1 ? `/versions/${encodeURIComponent(model.versions[0])}` : '';
  return `${BASE_URL}/v2/models/${encodeURIComponent(model.name)}${version}/infer`;
}

/** Why a V2 answer is not `rows` rows of outputs from `model`, or undefined. */
function outputsFault(text: string, rows: number, model: ModelExpectation): string | undefined {
  const body = parseJson(text) as { model_name?: unknown; outputs?: unknown } | undefined;
  if (body?.model_name !== model.name) return `model_name is ${String(body?.model_name)}, expected ${model.name}`;
  const outputs = body.outputs;
  if (!Array.isArray(outputs) || outputs.length === 0) return 'no outputs';
  for (const o of outputs as V2Output[]) {
    const shape = o.shape;
    if (typeof o.name !== 'string' || typeof o.datatype !== 'string' || !Array.isArray(shape) || !Array.isArray(o.data)) {
      return `output ${JSON.stringify(o).slice(0, 100)} is not {name, datatype, shape, data}`;
    }
    if (shape[0] !== rows) return `output ${o.name} has shape ${JSON.stringify(shape)}, expected ${rows} rows`;
  }
  return undefined;
}

/** One FP32 input named `inputName` holding `rows`, row-major. */
export function v2Target(model: ModelExpectation, inputName: string, rows: number[][]): Target {
  const data: number[] = [];
  for (const r of rows) data.push(...r);
  const body = JSON.stringify({ inputs: [{ name: inputName, shape: [rows.length, rows[0].length], datatype: 'FP32', data }] });
  const url = inferUrl(model);
  const checks: AnswerChecks = {
    'status is 200': (r) => r.status === 200,
    // The answer's fields come in a fixed order (model_name, model_version, id, outputs), so this
    // finds the outputs without parsing every answer.
    'has outputs': (r) => bodyText(r).includes('"outputs": [{'),
    ...identityChecks(model),
  };
  return {
    send: () => http.post(url, body, { headers: { 'Content-Type': 'application/json' }, tags: { name: 'v2-infer' } }),
    checks,
    fault: (res) => faultOf(res, checks, (r) => outputsFault(bodyText(r), rows.length, model)),
  };
}
