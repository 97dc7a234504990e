import { LanguageClient } from 'vscode-languageclient/node';
import { RENDER_PROMPT_REQUEST, RenderPromptParams, RenderPromptResult } from '../../../common/src/protocol';

/** What Render Preview renders: the text with its dynamic-prompt variant chosen, and which variant that was. */
export interface PromptToRender {
  promptText: string;
  variant?: string;
  /** Why the text goes unchanged although the server was asked (an older server, an error there). */
  unresolved?: string;
}

/**
 * Asks the language server for the first image's variant of a file with dynamic prompts (`{red|blue}`,
 * `__wildcards__`) for the render's seed, as sd-dynamic-prompts picks it. A server that does not know the
 * request, or fails it, leaves the text as written: the render still happens, and the log says why.
 */
export async function promptToRender(client: LanguageClient, text: string, seed: number | undefined): Promise<PromptToRender> {
  const params: RenderPromptParams = seed === undefined ? { text } : { text, seed };
  try {
    const result = await client.sendRequest<RenderPromptResult | null>(RENDER_PROMPT_REQUEST, params);
    if (!result || typeof result.promptText !== 'string') return { promptText: text, unresolved: 'the language server sent no prompt text' };
    return result.variant ? { promptText: result.promptText, variant: result.variant } : { promptText: result.promptText };
  } catch (e) {
    return { promptText: text, unresolved: e instanceof Error ? e.message : String(e) };
  }
}

/** A new seed as A1111 picks one for -1 (`random.randrange(4294967294)`), chosen here so the variant and the render agree. */
export function newSeed(): number {
  return Math.floor(Math.random() * 4294967294);
}
