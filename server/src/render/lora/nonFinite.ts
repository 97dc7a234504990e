import { LoraModule, splitTensorKey } from './loraKeys';
import type { LoraTensor } from './loraTensors';

/**
 * NaN and Inf in a LoRA. One such value in a factor spreads through its product to a whole weight,
 * and from there through the UNet to every pixel: the render is black and nothing says why (A1111
 * merges it as well). So such a LoRA is refused as a whole, with the module and tensor named, and the
 * other LoRAs of the render are still merged.
 */
const maxAbsOf = new WeakMap<Float32Array, number>();

/**
 * The largest |value|, Infinity when there is a NaN or an Inf. Kept per array: the check of a file's
 * factors when it is read gives the merge its bound on their product without another pass, and a kept
 * delta is looked at once.
 */
export function maxAbs(data: Float32Array): number {
  let max = maxAbsOf.get(data);
  if (max !== undefined) return max;
  max = 0;
  for (let i = 0; i < data.length; i++) {
    const v = Math.abs(data[i]);
    if (v > max) max = v;
    else if (v !== v) {
      max = Infinity;
      break;
    }
  }
  maxAbsOf.set(data, max);
  return max;
}

/**
 * The refusal of a module with a NaN/Inf value in one of its tensors, naming the module as the file
 * does and the tensor (`lora_unet_…_to_k has NaN/Inf values in lora_up.weight`); undefined
 * when all are finite. `names` are the module's tensor keys (the unresolved module).
 */
export function nonFiniteTensor(module: LoraModule<LoraTensor>, names: LoraModule<string>['tensors']): string | undefined {
  for (const [role, tensor] of Object.entries(module.tensors) as [keyof typeof names, LoraTensor][]) {
    if (maxAbs(tensor.data) < Infinity) continue;
    return nonFiniteMessage(names[role] ?? `${module.module}.${role}`);
  }
  return undefined;
}

export function nonFiniteMessage(key: string): string {
  const { module, suffix } = splitTensorKey(key);
  return suffix ? `${module} has NaN/Inf values in ${suffix}` : `${key} has NaN/Inf values`;
}

/** The refusal of a module whose factors are finite but whose ΔW (times the tag's multiplier) is not. */
export function overflowMessage(module: LoraModule<LoraTensor>, multiplier: number, limit: 'fp32' | 'fp16'): string {
  const key = module.sourceKeys[0];
  const name = key === undefined ? `${module.component}:${module.module}` : splitTensorKey(key).module;
  return `${name}: its weight change${multiplier === 1 ? '' : ` at multiplier ${multiplier}`} overflows ${limit} to NaN/Inf values`;
}
