import { TextDocument, Uri, window, workspace } from 'vscode';
import { dialogs } from '../dialogs';
import { generationDataOfFile, IMAGE_EXTENSIONS } from '../imageGenerationData';

/**
 * Open Generation Data from Image…: the image's generation data (A1111, ComfyUI, NovelAI or
 * InvokeAI; PNG, JPEG or WebP) as an untitled `.prompt`. From the Explorer's context menu the
 * image is the one clicked; otherwise a file dialog asks. An image without data, or a file that
 * is not an image, gets an error naming the file and why. Returns the opened document (tests).
 */
export async function openGenerationDataFromImage(target?: Uri): Promise<TextDocument | undefined> {
  const uri =
    target instanceof Uri
      ? target
      : await dialogs.pickFile({ title: 'Open Generation Data from Image', openLabel: 'Open Generation Data', filters: { Images: IMAGE_EXTENSIONS } });
  if (!uri) return undefined;
  const result = await generationDataOfFile(uri);
  if ('error' in result) {
    void window.showErrorMessage(result.error);
    return undefined;
  }
  const document = await workspace.openTextDocument({ language: 'sd-prompt', content: result.data.text + '\n' });
  await window.showTextDocument(document);
  return document;
}
