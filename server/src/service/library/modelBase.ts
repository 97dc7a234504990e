import { joinPath, LibraryFileSystem } from './fileSystem';

export type BaseModel = 'SD1' | 'SD2' | 'SDXL' | 'other' | 'unknown';

/**
 * The base model of the model in use, from a diffusers folder (`sdPrompt.model`): the UNet's
 * cross-attention width says it (768 SD1, 1024 SD2, 2048 SDXL), or the pipeline class.
 */
export async function baseModelOfFolder(fs: LibraryFileSystem, folder: string): Promise<BaseModel> {
  try {
    const config = JSON.parse(await fs.readText(joinPath(folder, 'unet/config.json')));
    const width = Array.isArray(config.cross_attention_dim) ? config.cross_attention_dim[0] : config.cross_attention_dim;
    if (width === 768) return 'SD1';
    if (width === 1024) return 'SD2';
    if (width === 2048) return 'SDXL';
  } catch {
    // fall through to model_index.json
  }
  try {
    const index = JSON.parse(await fs.readText(joinPath(folder, 'model_index.json')));
    const cls = String(index._class_name ?? '');
    if (/XL/.test(cls)) return 'SDXL';
    if (/StableDiffusion/.test(cls)) return 'unknown';
  } catch {
    // not a diffusers folder
  }
  return 'unknown';
}

/**
 * The base model suggested by a checkpoint name on the parameter line (`Model: ...`). Names
 * are free text, so only unmistakable markers count; anything else is unknown.
 */
export function baseModelOfName(name: string): BaseModel {
  const n = name.toLowerCase();
  if (/(^|[^a-z])(sdxl|xl|pony|illustrious|noobai)([^a-z]|$)/.test(n) || /sd_xl|sdxl/.test(n)) return 'SDXL';
  if (/v1-5|v1\.5|sd15|sd-1-5|sd1\.5|v1-4/.test(n)) return 'SD1';
  if (/v2-1|v2\.1|sd21|768-v|v2-0|sd2/.test(n)) return 'SD2';
  return 'unknown';
}
