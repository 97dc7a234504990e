import { ExtraNetworkTag } from '../../semantics/extraNetworks';
import { pyFloat } from '../../semantics/pyNumbers';
import { PromptSettings } from '../../settings';
import { PromptDocument } from '../../syntax/document';
import { PromptLibrary } from '../../library';
import { BaseModel, baseModelOfName } from '../../library/modelBase';
import { MAX_PROBLEMS_PER_CODE, Problem } from './problem';
import { closestName } from './suggest';
import { selectedCheckpoint } from './modelChecks';

const LORA_TYPES = new Set(['lora', 'lyco']);

/** Checks that need the user's LoRA folders: names, files, base models, trigger words, totals. */
export function checkLibrary(doc: PromptDocument, settings: PromptSettings, library: PromptLibrary | undefined, out: Problem[]): void {
  const catalog = library?.catalog;
  if (!catalog?.ready) return;
  const tags = doc.positive.tags.filter((t) => LORA_TYPES.has(t.type) && t.positional.length > 0);
  const model = modelInUse(doc, library!);
  const promptText = doc.positive.prompt.text.toLowerCase();
  let reported = 0;
  if (catalog.hasFolders('lora')) {
    for (const tag of tags) {
      if (reported++ >= MAX_PROBLEMS_PER_CODE) break;
      checkLoraTag(tag, library!, model, promptText, out);
    }
  }
  if (catalog.hasFolders('hypernet')) {
    for (const tag of doc.positive.tags.filter((t) => t.type === 'hypernet')) {
      const name = tag.items[0].text;
      if (catalog.resolveHypernet(name)) continue;
      const suggestion = closestName(name, catalog.list('hypernet').map((e) => e.name));
      out.push({
        code: 'hypernet-unknown',
        severity: 'warning',
        span: tag.items[0].span,
        message: `No hypernetwork named '${name}' in your folders: A1111 skips it.${suggestion ? ` Did you mean '${suggestion}'?` : ''}`,
        fixes: suggestion ? [{ title: `Change to '${suggestion}'`, edits: [{ span: tag.items[0].span, newText: suggestion }], preferred: true }] : undefined,
      });
    }
  }
  checkTotalWeight(tags, settings, out);
}

function checkLoraTag(tag: ExtraNetworkTag, library: PromptLibrary, model: { base: BaseModel; source: string } | undefined, promptText: string, out: Problem[]) {
  const { catalog } = library;
  const nameItem = tag.items.find((i) => i.key === undefined)!;
  const name = nameItem.text;
  const span = nameItem.span;
  if (/[\\/]/.test(name)) {
    const base = name.split(/[\\/]/).pop()!;
    const found = catalog.resolveLora(base);
    out.push({
      code: 'lora-subfolder',
      severity: 'warning',
      span,
      message: `A1111 names LoRAs by file name only, without folders: '${name}' is not found${found ? `; write '${base}'` : ''}.`,
      fixes: found ? [{ title: `Change to '${base}'`, edits: [{ span, newText: base }], preferred: true }] : undefined,
    });
    return;
  }
  const entry = catalog.resolveLora(name);
  if (!entry) {
    if (name.trim() !== name || name === '') return; // reported by the syntax checks already
    const candidates = catalog.list('lora').flatMap((e) => [e.name, ...(e.details.alias && e.details.alias !== e.name ? [e.details.alias] : [])]);
    const suggestion = closestName(name, candidates);
    out.push({
      code: 'lora-unknown',
      severity: 'warning',
      span,
      message: `No LoRA named '${name}' in your LoRA folders: A1111 skips it ("networks not found").${suggestion ? ` Did you mean '${suggestion}'?` : ''}`,
      fixes: suggestion ? [{ title: `Change to '${suggestion}'`, edits: [{ span, newText: suggestion }], preferred: true }] : undefined,
    });
    return;
  }
  if (catalog.isAmbiguousAlias(name)) {
    const files = catalog.filesWithAlias(name);
    out.push({
      code: 'lora-alias-ambiguous',
      severity: 'warning',
      span,
      message: `${files.length} files share the alias '${name}' (${files.map((f) => f.name).join(', ')}): A1111 loads the last one it scanned, '${entry.name}'. Write a file name to choose.`,
      fixes: files.map((f) => ({ title: `Use '${f.name}'`, edits: [{ span, newText: f.name }] })),
    });
  }
  if (entry.pickle) {
    out.push({
      code: 'lora-pickle',
      severity: 'warning',
      span,
      message: `'${entry.name}${entry.extension}' is a Python pickle: opening it can run any code in it. sd-prompt never opens it; prefer a .safetensors version.`,
    });
    return;
  }
  const problem = library.problem(entry);
  if (problem) {
    out.push({ code: 'lora-unreadable', severity: 'warning', span, message: `'${entry.path}' is not a readable LoRA: ${problem}.` });
    return;
  }
  // Checks that need the file's card wait for it: the library reports a change once it is read.
  const card = library.card(entry);
  if (!card) return;
  if (card.keyStyle === 'peft' || card.keyStyle === 'diffusers-attn-processor') {
    out.push({
      code: 'lora-key-style',
      severity: 'warning',
      span,
      message: `'${entry.name}' stores ${card.keyStyle === 'peft' ? 'PEFT/diffusers' : 'diffusers attention-processor'} keys: A1111 loads it and silently applies nothing. It works in ComfyUI and in sd-prompt's renderer.`,
    });
  } else if (card.keyStyle === 'cloneofsimo') {
    out.push({
      code: 'lora-key-style',
      severity: 'warning',
      span,
      message: `'${entry.name}' is in cloneofsimo's early LoRA format, which A1111 cannot apply.`,
    });
  }
  if (model && isSdBase(card.baseModel) && isSdBase(model.base) && card.baseModel !== model.base) {
    out.push({
      code: 'lora-base-model',
      severity: 'warning',
      span,
      message: `'${entry.name}' was trained for ${card.baseModel}, but the model in use is ${model.base} (${model.source}): its weights do not fit, so A1111 skips it or it does nothing useful.`,
    });
  }
  const triggers = card.triggerWords.map((t) => t.word).filter((w) => w.trim() !== '');
  if (triggers.length && !triggers.some((w) => promptText.includes(w.toLowerCase()))) {
    const strong = card.triggerWords.filter((t) => t.source !== 'tag frequency').map((t) => t.word);
    const insert = (strong.length ? strong : triggers).slice(0, 3);
    out.push({
      code: 'lora-trigger-missing',
      severity: 'hint',
      span,
      message: `None of '${entry.name}''s trigger words is in the prompt (${triggers.slice(0, 5).join(', ')}): many LoRAs do little without them.`,
      fixes: [{ title: `Insert trigger words: ${insert.join(', ')}`, edits: [{ span: { start: tag.span.end, end: tag.span.end }, newText: `, ${insert.join(', ')}` }] }],
    });
  }
}

function isSdBase(base: BaseModel): boolean {
  return base === 'SD1' || base === 'SD2' || base === 'SDXL';
}

function modelInUse(doc: PromptDocument, library: PromptLibrary): { base: BaseModel; source: string } | undefined {
  // The checkpoint the parameter line selects is what A1111 would load, whatever sdPrompt.model says.
  const selected = selectedCheckpoint(doc, library);
  if (selected) return { base: selected.base, source: selected.source };
  if (library.modelBase !== 'unknown' && library.modelBase !== 'other') return { base: library.modelBase, source: 'sdPrompt.model' };
  const model = doc.sections.parameters?.entries.find((e) => e.key === 'Model');
  if (!model) return undefined;
  const base = baseModelOfName(model.value);
  return base === 'unknown' ? undefined : { base, source: `Model: ${model.value}` };
}

function checkTotalWeight(tags: ExtraNetworkTag[], settings: PromptSettings, out: Problem[]) {
  const cap = settings.lora.maxTotalWeight;
  if (!(cap > 0) || tags.length === 0) return;
  let total = 0;
  for (const tag of tags) total += Math.abs(pyFloat(tag.positional[1] ?? '1') ?? 0);
  if (total <= cap) return;
  const last = tags[tags.length - 1];
  out.push({
    code: 'lora-weight-sum',
    severity: 'warning',
    span: last.span,
    message: `The LoRA weights of this prompt add up to ${Math.round(total * 1000) / 1000}, above sdPrompt.lora.maxTotalWeight (${cap}): stacked LoRAs this strong usually overcook the image.`,
  });
}
