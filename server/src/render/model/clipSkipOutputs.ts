import * as fs from 'fs';
import { OnnxAttribute, OnnxModel, OnnxNode, parseOnnxModel } from '../onnx/onnxIndex';
import { PbMessage } from '../onnx/onnxWriter';

/**
 * Clip skip for a diffusers folder's SD1 text encoder. A1111 conditions on
 * `final_layer_norm(hidden_states[-N])` (sd_hijack_clip.py, encode_with_transformers); the graphs sd-prompt
 * builds output those as `normed_hidden_states.i` (sdGraphs/textEncoder.ts). An exported folder has at
 * most `hidden_states.i` (optimum adds them for SDXL only), so its graph gets the same outputs when it is
 * loaded: one LayerNormalization per hidden state over the final norm's own weights, appended to the
 * model's bytes as a second `graph` field. Protobuf merges a repeated embedded message (its repeated
 * fields are concatenated), so ORT reads one graph with the extra nodes and outputs, and the original
 * bytes (hundreds of MB of inline weights) are not re-encoded.
 */

export const NORMED_HIDDEN_STATES = 'normed_hidden_states.';

export type ClipSkipGraph =
  | { kind: 'present' }
  | { kind: 'added'; bytes: Uint8Array; layers: number }
  | { kind: 'impossible'; reason: string };

/** Room left after a file's bytes for the appended graph (about 150 bytes a layer). */
const APPENDIX_ROOM = 1 << 16;

/**
 * A model file with the clip-skip outputs added, read once into a buffer with room for them (the
 * weights are not copied a second time); `present` when it has them already.
 */
export function readWithClipSkipOutputs(file: string): ClipSkipGraph {
  let fd: number | undefined;
  let buffer: Buffer;
  let size: number;
  try {
    fd = fs.openSync(file, 'r');
    size = fs.fstatSync(fd).size;
    if (size + APPENDIX_ROOM >= 2 ** 31) return { kind: 'impossible', reason: `${file} is too big to read whole (${size} bytes)` };
    buffer = Buffer.allocUnsafe(size + APPENDIX_ROOM);
    let at = 0;
    while (at < size) {
      const n = fs.readSync(fd, buffer, at, size - at, at);
      if (n === 0) break;
      at += n;
    }
    if (at !== size) return { kind: 'impossible', reason: `${file} changed while it was read` };
  } catch (e) {
    return { kind: 'impossible', reason: `${file} cannot be read (${(e as Error).message})` };
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  const plan = clipSkipAppendix(buffer.subarray(0, size), file);
  if (plan.kind !== 'added') return plan;
  if (plan.appendix.length > APPENDIX_ROOM) return addClipSkipOutputs(buffer.subarray(0, size), file);
  buffer.set(plan.appendix, size);
  return { kind: 'added', bytes: buffer.subarray(0, size + plan.appendix.length), layers: plan.layers };
}

/** Number of layers an encoder's clip-skip outputs cover (0 when it has none). */
export function normedHiddenStateCount(outputs: readonly string[]): number {
  return outputs.filter((o) => o.startsWith(NORMED_HIDDEN_STATES)).length;
}

/** The model's bytes with the clip-skip outputs added (a copy), or why they cannot be. */
export function addClipSkipOutputs(bytes: Uint8Array, file: string): ClipSkipGraph {
  const plan = clipSkipAppendix(bytes, file);
  if (plan.kind !== 'added') return plan;
  const out = new Uint8Array(bytes.length + plan.appendix.length);
  out.set(bytes, 0);
  out.set(plan.appendix, bytes.length);
  return { kind: 'added', bytes: out, layers: plan.layers };
}

/** The encoded `graph` field that adds the outputs, to go after the model's bytes. */
function clipSkipAppendix(bytes: Uint8Array, file: string): { kind: 'present' } | { kind: 'impossible'; reason: string } | { kind: 'added'; appendix: Uint8Array; layers: number } {
  let model: OnnxModel;
  try {
    model = parseOnnxModel(bytes, file);
  } catch (e) {
    return { kind: 'impossible', reason: (e as Error).message };
  }
  if (normedHiddenStateCount(model.graph.outputs.map((o) => o.name)) > 0) return { kind: 'present' };
  const plan = planClipSkip(model);
  if ('reason' in plan) return { kind: 'impossible', reason: plan.reason };
  const graph = new PbMessage();
  plan.hiddenStates.forEach((hidden, i) => {
    const node = new PbMessage().string(1, hidden).string(1, plan.norm.inputs[1]).string(1, plan.norm.inputs[2]);
    node.string(2, NORMED_HIDDEN_STATES + i).string(3, `/sd_prompt/final_layer_norm_of_${i}/LayerNormalization`).string(4, 'LayerNormalization');
    for (const attribute of Object.values(plan.norm.attributes)) {
      const encoded = encodeAttribute(attribute);
      if (encoded) node.message(5, encoded);
    }
    graph.message(1, node);
  });
  for (let i = 0; i < plan.hiddenStates.length; i++) {
    const tensorType = new PbMessage().varint(1, plan.elemType);
    graph.message(12, new PbMessage().string(1, NORMED_HIDDEN_STATES + i).message(2, new PbMessage().message(1, tensorType)));
  }
  return { kind: 'added', appendix: new PbMessage().message(7, graph).toBytes(), layers: plan.hiddenStates.length };
}

/** TensorProto.DataType codes of the float types a text encoder computes in. */
const ELEM_CODES: Record<string, number> = { float32: 1, float16: 10, bfloat16: 16 };

/**
 * The final norm and the hidden states before it, from the graph's structure (exporters name nodes
 * differently): the final norm is the LayerNormalization that gives `last_hidden_state` (through
 * Identity nodes); each layer is `h + attn(ln1(h))` then `+ mlp(ln2(.))`, so walking the residual
 * Adds back from the norm's input, the residual operand is the one a LayerNormalization also reads.
 */
function planClipSkip(model: OnnxModel): { norm: OnnxNode; hiddenStates: string[]; elemType: number } | { reason: string } {
  const producer = new Map<string, OnnxNode>();
  const readers = new Map<string, OnnxNode[]>();
  for (const n of model.graph.nodes) {
    for (const o of n.outputs) producer.set(o, n);
    for (const i of n.inputs) readers.set(i, [...(readers.get(i) ?? []), n]);
  }
  const last = model.graph.outputs.find((o) => o.name === 'last_hidden_state');
  if (!last) return { reason: 'it has no last_hidden_state output' };
  const elemType = ELEM_CODES[last.elemType ?? 'float32'];
  if (!elemType) return { reason: `its last_hidden_state is ${last.elemType}` };
  let norm = producer.get(last.name);
  while (norm?.opType === 'Identity') norm = producer.get(norm.inputs[0]);
  if (!norm || norm.opType !== 'LayerNormalization' || norm.domain !== '' || norm.inputs.length < 3) {
    return { reason: 'its final layer norm is not one LayerNormalization node (an export older than opset 17, or one with fused nodes)' };
  }
  const readByNorm = (t: string) => (readers.get(t) ?? []).some((r) => r.opType === 'LayerNormalization' && r !== norm);
  const hiddenStates: string[] = [];
  let h = norm.inputs[0];
  // Each layer: two residual Adds back to the layer's input, which its first norm reads.
  for (;;) {
    const second = producer.get(h);
    const middle = second?.opType === 'Add' ? second.inputs.find(readByNorm) : undefined;
    const first = middle !== undefined ? producer.get(middle) : undefined;
    const input = first?.opType === 'Add' ? first.inputs.find(readByNorm) : undefined;
    if (input === undefined) break;
    hiddenStates.unshift(input);
    h = input;
  }
  if (hiddenStates.length === 0) return { reason: 'its encoder layers are not in the form torch exports CLIP in (no residual Add read by a LayerNormalization)' };
  return { norm, hiddenStates, elemType };
}

function encodeAttribute(a: OnnxAttribute): PbMessage | undefined {
  const m = new PbMessage().string(1, a.name);
  if (a.type === 1 && a.f !== undefined) return m.float(2, a.f).varint(20, 1);
  if (a.type === 2 && a.i !== undefined) return m.varint(3, a.i).varint(20, 2);
  return undefined;
}
