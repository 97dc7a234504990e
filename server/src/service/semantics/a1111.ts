import { attentionPairs, AttentionPair, parseAttention } from './attention';
import { stripCommentsText } from './comments';
import { loraActivation, parseExtraNetworks } from './extraNetworks';
import { multicondPromptList, MulticondResult } from './multicond';
import { parseSchedule, promptSchedule, Schedule, scheduleOverflow, ScheduleOptions } from './schedule';
import { MappedText } from './spans';

/**
 * A1111's prompt functions on plain text, with its return values in the JSON shapes of the
 * reference fixtures. `sd-prompt explain` and the conformance tests use these.
 */

export interface ExtraNetworkParamsJson {
  items: string[];
  positional: string[];
  named: Record<string, string>;
}

/** `extra_networks.parse_prompt(prompt)` → `{prompt, extra_networks: {type: [params]}}`. */
export function a1111ParsePrompt(prompt: string): { prompt: string; extra_networks: Record<string, ExtraNetworkParamsJson[]> } {
  const parsed = parseExtraNetworks(MappedText.identity(prompt, 0));
  const extra_networks: Record<string, ExtraNetworkParamsJson[]> = {};
  for (const tag of parsed.tags) {
    (extra_networks[tag.type] ??= []).push({
      items: tag.items.map((i) => i.text),
      positional: tag.positional,
      named: tag.named,
    });
  }
  return { prompt: parsed.prompt.text, extra_networks };
}

export function a1111MulticondPromptList(prompts: string[]): MulticondResult {
  return multicondPromptList(prompts);
}

/** The schedules, or the error A1111 raises (a step number like 1e999 overflows `int()`). */
export function a1111PromptSchedules(prompt: string, options: ScheduleOptions): Schedule | { error: string } {
  const parse = parseSchedule(prompt);
  if (scheduleOverflow(parse)) return { error: 'OverflowError: cannot convert float infinity to integer' };
  return promptSchedule(prompt, options, parse);
}

export function a1111ParsePromptAttention(text: string): AttentionPair[] | { error: string } {
  return attentionPairs(parseAttention(text));
}

export interface ExplainOptions extends ScheduleOptions {}

/**
 * What `sd-prompt explain` prints: each A1111 function applied to the (comment-stripped)
 * text, plus `pipeline`, the order A1111 really runs them in for a generation.
 */
export function explainPrompt(raw: string, options: ExplainOptions) {
  const text = stripCommentsText(raw);
  const parsed = a1111ParsePrompt(text);
  const multicond = multicondPromptList([parsed.prompt]);
  const loras = Object.entries(parsed.extra_networks)
    .filter(([type]) => type === 'lora' || type === 'lyco')
    .flatMap(([, list]) => list.map((p) => loraActivation(p)));
  return {
    parse_prompt: parsed,
    get_multicond_prompt_list: multicondPromptList([text]),
    get_learned_conditioning_prompt_schedules: a1111PromptSchedules(text, options),
    parse_prompt_attention: a1111ParsePromptAttention(text),
    pipeline: {
      lora_activation_args: loras,
      subprompts: multicond.res_indexes[0].map(([index, weight]) => {
        const subText = multicond.prompt_flat_list[index];
        return {
          text: subText,
          weight,
          schedule: scheduleSteps(subText, options),
        };
      }),
    },
  };
}

function scheduleSteps(text: string, options: ScheduleOptions) {
  const schedule = a1111PromptSchedules(text, options);
  if (!Array.isArray(schedule)) return schedule;
  return schedule.map(([end_at_step, stepText]) => ({ end_at_step, text: stepText, attention: a1111ParsePromptAttention(stepText) }));
}
