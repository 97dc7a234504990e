import { SafetensorsTensor } from '../../service/library/safetensors';
import { TensorIndex } from './familyDetection';

/**
 * The key renames A1111 applies to every checkpoint before loading it (modules/sd_models.py,
 * get_state_dict_from_checkpoint), so the files it loads load here too:
 * - SD1 files saved with an older transformers lack `text_model.` under `cond_stage_model.transformer.`;
 * - SD 2.1 Turbo is saved in SGM layout: its OpenCLIP-H sits under `conditioner.embedders.0.` (recognised, as
 *   A1111 does, by a 1024-wide `conditioner.embedders.0.model.ln_final.weight`) and moves to `cond_stage_model.`.
 * Only names change; each tensor keeps its byte range.
 */
const SD1_RENAMES: [string, string][] = [
  ['cond_stage_model.transformer.embeddings.', 'cond_stage_model.transformer.text_model.embeddings.'],
  ['cond_stage_model.transformer.encoder.', 'cond_stage_model.transformer.text_model.encoder.'],
  ['cond_stage_model.transformer.final_layer_norm.', 'cond_stage_model.transformer.text_model.final_layer_norm.'],
];
const SD2_TURBO_RENAMES: [string, string][] = [['conditioner.embedders.0.', 'cond_stage_model.']];

export function a1111KeyNames(tensors: TensorIndex): TensorIndex {
  const turbo = tensors.get('conditioner.embedders.0.model.ln_final.weight')?.shape[0] === 1024;
  const renames = turbo ? SD2_TURBO_RENAMES : SD1_RENAMES;
  let renamed: Map<string, SafetensorsTensor> | undefined;
  for (const [key, tensor] of tensors) {
    const rule = renames.find(([from]) => key.startsWith(from));
    if (rule === undefined) continue;
    renamed ??= new Map(tensors);
    const name = rule[1] + key.slice(rule[0].length);
    renamed.delete(key);
    renamed.set(name, { ...tensor, name });
  }
  return renamed ?? tensors;
}
