import { isActivationError, KNOWN_NETWORK_TYPES, loraActivation, ExtraNetworkTag } from '../../semantics/extraNetworks';
import { pyFloat, pyInt } from '../../semantics/pyNumbers';
import { PY_WORD } from '../../semantics/pyText';
import { Span } from '../../semantics/spans';
import { PromptSettings } from '../../settings';
import { PromptAnalysis, PromptDocument } from '../../syntax/document';
import { MAX_PROBLEMS_PER_CODE, Problem } from './problem';
import { closest } from './suggest';

const LORA_TYPES = new Set(['lora', 'lyco']);

/** Checks of extra-network tags: spelling, arguments, weights, duplicates, placement. */
export function checkTags(doc: PromptDocument, settings: PromptSettings, out: Problem[]): void {
  checkPart(doc, doc.positive, settings, out);
  if (doc.negative) {
    checkPart(doc, doc.negative, settings, out);
    for (const tag of doc.negative.tags) {
      if (!isKnownType(tag.type)) continue;
      out.push({
        code: 'tag-in-negative',
        severity: 'warning',
        span: tag.span,
        message: `A1111 does not apply ${tag.type} tags in the negative prompt: '${doc.text.slice(tag.span.start, tag.span.end)}' reaches the text encoder as plain text.`,
        fixes: [{ title: 'Remove the tag from the negative prompt', edits: [{ span: tag.span, newText: '' }] }],
      });
    }
  }
  checkDuplicates(doc.positive.tags, out);
}

function isKnownType(type: string): boolean {
  return (KNOWN_NETWORK_TYPES as readonly string[]).includes(type);
}

function checkPart(doc: PromptDocument, part: PromptAnalysis, settings: PromptSettings, out: Problem[]): void {
  for (const tag of part.tags) {
    if (!checkType(tag, out)) continue;
    checkName(tag, out);
    if (part.part.kind === 'positive' && LORA_TYPES.has(tag.type)) checkLoraArguments(tag, settings, out);
    if (part.part.kind === 'positive' && tag.type === 'hypernet') checkHypernetArguments(tag, out);
  }
  checkMalformedTags(part, out);
  checkCommentsInTags(doc, part, out);
}

/** False when the tag is not one A1111 will act on (so its arguments are not checked). */
function checkType(tag: ExtraNetworkTag, out: Problem[]): boolean {
  if (isKnownType(tag.type)) return true;
  const lower = tag.type.toLowerCase();
  if (isKnownType(lower)) {
    out.push({
      code: 'tag-type-case',
      severity: 'warning',
      span: tag.typeSpan,
      message: `'<${tag.type}:' is not '<${lower}:': tag types are case-sensitive, so A1111 removes this tag from the prompt and ignores it.`,
      fixes: [{ title: `Change to '${lower}'`, edits: [{ span: tag.typeSpan, newText: lower }], preferred: true }],
    });
    return false;
  }
  const suggestion = closest(tag.type, KNOWN_NETWORK_TYPES, 2);
  out.push({
    code: 'tag-type-unknown',
    severity: 'warning',
    span: tag.typeSpan,
    message: `Unknown extra-network type '${tag.type}': A1111 removes the tag and skips it ("Skipping unknown extra network")${
      suggestion ? `. Did you mean '${suggestion}'?` : '; only lora, lyco and hypernet are built in.'
    }`,
    fixes: suggestion ? [{ title: `Change to '${suggestion}'`, edits: [{ span: tag.typeSpan, newText: suggestion }] }] : undefined,
  });
  return false;
}

function checkName(tag: ExtraNetworkTag, out: Problem[]): void {
  const nameItem = tag.items.find((i) => i.key === undefined);
  if (!nameItem) return;
  const name = nameItem.text;
  const trimmed = name.trim();
  if (trimmed === '') {
    out.push({
      code: 'tag-name-empty',
      severity: 'warning',
      span: tag.span,
      message: `This ${tag.type} tag has no name: A1111 removes it and finds nothing to apply.`,
    });
    return;
  }
  if (trimmed !== name) {
    out.push({
      code: 'tag-name-whitespace',
      severity: 'warning',
      span: nameItem.span,
      message: `The name ${JSON.stringify(name)} has ${describeSpaces(name)}: A1111 looks it up exactly as written and will not find '${trimmed}'.`,
      fixes: [{ title: `Remove the spaces: '${trimmed}'`, edits: [{ span: nameItem.span, newText: trimmed }], preferred: true }],
    });
  }
}

function describeSpaces(name: string): string {
  const lead = /^\s/u.test(name);
  const trail = /\s$/u.test(name);
  if (/[\r\n]/.test(name)) return 'a line break in it';
  return lead && trail ? 'spaces around it' : lead ? 'a leading space' : 'a trailing space';
}

function checkLoraArguments(tag: ExtraNetworkTag, settings: PromptSettings, out: Problem[]): void {
  const activation = loraActivation(tag);
  if (isActivationError(activation) && activation.argument === 'name') {
    out.push({
      code: 'lora-weight-invalid',
      severity: 'error',
      span: tag.span,
      message: `This tag has only named arguments and no name: A1111 raises "${activation.error}" and then applies none of this generation's LoRAs.`,
    });
    return;
  }
  if (isActivationError(activation)) {
    const item = tag.items.find((i) => (i.value ?? i.text) === activation.item && i !== tag.items[0]) ?? tag.items[0];
    const span = item.valueSpan ?? item.span;
    const what = activation.argument === 'dyn' ? 'an integer' : 'a number';
    const shown = activation.item === '' ? 'An empty weight' : `'${activation.item}'`;
    out.push({
      code: 'lora-weight-invalid',
      severity: 'error',
      span: span.end > span.start ? span : tag.span,
      message: `${shown} is not ${what} (${activation.argument}): A1111 raises "${activation.error}" and then applies none of this generation's LoRAs.`,
    });
    return;
  }
  const { min, max } = settings.lora.weightRange;
  let checkedAny = false;
  for (const [index, item] of tag.items.entries()) {
    let role: 'te' | 'unet' | 'dyn' | undefined;
    let text: string;
    let span: Span;
    if (item.key !== undefined) {
      if (item.key !== 'te' && item.key !== 'unet' && item.key !== 'dyn') continue;
      role = item.key;
      text = item.value!;
      span = item.valueSpan!;
    } else {
      const positionalIndex = tag.items.slice(0, index + 1).filter((i) => i.key === undefined).length - 1;
      role = positionalIndex === 1 ? 'te' : positionalIndex === 2 ? 'unet' : positionalIndex === 3 ? 'dyn' : undefined;
      if (!role) continue;
      text = item.text;
      span = item.span;
    }
    if (role === 'dyn') {
      const dyn = pyInt(text)!;
      if (dyn < 1) {
        out.push({
          code: 'lora-dyn-range',
          severity: 'warning',
          span,
          message: `dyn ${dyn} keeps no rank: dyn is the number of the LoRA's ranks to use and must be 1 or more.`,
        });
      }
      continue;
    }
    checkedAny = true;
    const value = pyFloat(text)!;
    if (value < min || value > max) {
      const clamped = Math.min(max, Math.max(min, value));
      out.push({
        code: 'lora-weight-range',
        severity: 'warning',
        span,
        message: `${role === 'te' ? 'Weight' : 'UNet weight'} ${text.trim()} is ${value > max ? 'above' : 'below'} the usual range ${min} to ${max} (setting sdPrompt.lora.weightRange): A1111 applies it anyway, often with overcooked or broken results.`,
        fixes: [{ title: `Clamp to ${clamped}`, edits: [{ span, newText: String(clamped) }], preferred: true }],
      });
    }
  }
  if (checkedAny && activation.te === 0 && activation.unet === 0) {
    out.push({
      code: 'lora-weight-zero',
      severity: 'information',
      span: tag.span,
      message: `'${activation.name}' has weight 0 for both the text encoder and the UNet: A1111 loads it and it changes nothing.`,
    });
  }
}

function checkHypernetArguments(tag: ExtraNetworkTag, out: Problem[]): void {
  const item = tag.items[1];
  if (!item || pyFloat(item.text) !== undefined) return;
  out.push({
    code: 'lora-weight-invalid',
    severity: 'error',
    span: item.span.end > item.span.start ? item.span : tag.span,
    message: `'${item.text}' is not a number: A1111 raises a ValueError on this hypernetwork multiplier and the generation fails.`,
  });
}

/** `<lora:x` with no `>`, `< lora:x>`, `<lora :x>`, `<lora:>`: all stay literal text in A1111. */
function checkMalformedTags(part: PromptAnalysis, out: Problem[]): void {
  const text = part.stripped.text.text;
  const lookalike = new RegExp(`<(\\s*)(${PY_WORD}+)(\\s*):`, 'gu');
  const tagStarts = new Set(part.tags.map((t) => t.span.start));
  let reported = 0;
  for (const m of text.matchAll(lookalike)) {
    if (reported >= MAX_PROBLEMS_PER_CODE) break;
    const type = m[2];
    if (!isKnownType(type.toLowerCase())) continue;
    const start = part.stripped.text.toSource(m.index!);
    if (tagStarts.has(start)) continue;
    const afterColon = m.index! + m[0].length;
    const close = text.indexOf('>', afterColon);
    reported++;
    if (m[1] || m[3]) {
      const span = part.stripped.text.spanToSource(m.index!, close === -1 ? afterColon : close + 1);
      out.push({
        code: 'tag-malformed',
        severity: 'warning',
        span,
        message: `A1111 only recognizes tags written '<${type}:name:weight>' with no space after '<' or before ':': this stays literal text and the ${type} is not applied.`,
        fixes: [{ title: 'Remove the spaces', edits: [{ span: part.stripped.text.spanToSource(m.index!, afterColon), newText: `<${type}:` }] }],
      });
    } else if (close === -1) {
      out.push({
        code: 'tag-unclosed',
        severity: 'warning',
        span: part.stripped.text.spanToSource(m.index!, lineEnd(text, afterColon)),
        message: `This tag is never closed with '>': A1111 keeps it as literal text, so the ${type} is not applied and the text reaches the model.`,
      });
    } else if (close === afterColon) {
      out.push({
        code: 'tag-malformed',
        severity: 'warning',
        span: part.stripped.text.spanToSource(m.index!, close + 1),
        message: `An empty tag: A1111 needs at least a name after '<${type}:' and keeps this as literal text.`,
      });
    }
  }
}

function lineEnd(text: string, from: number): number {
  const nl = text.indexOf('\n', from);
  return nl === -1 ? text.length : nl;
}

/** A `#` inside a tag: comments are stripped first, so the tag loses its end. */
function checkCommentsInTags(doc: PromptDocument, part: PromptAnalysis, out: Problem[]): void {
  if (part.stripped.comments.length === 0) return;
  const raw = doc.text.slice(part.part.content.start, part.part.content.end);
  const re = new RegExp(`<(${PY_WORD}+):([^>]+)>`, 'gu');
  for (const m of raw.matchAll(re)) {
    const hash = m[0].indexOf('#');
    if (hash === -1) continue;
    const at = part.part.content.start + m.index! + hash;
    out.push({
      code: 'comment-in-tag',
      severity: 'warning',
      span: { start: at, end: at + 1 },
      message: `'#' starts a comment (A1111 1.8+ strips comments before reading tags): the rest of this line, including the tag's end, is removed.`,
      fixes: [{ title: "Remove the '#'", edits: [{ span: { start: at, end: at + 1 }, newText: '' }] }],
    });
  }
}

/** The same LoRA twice: A1111 applies the last tag's weight, twice. */
function checkDuplicates(tags: ExtraNetworkTag[], out: Problem[]): void {
  const byName = new Map<string, ExtraNetworkTag[]>();
  for (const tag of tags) {
    if (!LORA_TYPES.has(tag.type) || tag.positional.length === 0) continue;
    const name = tag.positional[0];
    const list = byName.get(name);
    if (list) list.push(tag);
    else byName.set(name, [tag]);
  }
  for (const [name, list] of byName) {
    if (list.length < 2) continue;
    const last = list[list.length - 1];
    const lastWeight = last.positional[1]?.trim() ?? '1';
    for (const tag of list.slice(1, MAX_PROBLEMS_PER_CODE + 1)) {
      out.push({
        code: 'lora-duplicate',
        severity: 'warning',
        span: tag.span,
        message: `'${name}' appears ${list.length} times: A1111 applies the last tag's weight (${lastWeight}) ${list.length} times, not each tag's own weight.`,
        fixes: [{ title: 'Remove this duplicate tag', edits: [{ span: tag.span, newText: '' }] }],
      });
    }
  }
}
