import * as assert from 'assert';
import { attentionPairs, parseAttention } from '../../server/src/service/semantics/attention';
import { isActivationError, loraActivation } from '../../server/src/service/semantics/extraNetworks';
import { promptSchedule } from '../../server/src/service/semantics/schedule';
import { PromptAnalysis, parsePromptDocument } from '../../server/src/service/syntax/document';
import { readFixture } from './fixtures';

interface Side {
  after_extra_networks: string;
  extra_networks: { [type: string]: string[][] };
  lora_activation_args: unknown;
  multicond: [number, number][];
  subprompts: { text: string; schedule_len: number; schedule: { end_at_step: number; text: string; attention: unknown }[] }[];
}
interface PromptRecord {
  prompt: string;
  negative_prompt: string;
  params: string;
  steps: number;
  source: { path: string };
  a1111_positive: Side;
  a1111_negative: Side;
}

const json = (x: unknown) => JSON.parse(JSON.stringify(x));

/** Our analysis of one part, in the fixture's shape (A1111's pipeline order). */
function asA1111(analysis: PromptAnalysis, steps: number): Side {
  const extra: Side['extra_networks'] = {};
  for (const tag of analysis.tags) (extra[tag.type] ??= []).push(tag.items.map((i) => i.text));
  const loraTags = analysis.tags.filter((t) => t.type === 'lora');
  const activations = loraTags.map(loraActivation);
  const failed = activations.find(isActivationError);
  const seen = new Map<string, number>();
  const multicond: [number, number][] = analysis.subprompts.map(({ sub }) => {
    if (!seen.has(sub.text)) seen.set(sub.text, seen.size);
    return [seen.get(sub.text)!, sub.weight];
  });
  const unique = [...new Map(analysis.subprompts.map((s) => [s.sub.text, s])).values()];
  return {
    after_extra_networks: analysis.prompt.text,
    extra_networks: extra,
    lora_activation_args: failed
      ? { raises: 'ValueError', message: failed.error.replace(/^ValueError: /, '') }
      : activations.map((a) => (isActivationError(a) ? a : { name: a.name, te_multiplier: a.te, unet_multiplier: a.unet, dyn_dim: a.dyn })),
    multicond,
    subprompts: unique.map(({ sub }) => {
      const schedule = promptSchedule(sub.text, { baseSteps: steps });
      return {
        text: sub.text,
        schedule_len: schedule.length,
        schedule: schedule.slice(0, 6).map(([end_at_step, text]) => ({
          end_at_step,
          text,
          attention: attentionPairs(parseAttention(text)),
        })),
      };
    }),
  };
}

describe('55 real prompts: the whole file read as A1111 reads it', () => {
  const { records } = readFixture<{ records: PromptRecord[] }>('prompts/dflip3k_civitai_prompts.json');

  it('has 55 records', () => assert.strictEqual(records.length, 55));

  for (const r of records) {
    it(r.source.path, () => {
      const file = `${r.prompt}\nNegative prompt: ${r.negative_prompt}\n${r.params}\n`;
      const doc = parsePromptDocument(file);
      assert.ok(doc.sections.parameters, 'parameter line found');
      assert.ok(doc.negative, 'negative prompt found');
      const positive = json(asA1111(doc.positive, r.steps));
      assert.deepStrictEqual(positive, r.a1111_positive);
      // A1111 leaves tags in the negative prompt as text, so only its pipeline is compared;
      // the fixture has no A1111 record for empty (or "none") negative prompts.
      if (r.a1111_negative === null) {
        assert.strictEqual(doc.negative!.prompt.text, r.negative_prompt);
      } else {
        const negative = json(asA1111(doc.negative!, r.steps));
        assert.deepStrictEqual(negative.subprompts, r.a1111_negative.subprompts);
        assert.deepStrictEqual(negative.multicond, r.a1111_negative.multicond);
      }
    });
  }
});
