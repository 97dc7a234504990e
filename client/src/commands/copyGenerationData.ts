import { env, window } from 'vscode';
import { LanguageClient } from 'vscode-languageclient/node';
import { GENERATION_DATA_REQUEST, GenerationDataParams, GenerationDataResult } from '../../../common/src/protocol';

/**
 * Copy as Generation Data: the file as A1111 writes its infotext (comments stripped as A1111 strips
 * them), ready for A1111's "Read generation parameters" or an image site. Returns the copied text.
 */
export async function copyGenerationData(client: LanguageClient): Promise<string | undefined> {
  const editor = window.activeTextEditor;
  if (!editor || editor.document.languageId !== 'sd-prompt') return undefined;
  const params: GenerationDataParams = { text: editor.document.getText() };
  const { infotext } = await client.sendRequest<GenerationDataResult>(GENERATION_DATA_REQUEST, params);
  await env.clipboard.writeText(infotext);
  window.setStatusBarMessage('$(check) Copied the generation data', 3000);
  return infotext;
}
