/**
 * Importing generation data from 1,000 images (issue 17 item 4): `node out/bench/import.bench.js`.
 * Builds, in memory, 1,000 images of the kinds people import — A1111 PNGs (tEXt, 512×512 of
 * noisy pixels, so the IDAT is the size of a real render), ComfyUI PNGs with both graphs, A1111
 * JPEGs (piexif EXIF) — and prints the time `readGenerationData` takes over all of them, against
 * the baseline of only walking the same PNGs' chunks with their CRCs checked (what reading text
 * chunks cost before image data was skipped). Target: under 2 s for the 1,000. Numbers only.
 */
import { encodePng } from '../server/src/render/pipeline/png';
import { crc32 } from '../server/src/service/imageData/pngChunks';
import { readGenerationData } from '../server/src/service/imageData/generationData';

const COUNT = Number(process.env.IMAGES ?? 1000);
const SIDE = Number(process.env.SIDE ?? 512);

function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) | 0;
    out[i] = (s >>> 16) & 0xff;
  }
  return out;
}

function comfyGraph(i: number): string {
  return JSON.stringify({
    '3': { class_type: 'KSampler', inputs: { seed: i, steps: 20, cfg: 7, sampler_name: 'dpmpp_2m', scheduler: 'karras', denoise: 1, model: ['10', 0], positive: ['6', 0], negative: ['7', 0], latent_image: ['5', 0] } },
    '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'dreamshaper_8.safetensors' } },
    '5': { class_type: 'EmptyLatentImage', inputs: { width: 512, height: 512, batch_size: 1 } },
    '6': { class_type: 'CLIPTextEncode', inputs: { text: `a photo number ${i}, masterpiece`, clip: ['10', 1] } },
    '7': { class_type: 'CLIPTextEncode', inputs: { text: 'lowres', clip: ['10', 1] } },
    '10': { class_type: 'LoraLoader', inputs: { lora_name: 'detail.safetensors', strength_model: 0.8, strength_clip: 0.8, model: ['4', 0], clip: ['4', 1] } },
  });
}

function jpegWithUserComment(text: string): Buffer {
  const body = Buffer.from(text, 'utf16le').swap16();
  const comment = Buffer.concat([Buffer.from('UNICODE\0', 'latin1'), body]);
  const tiff = Buffer.alloc(8 + 18 + 18);
  tiff.write('MM', 0, 'latin1');
  tiff.writeUInt16BE(42, 2);
  tiff.writeUInt32BE(8, 4);
  tiff.writeUInt16BE(1, 8);
  tiff.writeUInt16BE(0x8769, 10);
  tiff.writeUInt16BE(4, 12);
  tiff.writeUInt32BE(1, 14);
  tiff.writeUInt32BE(26, 18);
  tiff.writeUInt16BE(1, 26);
  tiff.writeUInt16BE(0x9286, 28);
  tiff.writeUInt16BE(7, 30);
  tiff.writeUInt32BE(comment.length, 32);
  tiff.writeUInt32BE(44, 36);
  const app1 = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff, comment]);
  const head = Buffer.from([0xff, 0xd8, 0xff, 0xe1, 0, 0]);
  head.writeUInt16BE(app1.length + 2, 4);
  return Buffer.concat([head, app1, Buffer.from([0xff, 0xda, 0, 2]), Buffer.from(noise(SIDE * SIDE / 2, 7)), Buffer.from([0xff, 0xd9])]);
}

function walkWithCrc(png: Uint8Array): number {
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  let at = 8;
  let bad = 0;
  while (at + 12 <= buf.length) {
    const length = buf.readUInt32BE(at);
    if (crc32(buf.subarray(at + 4, at + 8 + length)) !== buf.readUInt32BE(at + 8 + length)) bad++;
    at += 12 + length;
  }
  return bad;
}

const pixels = noise(SIDE * SIDE * 3, 1);
const infotext = (i: number) => `masterpiece, (best quality:1.2), <lora:add_detail:0.8>, picture ${i}\nNegative prompt: lowres, bad hands\nSteps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: ${i}, Size: ${SIDE}x${SIDE}, Model: v1-5-pruned-emaonly`;
const a1111Png = encodePng(SIDE, SIDE, pixels, { parameters: infotext(1) });
const comfyPng = encodePng(SIDE, SIDE, pixels, { prompt: comfyGraph(1), workflow: '{"nodes": [], "links": []}' });
const a1111Jpeg = jpegWithUserComment(infotext(2));
const images: Uint8Array[] = [];
for (let i = 0; i < COUNT; i++) images.push(i % 3 === 0 ? a1111Png : i % 3 === 1 ? comfyPng : a1111Jpeg);
const totalMb = images.reduce((n, b) => n + b.length, 0) / 1024 / 1024;

for (const image of images.slice(0, 30)) readGenerationData(image); // warm-up

let t = process.hrtime.bigint();
let chars = 0;
for (const image of images) chars += readGenerationData(image).text.length;
const importMs = Number(process.hrtime.bigint() - t) / 1e6;

const pngs = images.filter((b) => b[0] === 0x89);
t = process.hrtime.bigint();
let bad = 0;
for (const image of pngs) bad += walkWithCrc(image);
const crcMs = Number(process.hrtime.bigint() - t) / 1e6;

console.log(`images: ${COUNT} (${SIDE}×${SIDE}; A1111 PNG, ComfyUI PNG, A1111 JPEG in turn), ${totalMb.toFixed(0)} MiB in memory`);
console.log(`import (readGenerationData): ${importMs.toFixed(0)} ms total, ${(importMs / COUNT).toFixed(3)} ms per image (target: under 2000 ms); ${chars} characters of .prompt`);
console.log(`baseline, walking the ${pngs.length} PNGs with every chunk's CRC checked: ${crcMs.toFixed(0)} ms (${bad} bad)`);
