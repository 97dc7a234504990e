import * as fs from 'fs';
import * as path from 'path';

/**
 * A minimal, dependency-free ONNX protobuf writer: just the subset of onnx.proto that the
 * SD graph builders need (model, graph, node, attribute, tensor, value info). The
 * extension needs no protobuf library for it, and the wire format for this
 * subset is small. Field numbers were checked against onnx/onnx `onnx/onnx.proto`.
 *
 * Repeated scalar fields (`dims`, `ints`, `floats`) are written unpacked because onnx.proto
 * is proto2 and does not mark them `[packed = true]`; that is what onnx's Python writer
 * emits, and every protobuf parser accepts it.
 */

/** TensorProto.DataType values used here. */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  BFLOAT16: 16,
} as const;
export type ElemType = 'float32' | 'float16' | 'int32' | 'int64' | 'bool';
/** Types of initializers whose bytes are taken as they are (a checkpoint's weights): bfloat16 has no typed array here. */
export type StoredType = ElemType | 'bfloat16';

const ELEM_CODE: Record<StoredType, number> = {
  float32: DataType.FLOAT,
  float16: DataType.FLOAT16,
  bfloat16: DataType.BFLOAT16,
  int32: DataType.INT32,
  int64: DataType.INT64,
  bool: DataType.BOOL,
};

/** Tensor contents. A Uint16Array is taken as float16 bit patterns (ORT and numpy's layout), a Uint8Array as bool. */
export type TensorData = Float32Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array;
/**
 * Initializer data, or a function that makes it. Large models (SD1.5-sized UNet: 3.4 GB of
 * fp32) cannot hold every weight in memory at once; a lazy initializer is made while its
 * bytes are written and dropped right after.
 */
export type LazyTensorData = TensorData | (() => TensorData);

/**
 * Initializer bytes that are not made here: `length` bytes at `offset` of `file` (ONNX external
 * data, e.g. a tensor inside a checkpoint: nothing is read or copied), or bytes already in the
 * tensor's layout and element type (`bytes`).
 */
export type InitializerBytes = { file: string; offset: number; length: number } | { bytes: Uint8Array };

function elemTypeOf(data: TensorData): ElemType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Uint16Array) return 'float16';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  return 'bool';
}

const BYTES_PER_ELEM: Record<StoredType, number> = { float32: 4, float16: 2, bfloat16: 2, int32: 4, int64: 8, bool: 1 };

// ---------------------------------------------------------------------------------------
// Wire format

const WIRE_VARINT = 0;
const WIRE_FIXED32 = 5;
const WIRE_LEN = 2;
const UTF8 = new TextEncoder();

/**
 * A protobuf message as a list of byte parts. Nested messages and large byte fields are kept
 * as references (no copy) so a model with hundreds of MB of inline weights is not copied
 * once per nesting level; the parts are concatenated or streamed to a file only at the end.
 */
export class PbMessage {
  readonly parts: Uint8Array[] = [];
  length = 0;
  private scratch: number[] = [];

  private flush(): void {
    if (this.scratch.length === 0) return;
    const bytes = Uint8Array.from(this.scratch);
    this.scratch = [];
    this.parts.push(bytes);
    this.length += bytes.length;
  }

  private rawVarint(value: number | bigint): void {
    // int64 fields take negative values as 10-byte two's complement (protobuf's rule for
    // int64, not zigzag); BigInt handles values past 2^53 and the sign in one path.
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.scratch.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.scratch.push(Number(v));
  }

  private tag(field: number, wire: number): void {
    this.rawVarint((field << 3) | wire);
  }

  varint(field: number, value: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.rawVarint(value);
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    for (const x of b) this.scratch.push(x);
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.rawVarint(data.length);
    this.flush();
    this.parts.push(data);
    this.length += data.length;
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, UTF8.encode(value));
  }

  /** Bytes that are already encoded fields (copied through from another message). */
  raw(encoded: Uint8Array): this {
    this.flush();
    this.parts.push(encoded);
    this.length += encoded.length;
    return this;
  }

  message(field: number, msg: PbMessage): this {
    this.tag(field, WIRE_LEN);
    this.rawVarint(msg.byteLength());
    this.flush();
    for (const part of msg.parts) this.parts.push(part);
    this.length += msg.length;
    return this;
  }

  byteLength(): number {
    this.flush();
    return this.length;
  }

  /** The encoded message; `onPart` learns where each part (e.g. a `bytes` payload) landed. */
  toBytes(onPart?: (part: Uint8Array, offset: number) => void): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const part of this.parts) {
      out.set(part, at);
      onPart?.(part, at);
      at += part.length;
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------
// Attributes

/** Attribute values. Plain numbers are INT: ONNX rejects an INT where a FLOAT is declared (Gemm alpha), so floats are explicit. */
export type AttrValue =
  | number
  | string
  | number[]
  | { kind: 'float'; value: number }
  | { kind: 'floats'; value: number[] }
  | { kind: 'tensor'; data: TensorData; dims: number[] };

export const attrFloat = (value: number): AttrValue => ({ kind: 'float', value });
export const attrFloats = (value: number[]): AttrValue => ({ kind: 'floats', value });
export const attrTensor = (data: TensorData, dims: number[]): AttrValue => ({ kind: 'tensor', data, dims });

const ATTR = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

function encodeAttribute(name: string, value: AttrValue): PbMessage {
  const m = new PbMessage().string(1, name);
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}: ${value} is not an integer; use attrFloat`);
    m.varint(3, value).varint(20, ATTR.INT);
  } else if (typeof value === 'string') {
    m.string(4, value).varint(20, ATTR.STRING);
  } else if (Array.isArray(value)) {
    for (const v of value) m.varint(8, v);
    m.varint(20, ATTR.INTS);
  } else if (value.kind === 'float') {
    m.float(2, value.value).varint(20, ATTR.FLOAT);
  } else if (value.kind === 'floats') {
    for (const v of value.value) m.float(7, v);
    m.varint(20, ATTR.FLOATS);
  } else {
    m.message(5, encodeTensorInline('', value.data, value.dims)).varint(20, ATTR.TENSOR);
  }
  return m;
}

// ---------------------------------------------------------------------------------------
// Tensors

function tensorBytes(data: TensorData): Uint8Array {
  // Typed arrays are little-endian on every platform Node runs on, which is what raw_data wants.
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function tensorHeader(name: string, type: StoredType, dims: readonly number[]): PbMessage {
  const m = new PbMessage();
  for (const d of dims) m.varint(1, d);
  m.varint(2, ELEM_CODE[type]);
  if (name) m.string(8, name);
  return m;
}

function encodeTensorInline(name: string, data: TensorData, dims: readonly number[]): PbMessage {
  return tensorHeader(name, elemTypeOf(data), dims).bytes(9, tensorBytes(data));
}

// ---------------------------------------------------------------------------------------
// Graph and model builders

export type Dim = number | string;

interface ValueInfo {
  name: string;
  type: ElemType;
  shape: Dim[] | undefined;
}

interface Initializer {
  name: string;
  type: ElemType;
  dims: number[];
  data: LazyTensorData;
}

/** An initializer over bytes made elsewhere (`GraphBuilder.initializerBytes`). */
export interface ReferencedInitializer {
  name: string;
  type: StoredType;
  dims: number[];
  bytes: InitializerBytes;
}

interface Node {
  opType: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
  name: string;
  domain: string;
}

export class GraphBuilder {
  readonly inputs: ValueInfo[] = [];
  readonly outputs: ValueInfo[] = [];
  readonly initializers: Initializer[] = [];
  /** Initializers over given bytes (a checkpoint's), written after the made ones. */
  readonly referenced: ReferencedInitializer[] = [];
  readonly nodes: Node[] = [];
  private readonly names = new Set<string>();

  constructor(readonly name = 'main_graph') {}

  /** A graph input. `shape` entries are fixed sizes or symbolic names (dim_param); undefined leaves the shape unknown. */
  input(name: string, type: ElemType, shape?: Dim[]): string {
    this.inputs.push({ name, type, shape });
    return name;
  }

  output(name: string, type: ElemType, shape?: Dim[]): string {
    this.outputs.push({ name, type, shape });
    return name;
  }

  /**
   * A weight or constant. The element type comes from the array type (Uint16Array = float16);
   * a lazy initializer must say its type since its data does not exist yet.
   */
  initializer(name: string, data: LazyTensorData, dims: number[], type?: ElemType): string {
    if (this.names.has(name)) throw new Error(`duplicate initializer ${name}`);
    this.names.add(name);
    const elem = type ?? (typeof data === 'function' ? undefined : elemTypeOf(data));
    if (!elem) throw new Error(`initializer ${name}: a lazy initializer needs its element type`);
    if (typeof data !== 'function') {
      const count = dims.reduce((a, b) => a * b, 1);
      if (data.length !== count) throw new Error(`initializer ${name}: ${data.length} values for dims [${dims}]`);
    }
    this.initializers.push({ name, type: elem, dims, data });
    return name;
  }

  /**
   * A weight whose bytes are elsewhere: a range of a file (written as external data pointing at it,
   * at its own offset) or bytes given as they are. `type` and `dims` say how to read them.
   */
  initializerBytes(name: string, type: StoredType, dims: number[], bytes: InitializerBytes): string {
    if (this.names.has(name)) throw new Error(`duplicate initializer ${name}`);
    const size = GraphBuilder.byteLength({ type, dims });
    const length = 'file' in bytes ? bytes.length : bytes.bytes.byteLength;
    if (length !== size) throw new Error(`initializer ${name}: ${length} bytes where ${type} [${dims}] takes ${size}`);
    if ('file' in bytes && (!Number.isSafeInteger(bytes.offset) || bytes.offset < 0)) {
      throw new Error(`initializer ${name}: bad offset ${bytes.offset} in ${bytes.file}`);
    }
    this.names.add(name);
    this.referenced.push({ name, type, dims, bytes });
    return name;
  }

  hasInitializer(name: string): boolean {
    return this.names.has(name);
  }

  /** A node. Returns its output names so graphs read as `const [y] = g.node(...)`. */
  node(opType: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}, name = '', domain = ''): string[] {
    this.nodes.push({ opType, inputs, outputs, attrs, name, domain });
    return outputs;
  }

  /** Bytes an initializer will take. */
  static byteLength(init: { type: StoredType; dims: number[] }): number {
    return init.dims.reduce((a, b) => a * b, 1) * BYTES_PER_ELEM[init.type];
  }
}

function encodeValueInfo(v: ValueInfo): PbMessage {
  const tensorType = new PbMessage().varint(1, ELEM_CODE[v.type]);
  if (v.shape) {
    const shape = new PbMessage();
    for (const d of v.shape) {
      const dim = typeof d === 'number' ? new PbMessage().varint(1, d) : new PbMessage().string(2, d);
      shape.message(1, dim);
    }
    tensorType.message(2, shape);
  }
  return new PbMessage().string(1, v.name).message(2, new PbMessage().message(1, tensorType));
}

function encodeNode(n: Node): PbMessage {
  const m = new PbMessage();
  for (const i of n.inputs) m.string(1, i);
  for (const o of n.outputs) m.string(2, o);
  if (n.name) m.string(3, n.name);
  m.string(4, n.opType);
  for (const [k, v] of Object.entries(n.attrs)) m.message(5, encodeAttribute(k, v));
  if (n.domain) m.string(7, n.domain);
  return m;
}

export interface SerializeOptions {
  /**
   * Put initializers of at least `externalDataThreshold` bytes into one external file with
   * this name (relative to the model, e.g. `model.onnx_data`), as onnx.save_model with
   * all_tensors_to_one_file does for torch/optimum exports.
   */
  externalDataFile?: string;
  /** onnx's size_threshold: tensors of at least this many bytes go external. Default 1024, onnx's default. */
  externalDataThreshold?: number;
  /**
   * Align each external tensor's offset to this many bytes. Default 1: onnx's
   * save_external_data appends tensors back to back; 4096 gives page-aligned, mmap-friendly offsets.
   */
  externalDataAlignment?: number;
  /**
   * The `location` written for an initializer whose bytes lie in another file (`initializerBytes`
   * with a file). Default: the file's path as given. ORT resolves a location against the model's
   * folder and refuses one outside it, so a caller that writes the model elsewhere maps each
   * file onto a name it makes resolvable there (see docs/rendering.md, "Checkpoint graphs and external data").
   */
  locate?: (file: string) => string;
}

export interface SerializedModel {
  model: Uint8Array;
  externalData?: Uint8Array;
}

/** Where each external tensor lies in the data file; a LoRA merge patches these ranges. */
export interface ExternalTensorEntry {
  name: string;
  offset: number;
  length: number;
}

export class ModelBuilder {
  readonly graph: GraphBuilder;
  irVersion = 8;
  producerName = 'sd-prompt-testmodel';
  producerVersion = '1';
  /** opset imports: '' is the default ai.onnx domain. */
  readonly opsets = new Map<string, number>();

  constructor(opset = 17, graphName = 'main_graph') {
    this.graph = new GraphBuilder(graphName);
    this.opsets.set('', opset);
  }

  /**
   * Encode the model. With `externalDataFile` the big initializers are laid out in one blob.
   * `sink` receives the external bytes in order (for streaming); without a sink they are
   * collected into `externalData`.
   */
  private encode(
    opts: SerializeOptions,
    sink?: (bytes: Uint8Array) => void,
  ): { model: PbMessage; external: ExternalTensorEntry[]; externalChunks: Uint8Array[] } {
    const g = this.graph;
    const gm = new PbMessage();
    for (const n of g.nodes) gm.message(1, encodeNode(n));
    gm.string(2, g.name);
    const threshold = opts.externalDataThreshold ?? 1024;
    const align = Math.max(1, opts.externalDataAlignment ?? 1);
    const external: ExternalTensorEntry[] = [];
    const chunks: Uint8Array[] = [];
    let offset = 0;
    const all: (Initializer | ReferencedInitializer)[] = [...g.initializers, ...g.referenced];
    for (const init of all) {
      const size = GraphBuilder.byteLength(init);
      const header = tensorHeader(init.name, init.type, init.dims);
      if ('bytes' in init && 'file' in init.bytes) {
        // Key order location, offset, length is onnx's set_external_data order.
        const location = opts.locate ? opts.locate(init.bytes.file) : init.bytes.file;
        for (const [k, v] of [['location', location], ['offset', String(init.bytes.offset)], ['length', String(size)]]) {
          header.message(13, new PbMessage().string(1, k).string(2, v));
        }
        header.varint(14, 1); // data_location = EXTERNAL
        gm.message(5, header);
        continue;
      }
      let bytes: Uint8Array;
      if ('bytes' in init) {
        bytes = (init.bytes as { bytes: Uint8Array }).bytes;
      } else {
        const data = typeof init.data === 'function' ? init.data() : init.data;
        if (elemTypeOf(data) !== init.type || data.byteLength !== size) {
          throw new Error(`initializer ${init.name}: made ${data.byteLength} bytes of ${elemTypeOf(data)}, expected ${size} of ${init.type}`);
        }
        bytes = tensorBytes(data);
      }
      if (opts.externalDataFile && size >= threshold) {
        const pad = (align - (offset % align)) % align;
        if (pad) {
          const zeros = new Uint8Array(pad);
          if (sink) sink(zeros);
          else chunks.push(zeros);
          offset += pad;
        }
        // Key order location, offset, length is onnx's set_external_data order.
        for (const [k, v] of [['location', opts.externalDataFile], ['offset', String(offset)], ['length', String(size)]]) {
          header.message(13, new PbMessage().string(1, k).string(2, v));
        }
        header.varint(14, 1); // data_location = EXTERNAL
        if (sink) sink(bytes);
        else chunks.push(bytes);
        external.push({ name: init.name, offset, length: size });
        offset += size;
      } else {
        header.bytes(9, bytes);
      }
      gm.message(5, header);
    }
    for (const v of g.inputs) gm.message(11, encodeValueInfo(v));
    for (const v of g.outputs) gm.message(12, encodeValueInfo(v));

    const mm = new PbMessage().varint(1, this.irVersion).string(2, this.producerName).string(3, this.producerVersion);
    mm.message(7, gm);
    for (const [domain, version] of this.opsets) {
      const op = new PbMessage();
      if (domain) op.string(1, domain);
      op.varint(2, version);
      mm.message(8, op);
    }
    return { model: mm, external, externalChunks: chunks };
  }

  serialize(opts: SerializeOptions = {}): SerializedModel & { externalTensors: ExternalTensorEntry[] } {
    const { model, external, externalChunks } = this.encode(opts);
    const result: SerializedModel & { externalTensors: ExternalTensorEntry[] } = { model: model.toBytes(), externalTensors: external };
    if (opts.externalDataFile) {
      const total = externalChunks.reduce((a, c) => a + c.length, 0);
      const blob = new Uint8Array(total);
      let at = 0;
      for (const c of externalChunks) {
        blob.set(c, at);
        at += c.length;
      }
      result.externalData = blob;
    }
    return result;
  }

  /**
   * Write `modelPath` (and the external file beside it) without building either in one
   * buffer: an SD1.5-sized UNet's weights (3.4 GB fp32) exceed what one Node Buffer should hold.
   * The model itself must stay under protobuf's 2 GB limit, so big models need external data.
   */
  write(modelPath: string, opts: SerializeOptions = {}): { modelBytes: number; externalBytes: number; externalTensors: ExternalTensorEntry[] } {
    let externalBytes = 0;
    let fd: number | undefined;
    if (opts.externalDataFile) fd = fs.openSync(path.join(path.dirname(modelPath), opts.externalDataFile), 'w');
    try {
      const { model, external } = this.encode(opts, (bytes) => {
        fs.writeSync(fd as number, bytes);
        externalBytes += bytes.length;
      });
      const size = model.byteLength();
      if (size >= 2 ** 31) throw new Error(`${modelPath}: ${size} bytes is past protobuf's 2 GB limit; use external data`);
      const out = fs.openSync(modelPath, 'w');
      try {
        for (const part of model.parts) fs.writeSync(out, part);
      } finally {
        fs.closeSync(out);
      }
      return { modelBytes: size, externalBytes, externalTensors: external };
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Numbers
