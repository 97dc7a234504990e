import { PbMessage } from './onnxWriter';
import { Reader } from './onnxIndex';

/** Where an initializer's bytes are to be found after relocation: `length` bytes at `offset` of `location`. */
export interface ExternalSlot {
  location: string;
  offset: number;
  length: number;
}

/** The initializer's bytes inside the model itself (raw_data). */
export interface InlineSlot {
  data: Uint8Array;
}

export type InitializerSlot = ExternalSlot | InlineSlot;

const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_INITIALIZER = 5;
const NODE_OUTPUT = 2;
const NODE_OP_TYPE = 4;
const TENSOR_NAME = 8;
/** TensorProto fields that hold or place the values: dropped and replaced by the new external_data. */
const TENSOR_VALUE_FIELDS = new Set([4, 5, 6, 7, 9, 10, 11, 13, 14]);

/**
 * The model's bytes with the named initializers pointing at new external data (ONNX
 * `external_data` location/offset/length, `data_location = EXTERNAL`) or holding new raw_data;
 * every other byte of the model is kept as it was, so untouched initializers still read from the
 * original data file.
 * This is how a merge avoids copying the base weights: only the patched ones are written anew.
 *
 * `twins` (name → the initializer it shares) are weights torch.onnx de-duplicated: an `Identity` of the
 * kept initializer makes the twin's value. A twin in `moves` becomes an initializer of its own (the
 * shared one's header under the twin's name, at its slot) and its Identity is dropped, so patching one
 * module of a shared weight leaves the other as it was.
 */
export function relocateInitializers(
  model: Uint8Array,
  moves: ReadonlyMap<string, InitializerSlot>,
  onPart?: (part: Uint8Array, offset: number) => void,
  twins: ReadonlyMap<string, string> = new Map(),
): Uint8Array {
  const out = new PbMessage();
  const r = new Reader(model, 0, model.length);
  let moved = 0;
  eachField(r, (field, wire, start) => {
    if (field === MODEL_GRAPH && wire === 2) {
      const graph = r.sub();
      out.message(MODEL_GRAPH, relocateInGraph(graph, moves, () => moved++, twins));
    } else {
      r.skip(wire, field);
      out.raw(model.subarray(start, r.pos));
    }
  });
  if (moved !== moves.size) throw new Error(`relocateInitializers: ${moves.size - moved} of ${moves.size} initializers are not in the graph`);
  return out.toBytes(onPart);
}

function relocateInGraph(r: Reader, moves: ReadonlyMap<string, InitializerSlot>, onMoved: () => void, twins: ReadonlyMap<string, string>): PbMessage {
  const graph = new PbMessage();
  const separated = new Map<string, string[]>();
  for (const [twin, shared] of twins) if (moves.has(twin)) separated.set(shared, [...(separated.get(shared) ?? []), twin]);
  const dropped = new Set([...separated.values()].flat());
  eachField(r, (field, wire, start) => {
    r.skip(wire, field);
    const bytes = r.buf.subarray(start, r.pos);
    if (field === GRAPH_NODE && wire === 2 && dropped.size > 0) {
      const node = new Reader(r.buf, start, r.pos);
      node.varint();
      const output = identityOutput(node.sub());
      if (output !== undefined && dropped.has(output)) return;
    }
    if (field === GRAPH_INITIALIZER && wire === 2) {
      const tensor = new Reader(r.buf, start, r.pos);
      tensor.varint(); // the tag
      const body = tensor.sub();
      const name = tensorName(new Reader(body.buf, body.pos, body.end));
      for (const twin of separated.get(name) ?? []) {
        graph.message(GRAPH_INITIALIZER, relocatedTensor(new Reader(body.buf, body.pos, body.end), moves.get(twin)!, twin));
        onMoved();
      }
      const slot = moves.get(name);
      if (slot) {
        graph.message(GRAPH_INITIALIZER, relocatedTensor(body, slot));
        onMoved();
        return;
      }
    }
    graph.raw(bytes);
  });
  return graph;
}

/** The output of an Identity node with one output; undefined for any other node. */
function identityOutput(r: Reader): string | undefined {
  const outputs: string[] = [];
  let op = '';
  eachField(r, (field, wire) => {
    if (field === NODE_OUTPUT && wire === 2) outputs.push(r.string());
    else if (field === NODE_OP_TYPE && wire === 2) op = r.string();
    else r.skip(wire, field);
  });
  return op === 'Identity' && outputs.length === 1 ? outputs[0] : undefined;
}

function tensorName(r: Reader): string {
  let name = '';
  r.fields((field, wire) => {
    if (field !== TENSOR_NAME || wire !== 2) return false;
    name = r.string();
    return true;
  });
  return name;
}

/** The tensor's header fields (name, dims, type, doc...) as they were, then the new external_data. */
function relocatedTensor(r: Reader, slot: InitializerSlot, rename?: string): PbMessage {
  const tensor = new PbMessage();
  eachField(r, (field, wire, start) => {
    r.skip(wire, field);
    if (field === TENSOR_NAME && rename !== undefined) tensor.string(TENSOR_NAME, rename);
    else if (!TENSOR_VALUE_FIELDS.has(field)) tensor.raw(r.buf.subarray(start, r.pos));
  });
  if ('data' in slot) return tensor.bytes(9, slot.data);
  // Key order location, offset, length is onnx's own (set_external_data).
  for (const [key, value] of [
    ['location', slot.location],
    ['offset', String(slot.offset)],
    ['length', String(slot.length)],
  ]) {
    tensor.message(13, new PbMessage().string(1, key).string(2, value));
  }
  return tensor.varint(14, 1);
}

/** Calls `f` per field with the byte where its tag starts; `f` must consume the value. */
function eachField(r: Reader, f: (field: number, wire: number, start: number) => void): void {
  while (!r.done()) {
    const start = r.pos;
    const tag = r.varint();
    f(Math.floor(tag / 8), tag & 7, start);
  }
}
