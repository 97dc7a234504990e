import * as fs from 'fs';

type Header = Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;

/**
 * Rewrites a safetensors file's header in place (tests of renamed or relabelled tensors): the data section is
 * kept byte for byte, the header re-padded to 8-byte alignment.
 */
export function rewriteHeader(file: string, edit: (header: Header) => Header): void {
  const data = fs.readFileSync(file);
  const headerLength = Number(data.readBigUInt64LE(0));
  const header = edit(JSON.parse(data.subarray(8, 8 + headerLength).toString('utf8')));
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  fs.writeFileSync(file, Buffer.concat([prefix, Buffer.from(json), data.subarray(8 + headerLength)]));
}

/** The same header with keys renamed by `rename` (undefined keeps a key). */
export function renameKeys(rename: (key: string) => string | undefined): (header: Header) => Header {
  return (header) => Object.fromEntries(Object.entries(header).map(([key, value]) => [rename(key) ?? key, value]));
}
