import * as fs from 'fs';
import * as path from 'path';

/**
 * Reads an ONNX model's graph and indexes its weight initializers by diffusers / transformers
 * module path, so that a LoRA key (`lora_unet_down_blocks_0_attentions_0_..._to_k`) can find
 * the tensor it patches.
 *
 * The decoder covers only the subset of onnx.proto the index needs (model → graph → nodes,
 * attributes, initializers, inputs/outputs). It never copies tensor data: an initializer is
 * recorded as a byte range, inside the model file (raw_data) or inside its external data file,
 * so an SD1.5 text encoder (about 490 MB inline) costs one file read and no tensor copies, and
 * an SD-sized UNet (model.onnx small, model.onnx_data past protobuf's 2 GB limit) is indexed
 * without touching its data file beyond a stat.
 *
 * Field numbers follow onnx/onnx `onnx/onnx.proto` (checked against the writer in
 * `onnxWriter.ts`, which encodes the same subset).
 */

// ---------------------------------------------------------------------------------------
// Public types

/** TensorProto.DataType names, as onnxruntime-node's tensor types spell them where they exist. */
export type OnnxDType =
  | 'float32'
  | 'uint8'
  | 'int8'
  | 'uint16'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'string'
  | 'bool'
  | 'float16'
  | 'float64'
  | 'uint32'
  | 'uint64'
  | 'complex64'
  | 'complex128'
  | 'bfloat16'
  | 'float8e4m3fn'
  | 'float8e4m3fnuz'
  | 'float8e5m2'
  | 'float8e5m2fnuz'
  | 'uint4'
  | 'int4'
  | 'float4e2m1'
  | 'unknown';

/** Index = TensorProto.DataType code. */
const DTYPE_BY_CODE: OnnxDType[] = [
  'unknown',
  'float32',
  'uint8',
  'int8',
  'uint16',
  'int16',
  'int32',
  'int64',
  'string',
  'bool',
  'float16',
  'float64',
  'uint32',
  'uint64',
  'complex64',
  'complex128',
  'bfloat16',
  'float8e4m3fn',
  'float8e4m3fnuz',
  'float8e5m2',
  'float8e5m2fnuz',
  'uint4',
  'int4',
  'float4e2m1',
];

/** Bits per element; 0 where the size is not fixed (strings). Sub-byte types pack two to a byte. */
const BITS: Partial<Record<OnnxDType, number>> = {
  float32: 32,
  uint8: 8,
  int8: 8,
  uint16: 16,
  int16: 16,
  int32: 32,
  int64: 64,
  bool: 8,
  float16: 16,
  float64: 64,
  uint32: 32,
  uint64: 64,
  complex64: 64,
  complex128: 128,
  bfloat16: 16,
  float8e4m3fn: 8,
  float8e4m3fnuz: 8,
  float8e5m2: 8,
  float8e5m2fnuz: 8,
  uint4: 4,
  int4: 4,
  float4e2m1: 4,
};

/**
 * Where an initializer's bytes lie. `inline`: raw_data inside the model file, `offset` from the
 * start of the model file (or of the bytes given to `parseOnnxModel`). `external`: `length` bytes
 * at `offset` in `file` (the absolute path of `location`, which is relative to the model's folder).
 */
export type TensorLocation =
  | { kind: 'inline'; offset: number; length: number }
  | { kind: 'external'; location: string; file: string; offset: number; length: number };

export interface OnnxInitializer {
  name: string;
  dims: number[];
  dataType: number;
  dtype: OnnxDType;
  /**
   * Undefined when the values sit in a typed repeated field (int32_data, unpacked float_data...)
   * rather than contiguous raw bytes: a merge cannot patch those in place, and exporters use
   * raw_data for every weight.
   */
  location?: TensorLocation;
  /** Why `location` is undefined. */
  storage?: string;
}

export interface OnnxAttribute {
  name: string;
  /** AttributeProto.AttributeType code (1 FLOAT, 2 INT, 3 STRING, 4 TENSOR, 6 FLOATS, 7 INTS, ...). */
  type: number;
  f?: number;
  i?: number;
  s?: string;
  floats?: number[];
  ints?: number[];
}

export interface OnnxNode {
  name: string;
  opType: string;
  /** '' is the default ai.onnx domain. */
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, OnnxAttribute>;
}

export interface OnnxValueInfo {
  name: string;
  elemType?: OnnxDType;
  /** Fixed sizes, symbolic names, or undefined for an unknown dimension; undefined shape = unknown rank. */
  shape?: (number | string | undefined)[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxInitializer[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export interface OnnxModel {
  /** The model file, as given (used in every message). */
  file: string;
  irVersion: number;
  producerName: string;
  producerVersion: string;
  opsets: { domain: string; version: number }[];
  graph: OnnxGraph;
}

export type WeightOp = 'MatMul' | 'Gemm' | 'Conv';

/**
 * How the weight is stored relative to torch's Linear weight W [out, in]:
 * `in_out`: Wᵀ (MatMul on the initializer as torch.onnx folds Linear, or Gemm transB=0);
 * `out_in`: W itself (Gemm transB=1, or one Transpose between the initializer and a MatMul);
 * `conv`: [out, in/group, kh, kw], torch's Conv2d layout.
 */
export type WeightLayout = 'in_out' | 'out_in' | 'conv';

export interface WeightEntry {
  /** diffusers / transformers module path (`down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k`). */
  module: string;
  initializer: string;
  /** The consuming MatMul / Gemm / Conv node (the first, when several share the weight). */
  node: string;
  op: WeightOp;
  layout: WeightLayout;
  /** Initializer dims as stored. */
  dims: number[];
  /** Initializer element type as stored (a Cast may feed the op another type; the merge writes this one). */
  dtype: OnnxDType;
  location: TensorLocation;
  /** Op types of the nodes between the initializer and the consumer, initializer side first (`['Transpose']`). */
  via: string[];
  /** Conv groups (1 for a plain conv; a LoRA on a grouped conv must respect the block structure). */
  group?: number;
  /** The module's bias (Conv's and Gemm's third input, or the Add after a MatMul), where it has one: `diff_b` patches it. */
  bias?: BiasEntry;
  /**
   * Set for a weight torch.onnx de-duplicated: equal initializers are stored once and every other module
   * reads that one through an `Identity`. Then `initializer` is the Identity's output (the twin's own
   * name, not an initializer of the graph), `twinOf` the stored initializer, and `location` its bytes.
   * A merge that patches either gives the twin an initializer of its own (relocateInitializers).
   */
  twinOf?: string;
}

export interface BiasEntry {
  initializer: string;
  dims: number[];
  dtype: OnnxDType;
  location: TensorLocation;
}

export interface UnattributedWeight {
  initializer: string;
  node: string;
  op: string;
  reason: string;
}

export interface FusedAttentionReport {
  /** Fused attention nodes and packed Q/K/V MatMuls found. */
  nodes: { name: string; opType: string; domain: string }[];
  message: string;
}

export interface WeightIndex {
  file: string;
  /** In graph node order. */
  weights: WeightEntry[];
  byModule: Map<string, WeightEntry>;
  /** MatMul/Gemm/Conv weight initializers whose module or orientation could not be recovered. */
  unattributed: UnattributedWeight[];
  /** Present when the graph was optimized with fused attention: LoRA needs a plain export then. */
  fused?: FusedAttentionReport;
}

/** An unreadable or malformed model; the message names the file. */
export class OnnxReadError extends Error {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
    this.name = 'OnnxReadError';
  }
}

// ---------------------------------------------------------------------------------------
// Protobuf wire reader

/** Thrown inside the decoder; turned into an OnnxReadError naming the file at the top. */
class WireError extends Error {}

const UTF8 = new TextDecoder('utf-8', { fatal: false });

/**
 * A cursor over [pos, end) of one shared buffer. Nested messages are read as sub-ranges of the
 * same buffer, so positions stay absolute: a raw_data field's position is its offset in the file.
 */
export class Reader {
  constructor(
    readonly buf: Uint8Array,
    public pos: number,
    readonly end: number,
  ) {}

  done(): boolean {
    return this.pos >= this.end;
  }

  varint(): number {
    // Fast path: up to 7 bytes (49 bits) fits a double exactly. Longer varints are int64
    // values past 2^49 or negative ints (10 bytes, two's complement: attribute `axis: -1`).
    let result = 0;
    let mul = 1;
    const start = this.pos;
    for (let i = 0; i < 7; i++) {
      if (this.pos >= this.end) throw new WireError(`truncated varint at byte ${start}`);
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    this.pos = start;
    return this.varintSlow();
  }

  private varintSlow(): number {
    const start = this.pos;
    let v = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new WireError(`truncated varint at byte ${start}`);
      const b = this.buf[this.pos++];
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return Number(BigInt.asIntN(64, v));
      shift += 7n;
    }
    throw new WireError(`malformed varint at byte ${start} (more than 10 bytes)`);
  }

  /** A length-delimited field's [start, end), bounds-checked: a truncated file fails here. */
  lengthDelimited(): { start: number; end: number } {
    const at = this.pos;
    const len = this.varint();
    if (len < 0 || this.pos + len > this.end) {
      throw new WireError(`truncated: a ${len}-byte field at byte ${at} runs past the end of its message at byte ${this.end}`);
    }
    const start = this.pos;
    this.pos += len;
    return { start, end: this.pos };
  }

  sub(): Reader {
    const { start, end } = this.lengthDelimited();
    return new Reader(this.buf, start, end);
  }

  string(): string {
    const { start, end } = this.lengthDelimited();
    return UTF8.decode(this.buf.subarray(start, end));
  }

  float32(): number {
    if (this.pos + 4 > this.end) throw new WireError(`truncated float at byte ${this.pos}`);
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  skip(wire: number, field: number): void {
    const at = this.pos;
    switch (wire) {
      case 0:
        this.varint();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.lengthDelimited();
        return;
      case 5:
        this.pos += 4;
        break;
      default:
        // Groups (3, 4) are not used by onnx.proto; 6 and 7 do not exist. Either way this is not ONNX.
        throw new WireError(`invalid wire type ${wire} for field ${field} at byte ${at}`);
    }
    if (this.pos > this.end) throw new WireError(`truncated: field ${field} at byte ${at} runs past the end of its message`);
  }

  /** Calls `f(field, wire)` per field; `f` must consume the value or return false to have it skipped. */
  fields(f: (field: number, wire: number) => boolean): void {
    while (this.pos < this.end) {
      const tag = this.varint();
      const field = Math.floor(tag / 8);
      const wire = tag & 7;
      if (field === 0) throw new WireError(`field number 0 at byte ${this.pos}`);
      if (!f(field, wire)) this.skip(wire, field);
    }
  }

  /** A repeated int64 field read either packed (wire 2) or one value (wire 0): proto2 writers emit both. */
  ints(wire: number, into: number[]): void {
    if (wire === 2) {
      const r = this.sub();
      while (!r.done()) into.push(r.varint());
    } else into.push(this.varint());
  }

  floats(wire: number, into: number[]): void {
    if (wire === 2) {
      const r = this.sub();
      while (!r.done()) into.push(r.float32());
    } else into.push(this.float32());
  }
}

function expectWire(actual: number, expected: number, what: string): boolean {
  if (actual !== expected) throw new WireError(`${what} has wire type ${actual}, expected ${expected}`);
  return true;
}

// ---------------------------------------------------------------------------------------
// Messages

/** An initializer before its location is resolved against the model's folder. */
interface RawTensor {
  name: string;
  dims: number[];
  dataType: number;
  raw?: { start: number; end: number };
  external: Map<string, string>;
  dataLocation: number;
  /** Packed float_data of a float32 tensor is little-endian floats back to back: as good as raw_data. */
  packedFloats?: { start: number; end: number };
  typedField?: number;
}

function readTensor(r: Reader): RawTensor {
  const t: RawTensor = { name: '', dims: [], dataType: 0, external: new Map(), dataLocation: 0 };
  r.fields((field, wire) => {
    switch (field) {
      case 1:
        r.ints(wire, t.dims);
        return true;
      case 2:
        expectWire(wire, 0, 'TensorProto.data_type');
        t.dataType = r.varint();
        return true;
      case 8:
        expectWire(wire, 2, 'TensorProto.name');
        t.name = r.string();
        return true;
      case 9:
        expectWire(wire, 2, 'TensorProto.raw_data');
        t.raw = r.lengthDelimited();
        return true;
      case 13: {
        expectWire(wire, 2, 'TensorProto.external_data');
        const e = r.sub();
        let key = '';
        let value = '';
        e.fields((f, w) => {
          if (f === 1 && expectWire(w, 2, 'StringStringEntryProto.key')) key = e.string();
          else if (f === 2 && expectWire(w, 2, 'StringStringEntryProto.value')) value = e.string();
          else return false;
          return true;
        });
        t.external.set(key, value);
        return true;
      }
      case 14:
        expectWire(wire, 0, 'TensorProto.data_location');
        t.dataLocation = r.varint();
        return true;
      case 4:
        if (wire === 2 && t.packedFloats === undefined && t.typedField === undefined) {
          t.packedFloats = r.lengthDelimited();
          return true;
        }
        t.typedField = field;
        return false;
      case 5:
      case 6:
      case 7:
      case 10:
      case 11:
        t.typedField = field;
        return false;
      default:
        return false;
    }
  });
  return t;
}

function readAttribute(r: Reader): OnnxAttribute {
  const a: OnnxAttribute = { name: '', type: 0 };
  r.fields((field, wire) => {
    switch (field) {
      case 1:
        expectWire(wire, 2, 'AttributeProto.name');
        a.name = r.string();
        return true;
      case 20:
        expectWire(wire, 0, 'AttributeProto.type');
        a.type = r.varint();
        return true;
      case 2:
        expectWire(wire, 5, 'AttributeProto.f');
        a.f = r.float32();
        return true;
      case 3:
        expectWire(wire, 0, 'AttributeProto.i');
        a.i = r.varint();
        return true;
      case 4:
        expectWire(wire, 2, 'AttributeProto.s');
        a.s = r.string();
        return true;
      case 7:
        r.floats(wire, (a.floats ??= []));
        return true;
      case 8:
        r.ints(wire, (a.ints ??= []));
        return true;
      default:
        // Tensors (Constant values), graphs (If/Loop bodies), strings lists: not needed for the index.
        return false;
    }
  });
  return a;
}

function readNode(r: Reader): OnnxNode {
  const n: OnnxNode = { name: '', opType: '', domain: '', inputs: [], outputs: [], attributes: {} };
  r.fields((field, wire) => {
    switch (field) {
      case 1:
        expectWire(wire, 2, 'NodeProto.input');
        n.inputs.push(r.string());
        return true;
      case 2:
        expectWire(wire, 2, 'NodeProto.output');
        n.outputs.push(r.string());
        return true;
      case 3:
        expectWire(wire, 2, 'NodeProto.name');
        n.name = r.string();
        return true;
      case 4:
        expectWire(wire, 2, 'NodeProto.op_type');
        n.opType = r.string();
        return true;
      case 5: {
        expectWire(wire, 2, 'NodeProto.attribute');
        const a = readAttribute(r.sub());
        n.attributes[a.name] = a;
        return true;
      }
      case 7:
        expectWire(wire, 2, 'NodeProto.domain');
        n.domain = r.string();
        return true;
      default:
        return false;
    }
  });
  return n;
}

function readValueInfo(r: Reader): OnnxValueInfo {
  const v: OnnxValueInfo = { name: '' };
  r.fields((field, wire) => {
    if (field === 1 && expectWire(wire, 2, 'ValueInfoProto.name')) v.name = r.string();
    else if (field === 2 && expectWire(wire, 2, 'ValueInfoProto.type')) {
      const type = r.sub();
      type.fields((tf, tw) => {
        if (tf !== 1 || tw !== 2) return false; // only tensor_type; sequences and maps are not weights' business
        const tensor = type.sub();
        tensor.fields((f, w) => {
          if (f === 1 && expectWire(w, 0, 'TypeProto.Tensor.elem_type')) v.elemType = DTYPE_BY_CODE[tensor.varint()] ?? 'unknown';
          else if (f === 2 && expectWire(w, 2, 'TypeProto.Tensor.shape')) {
            const shape = tensor.sub();
            v.shape = [];
            shape.fields((sf, sw) => {
              if (sf !== 1 || sw !== 2) return false;
              const dim = shape.sub();
              let d: number | string | undefined;
              dim.fields((df, dw) => {
                if (df === 1 && expectWire(dw, 0, 'Dimension.dim_value')) d = dim.varint();
                else if (df === 2 && expectWire(dw, 2, 'Dimension.dim_param')) d = dim.string();
                else return false;
                return true;
              });
              (v.shape as (number | string | undefined)[]).push(d);
              return true;
            });
          } else return false;
          return true;
        });
        return true;
      });
    } else return false;
    return true;
  });
  return v;
}

function readGraph(r: Reader): { graph: Omit<OnnxGraph, 'initializers'>; tensors: RawTensor[] } {
  const graph: Omit<OnnxGraph, 'initializers'> = { name: '', nodes: [], inputs: [], outputs: [] };
  const tensors: RawTensor[] = [];
  r.fields((field, wire) => {
    switch (field) {
      case 1:
        expectWire(wire, 2, 'GraphProto.node');
        graph.nodes.push(readNode(r.sub()));
        return true;
      case 2:
        expectWire(wire, 2, 'GraphProto.name');
        graph.name = r.string();
        return true;
      case 5:
        expectWire(wire, 2, 'GraphProto.initializer');
        tensors.push(readTensor(r.sub()));
        return true;
      case 11:
        expectWire(wire, 2, 'GraphProto.input');
        graph.inputs.push(readValueInfo(r.sub()));
        return true;
      case 12:
        expectWire(wire, 2, 'GraphProto.output');
        graph.outputs.push(readValueInfo(r.sub()));
        return true;
      default:
        return false;
    }
  });
  return { graph, tensors };
}

function byteLengthOf(dtype: OnnxDType, dims: number[]): number | undefined {
  const bits = BITS[dtype];
  if (!bits) return undefined;
  const count = dims.reduce((a, b) => a * b, 1);
  return Math.ceil((count * bits) / 8);
}

/** Turns a decoded tensor into an initializer with a byte location; `dir` resolves external locations. */
function resolveTensor(t: RawTensor, dir: string): OnnxInitializer {
  const dtype = DTYPE_BY_CODE[t.dataType] ?? 'unknown';
  const init: OnnxInitializer = { name: t.name, dims: t.dims, dataType: t.dataType, dtype };
  const expected = byteLengthOf(dtype, t.dims);
  if (t.dataLocation === 1) {
    const location = t.external.get('location');
    if (!location) throw new WireError(`initializer ${t.name} is marked external but names no location`);
    // onnx's checker refuses locations outside the model's folder; a crafted model must not make
    // a merge read (or later patch) an arbitrary file.
    if (path.isAbsolute(location) || path.win32.isAbsolute(location) || location.split(/[\\/]/).includes('..')) {
      throw new WireError(`initializer ${t.name}: external data location '${location}' is outside the model's folder`);
    }
    const offset = Number(t.external.get('offset') ?? '0');
    const lengthText = t.external.get('length');
    const length = lengthText === undefined ? expected : Number(lengthText);
    if (!Number.isSafeInteger(offset) || offset < 0) throw new WireError(`initializer ${t.name}: bad external offset '${t.external.get('offset')}'`);
    if (length === undefined || !Number.isSafeInteger(length) || length < 0) {
      throw new WireError(`initializer ${t.name}: bad or missing external length '${lengthText}'`);
    }
    if (expected !== undefined && length !== expected) {
      throw new WireError(`initializer ${t.name}: external length ${length} does not match ${dtype} [${t.dims}] (${expected} bytes)`);
    }
    init.location = { kind: 'external', location, file: path.resolve(dir, location), offset, length };
    return init;
  }
  const range = t.raw ?? (t.dataType === 1 ? t.packedFloats : undefined);
  if (range) {
    const length = range.end - range.start;
    if (expected !== undefined && length !== expected) {
      throw new WireError(`initializer ${t.name}: ${length} bytes of data for ${dtype} [${t.dims}] (${expected} expected)`);
    }
    init.location = { kind: 'inline', offset: range.start, length };
  } else if (t.typedField !== undefined || t.packedFloats !== undefined) {
    init.storage = `values in TensorProto field ${t.typedField ?? 4} rather than raw_data`;
  } else {
    // No data at all: an empty tensor, or a tensor some tool left for later. Neither is a weight.
    init.storage = 'no data';
  }
  return init;
}

/**
 * Decodes a model from its bytes. `file` names it in messages and locates external data
 * (relative to its folder); nothing is read from disk here.
 */
export function parseOnnxModel(bytes: Uint8Array, file: string): OnnxModel {
  const model: OnnxModel = { file, irVersion: 0, producerName: '', producerVersion: '', opsets: [], graph: { name: '', nodes: [], initializers: [], inputs: [], outputs: [] } };
  let tensors: RawTensor[] = [];
  let sawGraph = false;
  try {
    if (bytes.length === 0) throw new WireError('the file is empty');
    const r = new Reader(bytes, 0, bytes.length);
    r.fields((field, wire) => {
      switch (field) {
        case 1:
          expectWire(wire, 0, 'ModelProto.ir_version');
          model.irVersion = r.varint();
          return true;
        case 2:
          expectWire(wire, 2, 'ModelProto.producer_name');
          model.producerName = r.string();
          return true;
        case 3:
          expectWire(wire, 2, 'ModelProto.producer_version');
          model.producerVersion = r.string();
          return true;
        case 7: {
          expectWire(wire, 2, 'ModelProto.graph');
          const g = readGraph(r.sub());
          model.graph = { ...g.graph, initializers: [] };
          tensors = g.tensors;
          sawGraph = true;
          return true;
        }
        case 8: {
          expectWire(wire, 2, 'ModelProto.opset_import');
          const o = r.sub();
          const opset = { domain: '', version: 0 };
          o.fields((f, w) => {
            if (f === 1 && expectWire(w, 2, 'OperatorSetIdProto.domain')) opset.domain = o.string();
            else if (f === 2 && expectWire(w, 0, 'OperatorSetIdProto.version')) opset.version = o.varint();
            else return false;
            return true;
          });
          model.opsets.push(opset);
          return true;
        }
        default:
          return false;
      }
    });
    // Random bytes can happen to parse as protobuf; a model has an IR version and a graph.
    if (!sawGraph || model.irVersion <= 0) throw new WireError(`no ${sawGraph ? 'IR version' : 'graph'} found`);
    const dir = path.dirname(file);
    model.graph.initializers = tensors.map((t) => resolveTensor(t, dir));
  } catch (e) {
    if (e instanceof WireError) throw new OnnxReadError(file, `not a readable ONNX model (${e.message})`);
    throw e;
  }
  return model;
}

/** Protobuf cannot encode a message of 2 GB or more; bigger models keep their weights in external data. */
const PROTOBUF_LIMIT = 2 ** 31;

/**
 * Reads a model file and checks that every external data range lies inside its data file
 * (a missing or short `model.onnx_data` is reported here, naming both files, not at merge time).
 */
export function readOnnxModel(file: string): OnnxModel {
  let bytes: Buffer;
  try {
    const size = fs.statSync(file).size;
    if (size >= PROTOBUF_LIMIT) {
      throw new OnnxReadError(file, `${size} bytes is past protobuf's 2 GB limit, so it is not a valid ONNX model file (big models keep their weights in an external data file)`);
    }
    bytes = fs.readFileSync(file);
  } catch (e) {
    if (e instanceof OnnxReadError) throw e;
    throw new OnnxReadError(file, `cannot read the model (${(e as Error).message})`);
  }
  const model = parseOnnxModel(bytes, file);
  const sizes = new Map<string, number>();
  for (const init of model.graph.initializers) {
    const loc = init.location;
    if (loc?.kind !== 'external') continue;
    let size = sizes.get(loc.file);
    if (size === undefined) {
      try {
        size = fs.statSync(loc.file).size;
      } catch (e) {
        throw new OnnxReadError(file, `external data file ${loc.file} cannot be read (${(e as Error).message})`);
      }
      sizes.set(loc.file, size);
    }
    if (loc.offset + loc.length > size) {
      throw new OnnxReadError(file, `initializer ${init.name} lies at ${loc.offset}..${loc.offset + loc.length} of ${loc.file}, which has only ${size} bytes`);
    }
  }
  return model;
}

// ---------------------------------------------------------------------------------------
// Weight index

/** Ops a weight may pass through on its way to the consumer without changing what it is. */
const PASS_THROUGH = new Set(['Transpose', 'Cast', 'Identity']);

/** Fused attention ops (com.microsoft contrib ops, and ai.onnx Attention from opset 23). */
const FUSED_ATTENTION = new Set([
  'Attention',
  'MultiHeadAttention',
  'PackedAttention',
  'PackedMultiHeadAttention',
  'GroupQueryAttention',
  'DecoderMaskedMultiHeadAttention',
  'DecoderMaskedSelfAttention',
  'QAttention',
  'LongformerAttention',
  'SparseAttention',
]);

/**
 * onnxruntime's transformers optimizer names packed projections `MatMul_QKV_N` / `MatMul_KV_N`
 * with a `<node>_weight` initializer, and the Attention op's input `Attention_N_qkv_weight`.
 */
const PACKED_QKV = /(^|[/_])MatMul_(QKV|KV)(_\d+)?$|_(qkv|kv)_weight$/i;

/** `a.b.0.c.weight` with no scope separators or `onnx::` prefix: a module parameter's own name. */
const PARAMETER_NAME = /^[A-Za-z_][\w]*(\.[\w]+)*\.weight$/;

/**
 * The module path a consuming node's scoped name encodes: torch.onnx names nodes
 * `/<module scopes>/<Op>[_N]`, so dropping the op segment and joining with dots gives the path.
 */
function moduleFromNodeName(name: string): string | undefined {
  if (!name.startsWith('/')) return undefined;
  const parts = name.slice(1).split('/');
  parts.pop();
  if (parts.length === 0 || parts.some((p) => p === '')) return undefined;
  return parts.join('.');
}

function moduleFromInitializerName(name: string): string | undefined {
  return PARAMETER_NAME.test(name) ? name.slice(0, -'.weight'.length) : undefined;
}

/** Whether a Transpose swaps the two axes of a 2-D weight (no perm = reverse the axes). */
function transposeFlips(node: OnnxNode, rank: number): boolean | undefined {
  const perm = node.attributes.perm?.ints;
  if (rank !== 2) return undefined;
  if (!perm) return true;
  if (perm.length !== 2) return undefined;
  if (perm[0] === 1 && perm[1] === 0) return true;
  if (perm[0] === 0 && perm[1] === 1) return false;
  return undefined;
}

interface Candidate {
  entry?: WeightEntry;
  problem?: UnattributedWeight;
}

/**
 * Indexes every MatMul / Gemm / Conv weight initializer of the graph by module path.
 * Orientation comes from the op, its attributes and the Transposes on the way, never from the
 * shape (SD's square attention weights [320, 320] look the same either way round).
 */
export function indexWeights(model: OnnxModel): WeightIndex {
  const g = model.graph;
  const inits = new Map(g.initializers.map((i) => [i.name, i]));
  const producer = new Map<string, OnnxNode>();
  for (const n of g.nodes) for (const o of n.outputs) if (o) producer.set(o, n);
  const consumers = new Map<string, OnnxNode[]>();
  for (const n of g.nodes) {
    for (const i of n.inputs) {
      if (!i) continue;
      const list = consumers.get(i);
      if (list) list.push(n);
      else consumers.set(i, [n]);
    }
  }
  /** The initializer behind a value, through Transpose / Cast / Identity. */
  const initializerBehind = (name: string): OnnxInitializer | undefined => {
    let value = name;
    for (let hops = 0; hops <= 8; hops++) {
      const init = inits.get(value);
      if (init) return init;
      const p = producer.get(value);
      if (!p || !PASS_THROUGH.has(p.opType)) return undefined;
      value = p.inputs[0];
    }
    return undefined;
  };
  /** A module's bias of `outputs` values: the op's own bias input, or the Add torch.onnx puts after a Linear's MatMul. */
  const biasOf = (node: OnnxNode, outputs: number, module: string): BiasEntry | undefined => {
    const candidates =
      node.opType === 'MatMul'
        ? (consumers.get(node.outputs[0]) ?? []).filter((c) => c.opType === 'Add').map((add) => add.inputs.find((i) => i !== node.outputs[0]) ?? '')
        : [node.inputs[2] ?? ''];
    const found = [...candidates.filter(Boolean).map(initializerBehind), inits.get(`${module}.bias`)].find(
      (b) => b?.location && b.dims.reduce((a, d) => a * d, 1) === outputs && b.dims.filter((d) => d !== 1).length <= 1,
    );
    return found ? { initializer: found.name, dims: found.dims, dtype: found.dtype, location: found.location! } : undefined;
  };

  const fusedNodes: FusedAttentionReport['nodes'] = [];
  const byInitializer = new Map<string, Candidate>();
  const unattributed: UnattributedWeight[] = [];
  const order: string[] = [];

  const claim = (name: string, c: Candidate): void => {
    const prev = byInitializer.get(name);
    if (!prev) {
      byInitializer.set(name, c);
      order.push(name);
      return;
    }
    // A weight shared by several consumers is fine when they agree on what it is.
    const a = prev.entry;
    const b = c.entry;
    if (a && b && a.module === b.module && a.layout === b.layout && a.op === b.op) return;
    if (prev.problem) return;
    byInitializer.set(name, {
      problem: {
        initializer: name,
        node: (a ?? b)?.node ?? c.problem?.node ?? '',
        op: (a ?? b)?.op ?? c.problem?.op ?? '',
        reason: `shared by consumers that disagree (${a ? `${a.node}: ${a.module} ${a.layout}` : prev.problem}; ${b ? `${b.node}: ${b.module} ${b.layout}` : c.problem?.reason})`,
      },
    });
  };

  for (const node of g.nodes) {
    if (FUSED_ATTENTION.has(node.opType)) {
      fusedNodes.push({ name: node.name, opType: node.opType, domain: node.domain });
      continue;
    }
    if (node.domain !== '' && node.domain !== 'ai.onnx') continue;
    if (node.opType !== 'MatMul' && node.opType !== 'Gemm' && node.opType !== 'Conv') continue;
    const op = node.opType as WeightOp;
    const weightInput = node.inputs[1];
    if (!weightInput) continue;

    // Walk back from the weight input through Transpose / Cast / Identity to an initializer.
    const via: OnnxNode[] = [];
    let value = weightInput;
    let init = inits.get(value);
    while (!init) {
      const p = producer.get(value);
      if (!p || !PASS_THROUGH.has(p.opType) || via.length > 8) break;
      via.unshift(p);
      value = p.inputs[0];
      init = inits.get(value);
    }
    // Activations (attention's q·kᵀ, probs·v) are not weights: nothing to index, nothing to report.
    if (!init) continue;
    const weight = init;

    // torch.onnx keeps one of several equal initializers and makes the others Identity(kept): such a
    // twin is its own module's weight, under the Identity's output name.
    const twin = via[0]?.opType === 'Identity' && via[0].inputs[0] === init.name ? via[0].outputs[0] : undefined;
    const claimName = twin ?? weight.name;
    const problem = (reason: string): void => claim(claimName, { problem: { initializer: claimName, node: node.name, op, reason } });

    if (PACKED_QKV.test(node.name) || PACKED_QKV.test(init.name)) {
      fusedNodes.push({ name: node.name, opType: node.opType, domain: node.domain });
      problem('packed Q/K/V weight of a fused attention');
      continue;
    }
    if (!init.location) {
      problem(`weight data is not patchable in place (${init.storage})`);
      continue;
    }

    let layout: WeightLayout;
    if (op === 'Conv') {
      if (via.some((v) => v.opType === 'Transpose')) {
        problem('Conv weight passes through a Transpose');
        continue;
      }
      if (init.dims.length < 3) {
        problem(`Conv weight has ${init.dims.length} dims`);
        continue;
      }
      layout = 'conv';
    } else {
      if (init.dims.length !== 2) {
        problem(`${op} weight has ${init.dims.length} dims, not a Linear's 2`);
        continue;
      }
      // MatMul computes x·B, so a bare initializer is [in, out]; Gemm transB=1 computes x·Bᵀ.
      let outIn = op === 'Gemm' && (node.attributes.transB?.i ?? 0) !== 0;
      let bad = false;
      for (const v of via) {
        if (v.opType !== 'Transpose') continue;
        const flips = transposeFlips(v, 2);
        if (flips === undefined) bad = true;
        else if (flips) outIn = !outIn;
      }
      if (bad) {
        problem(`a Transpose with perm [${via.find((v) => v.opType === 'Transpose')?.attributes.perm?.ints ?? ''}] between the weight and ${op}`);
        continue;
      }
      layout = outIn ? 'out_in' : 'in_out';
    }

    // The parameter's own name is authoritative; folded weights (`onnx::MatMul_N`) take the
    // consumer's scope, then any pass-through node's scope (a Transpose exported in the module).
    const module =
      moduleFromInitializerName(claimName) ??
      moduleFromNodeName(node.name) ??
      via.map((v) => moduleFromNodeName(v.name)).find((m) => m !== undefined);
    if (!module) {
      problem(`neither the initializer name nor the node name '${node.name}' carries a module path`);
      continue;
    }
    const entry: WeightEntry = {
      module,
      initializer: claimName,
      node: node.name,
      op,
      layout,
      dims: init.dims,
      dtype: init.dtype,
      location: init.location,
      via: via.map((v) => v.opType),
    };
    if (op === 'Conv') entry.group = node.attributes.group?.i ?? 1;
    const bias = biasOf(node, layout === 'in_out' ? init.dims[1] : init.dims[0], module);
    if (bias) entry.bias = bias;
    if (twin !== undefined) entry.twinOf = init.name;
    claim(claimName, { entry });
  }

  const weights: WeightEntry[] = [];
  const byModule = new Map<string, WeightEntry>();
  for (const name of order) {
    const c = byInitializer.get(name) as Candidate;
    if (c.problem) {
      unattributed.push(c.problem);
      continue;
    }
    const e = c.entry as WeightEntry;
    const other = byModule.get(e.module);
    if (other) {
      // Two weights for one module (a Linear exported twice, e.g. CFG unrolled): a LoRA would
      // have to patch both, which the merge must decide knowingly, so it is reported.
      unattributed.push({ initializer: e.initializer, node: e.node, op: e.op, reason: `module ${e.module} already has weight ${other.initializer}` });
      continue;
    }
    byModule.set(e.module, e);
    weights.push(e);
  }

  const index: WeightIndex = { file: model.file, weights, byModule, unattributed };
  if (fusedNodes.length > 0) {
    const kinds = [...new Set(fusedNodes.map((n) => (n.opType === 'MatMul' ? 'packed QKV MatMul' : n.opType)))].join(', ');
    index.fused = {
      nodes: fusedNodes,
      message:
        `${model.file}: the graph is optimized with fused attention (${fusedNodes.length} nodes: ${kinds}, e.g. '${fusedNodes[0].name}'). ` +
        'Its Q/K/V weights are packed or hidden in the fused nodes, so LoRAs cannot be merged into them; ' +
        'LoRA needs a plain export (optimum-cli export onnx without the onnxruntime transformers optimizer).',
    };
  }
  return index;
}
