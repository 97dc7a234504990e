import { AttentionPair } from '../service/semantics/attention';
import { explainPrompt, ExplainOptions } from '../service/semantics/a1111';
import { isActivationError } from '../service/semantics/extraNetworks';
import { PyFloat } from './pythonJson';

type Explained = ReturnType<typeof explainPrompt>;

/** The explanation with Python's float/int distinction restored, for `pythonJson`. */
export function explainForJson(text: string, options: ExplainOptions): unknown {
  const e: Explained = explainPrompt(text, options);
  const attention = (pairs: AttentionPair[] | { error: string }) =>
    Array.isArray(pairs) ? pairs.map((p) => [p[0], p.intWeight ? p[1] : new PyFloat(p[1])]) : pairs;
  const multicond = e.get_multicond_prompt_list;
  return {
    parse_prompt: e.parse_prompt,
    get_multicond_prompt_list: {
      res_indexes: multicond.res_indexes.map((list) => list.map(([i, w]) => [i, new PyFloat(w)])),
      prompt_flat_list: multicond.prompt_flat_list,
      // A Map keeps Python's dict order; a JS object would put keys like "5" first.
      prompt_indexes: new Map(multicond.prompt_flat_list.map((text, i) => [text, i])),
    },
    get_learned_conditioning_prompt_schedules: e.get_learned_conditioning_prompt_schedules,
    parse_prompt_attention: attention(e.parse_prompt_attention),
    pipeline: {
      lora_activation_args: e.pipeline.lora_activation_args.map((a) =>
        isActivationError(a)
          ? { error: a.error }
          : { name: a.name, te_multiplier: new PyFloat(a.te), unet_multiplier: new PyFloat(a.unet), dyn_dim: a.dyn },
      ),
      subprompts: e.pipeline.subprompts.map((s) => ({
        text: s.text,
        weight: new PyFloat(s.weight),
        schedule: Array.isArray(s.schedule) ? s.schedule.map((step) => ({ ...step, attention: attention(step.attention) })) : s.schedule,
      })),
    },
  };
}
