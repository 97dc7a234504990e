import * as path from 'path';
import { checkpointShortHash } from './checkpointModel';

/**
 * What A1111's infotext says of a separately loaded VAE (processing.py create_infotext): `VAE hash:` the first
 * 10 hex of the file's sha256 (sd_vae.get_loaded_vae_hash) and `VAE:` its file name with extension
 * (get_loaded_vae_name, `os.path.basename(loaded_vae_file)`). The hash is computed once per file version.
 */
export async function vaeInfotext(file: string): Promise<{ name: string; hash: string }> {
  return { name: path.basename(file), hash: await checkpointShortHash(file) };
}
