import { Uri, workspace } from 'vscode';
import { GenerationData, ImageDataError, readGenerationData } from '../../server/src/service/imageData';

/**
 * An image file's generation data for the editor features (open, drop, paste). The client reads
 * the bytes through workspace.fs (so remote and virtual workspaces work) and runs the service's
 * pure readers here: no round trip to the language server for a file it never sees.
 */
export const IMAGE_EXTENSIONS = ['png', 'jpg', 'jpeg', 'webp'];
const MAX_IMAGE_BYTES = 512 * 1024 * 1024;

export function isImageUri(uri: Uri): boolean {
  return IMAGE_EXTENSIONS.includes(uri.path.slice(uri.path.lastIndexOf('.') + 1).toLowerCase());
}

export type ImageResult = { data: GenerationData } | { error: string };

export async function generationDataOfFile(uri: Uri): Promise<ImageResult> {
  const name = uri.path.slice(uri.path.lastIndexOf('/') + 1);
  try {
    const stat = await workspace.fs.stat(uri);
    if (stat.size > MAX_IMAGE_BYTES) return { error: `${name} is ${Math.round(stat.size / 1024 / 1024)} MiB, over the 512 MiB limit for an image` };
    return generationDataOfBytes(name, await workspace.fs.readFile(uri));
  } catch (e) {
    return { error: `cannot read ${name}: ${(e as Error).message}` };
  }
}

export function generationDataOfBytes(name: string, bytes: Uint8Array): ImageResult {
  try {
    return { data: readGenerationData(bytes) };
  } catch (e) {
    return { error: `${name}: ${e instanceof ImageDataError ? e.message : `cannot read its generation data (${(e as Error).message})`}` };
  }
}
