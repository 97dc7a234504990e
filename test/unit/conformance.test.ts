import * as assert from 'assert';
import {
  a1111MulticondPromptList,
  a1111ParsePrompt,
  a1111ParsePromptAttention,
  a1111PromptSchedules,
} from '../../server/src/service/semantics/a1111';
import { isActivationError, loraActivation } from '../../server/src/service/semantics/extraNetworks';
import { readFixture } from './fixtures';

interface Case {
  function: string;
  input: any;
  args: any;
  expected: any;
  actual_runtime_output?: any;
  lora_activation_args?: any[];
}

/** Plain JSON form (drops the intWeight marker arrays carry). */
const json = (x: unknown) => JSON.parse(JSON.stringify(x));

function run(c: Case): unknown {
  switch (c.function) {
    case 'parse_prompt_attention':
      return a1111ParsePromptAttention(c.input);
    case 'get_learned_conditioning_prompt_schedules':
      return a1111PromptSchedules(c.input, {
        baseSteps: c.args.base_steps,
        hiresSteps: c.args.hires_steps,
        useOldScheduling: c.args.use_old_scheduling,
      });
    case 'get_multicond_prompt_list':
      return a1111MulticondPromptList(c.input);
    case 'extra_networks.parse_prompt':
      return a1111ParsePrompt(c.input);
    case 'extra_networks.parse_prompts': {
      // A1111 keeps the extra-network data of the first prompt only.
      const parsed = (c.input as string[]).map(a1111ParsePrompt);
      return { prompts: parsed.map((p) => p.prompt), extra_networks: parsed[0].extra_networks };
    }
    default:
      throw new Error(`no runner for ${c.function}`);
  }
}

describe('A1111 conformance: every fixture record', () => {
  const parser = readFixture<{ doctest_cases: Case[]; generated_cases: Case[] }>('a1111/prompt_parser_cases.json');
  const networks = readFixture<{ cases: Case[] }>('a1111/extra_networks_cases.json');
  const all = [...parser.doctest_cases, ...parser.generated_cases, ...networks.cases];

  it('has the records the README promises', () => {
    assert.strictEqual(all.length, 99);
  });

  for (const c of all) {
    it(`${c.function}(${JSON.stringify(c.input)}, ${JSON.stringify(c.args)})`, () => {
      const expected = 'actual_runtime_output' in c ? c.actual_runtime_output : c.expected;
      assert.deepStrictEqual(json(run(c)), expected);
      if (c.lora_activation_args) {
        const lora = (a1111ParsePrompt(c.input).extra_networks.lora ?? []).map((p) => loraActivation(p));
        const got = lora.map((a) =>
          isActivationError(a)
            ? { error: a.error, items: a1111ParsePrompt(c.input).extra_networks.lora!.find((p) => p.items.includes(a.item))!.items }
            : { name: a.name, te_multiplier: a.te, unet_multiplier: a.unet, dyn_dim: a.dyn },
        );
        assert.deepStrictEqual(got, c.lora_activation_args);
      }
    });
  }
});
