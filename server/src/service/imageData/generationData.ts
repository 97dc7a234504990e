import { readPngInfo } from './pngChunks';
import { apiGraph, uiGraph } from './comfyWorkflow';
import { comfyToPrompt } from './comfyPrompt';
import { parseExactJson } from './exactJson';
import { decodeUserComment, decodeUtf16, ExifText, readExifText, trimNuls } from './exif';
import { formatPromptFile, splitA1111Text } from './infotext';
import { invokeAiToPrompt } from './invokeai';
import { isJpeg, readJpegMetadata } from './jpeg';
import { novelAiToPrompt } from './novelai';
import { GenerationData, GenerationParts, GenerationSource, ImageContainer, ImageDataError } from './types';
import { isWebp, readWebpMetadata } from './webp';
import { readXmpText } from './xmp';

/**
 * An image's generation data, whichever tool wrote it and wherever: PNG text chunks
 * (A1111 `parameters`, ComfyUI `prompt`/`workflow`, NovelAI `Comment`, InvokeAI
 * `invokeai_metadata`), JPEG/WebP EXIF (UserComment as A1111 writes it, ImageDescription,
 * XPComment, ComfyUI's `prompt:` Model tag) and XMP. Throws ImageDataError: kind 'unreadable'
 * for a file that is not a readable image (with the byte where it broke), 'none' for an image
 * with no generation data (naming what it does hold).
 */
export function readGenerationData(bytes: Uint8Array): GenerationData {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return fromPng(bytes);
  if (isJpeg(bytes)) {
    const meta = readJpegMetadata(bytes);
    return fromExifAndXmp('jpeg', meta.exif, meta.xmp, meta.comments);
  }
  if (isWebp(bytes)) {
    const meta = readWebpMetadata(bytes);
    return fromExifAndXmp('webp', meta.exif, meta.xmp, []);
  }
  throw new ImageDataError('not a PNG, JPEG or WebP image (unknown signature)', 'unreadable');
}

function fromPng(bytes: Uint8Array): GenerationData {
  let text: Record<string, string>;
  try {
    text = Object.fromEntries(Object.entries(readPngInfo(bytes).text).map(([k, v]) => [k, utf8IfValid(v)]));
  } catch (e) {
    throw new ImageDataError((e as Error).message, 'unreadable');
  }
  if (text.parameters !== undefined && text.parameters.trim() !== '') return fromText('png', text.parameters);
  const comfy = fromComfyChunks(text.prompt, text.workflow);
  if (comfy) return build('comfyui', 'png', comfy);
  if (text.Comment !== undefined && ((text.Software ?? '').startsWith('NovelAI') || text.Comment.includes('"uc"'))) {
    return build('novelai', 'png', guard(() => novelAiToPrompt(text.Description, text.Comment)));
  }
  if (text.invokeai_metadata !== undefined) return build('invokeai', 'png', guard(() => invokeAiToPrompt(text.invokeai_metadata)));
  const keys = Object.keys(text);
  throw new ImageDataError(`PNG has no generation data${keys.length ? ` (its text chunks: ${keys.join(', ')})` : ' (no text chunks)'}`, 'none');
}

function fromComfyChunks(prompt: string | undefined, workflow: string | undefined): GenerationParts | undefined {
  const problems: string[] = [];
  for (const [chunk, toGraph] of [
    [prompt, apiGraph],
    [workflow, uiGraph],
  ] as const) {
    if (chunk === undefined) continue;
    let json: unknown;
    try {
      json = parseExactJson(chunk);
    } catch (e) {
      problems.push(`ComfyUI ${toGraph === apiGraph ? 'prompt' : 'workflow'} JSON is broken (${(e as Error).message})`);
      continue;
    }
    const graph = toGraph(json);
    if (Object.keys(graph).length === 0) continue;
    const parts = comfyToPrompt(graph);
    parts.notes.unshift(...problems);
    return parts;
  }
  if (problems.length) throw new ImageDataError(problems.join('; '), 'unreadable');
  return undefined;
}

function fromExifAndXmp(container: ImageContainer, exifBlock: Uint8Array | undefined, xmp: string | undefined, comments: string[]): GenerationData {
  const where = container === 'jpeg' ? 'JPEG' : 'WebP';
  let exif: ExifText | undefined;
  if (exifBlock) exif = readExifText(exifBlock, where);
  const candidates: string[] = [];
  if (exif?.userComment && exif.userComment.length > 0) candidates.push(decodeUserComment(exif.userComment, exif.littleEndian));
  if (exif?.model) {
    const model = ascii(exif.model);
    if (model.startsWith('prompt:')) {
      const workflow = exif.make && ascii(exif.make).startsWith('workflow:') ? ascii(exif.make).slice('workflow:'.length) : undefined;
      const comfy = fromComfyChunks(model.slice('prompt:'.length), workflow);
      if (comfy) return build('comfyui', container, comfy);
    }
  }
  if (exif?.imageDescription) candidates.push(ascii(exif.imageDescription));
  if (exif?.xpComment) candidates.push(trimNuls(decodeUtf16(Buffer.from(exif.xpComment), true)));
  if (xmp) {
    const found = readXmpText(xmp);
    if (found) candidates.push(found.text);
  }
  candidates.push(...comments);
  const text = candidates.find((c) => c.trim() !== '');
  if (text !== undefined) return fromText(container, text);
  const held = [exifBlock && 'EXIF without a text field', xmp && 'XMP without exif:UserComment or dc:description'].filter((h) => h);
  throw new ImageDataError(`${where} has no generation data${held.length ? ` (${held.join('; ')})` : ' (no EXIF or XMP)'}`, 'none');
}

/** A text found in a chunk or tag: a ComfyUI graph when it is one, else A1111's infotext. */
function fromText(container: ImageContainer, text: string): GenerationData {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    const comfy = (() => {
      try {
        return fromComfyChunks(trimmed.includes('"class_type"') ? trimmed : undefined, trimmed.includes('"nodes"') ? trimmed : undefined);
      } catch {
        return undefined;
      }
    })();
    if (comfy) return build('comfyui', container, comfy);
  }
  const normalized = text.replace(/\r\n?/g, '\n');
  const { prompt, negativePrompt, parameters } = splitA1111Text(normalized);
  return { source: 'a1111', container, prompt, negativePrompt, parameters, notes: [], text: normalized };
}

function build(source: GenerationSource, container: ImageContainer, parts: GenerationParts): GenerationData {
  const { text, parameters } = formatPromptFile(parts);
  return { source, container, prompt: parts.prompt, negativePrompt: parts.negativePrompt, parameters, notes: parts.notes, text };
}

function guard(read: () => GenerationParts): GenerationParts {
  try {
    return read();
  } catch (e) {
    throw new ImageDataError((e as Error).message, 'unreadable');
  }
}

function ascii(bytes: Uint8Array): string {
  return trimNuls(Buffer.from(bytes).toString('utf8'));
}

/**
 * tEXt and zTXt are Latin-1 by the PNG spec (and PIL reads them so), but many tools write UTF-8
 * bytes there: text whose Latin-1 bytes are valid UTF-8 with non-ASCII sequences is that, and is
 * shown as the characters the tool meant rather than as mojibake.
 */
function utf8IfValid(text: string): string {
  if (!/[\u0080-\u00ff]/.test(text) || /[^\u0000-\u00ff]/.test(text)) return text;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(text, 'latin1'));
  } catch {
    return text;
  }
}
