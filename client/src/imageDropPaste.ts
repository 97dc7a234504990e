import {
  CancellationToken,
  DataTransfer,
  Disposable,
  DocumentDropEdit,
  DocumentDropOrPasteEditKind,
  DocumentPasteEdit,
  languages,
  Uri,
  window,
} from 'vscode';
import { generationDataOfBytes, generationDataOfFile, ImageResult, isImageUri } from './imageGenerationData';

/**
 * Dropping or pasting an image into a `.prompt` editor inserts its generation data. Images come
 * as file URIs (`text/uri-list`: the Explorer, the OS file manager, a copied file) or as files in
 * the data transfer. An image without data inserts nothing and says why, and VS Code's own edits
 * (the path, a link) stay on offer in the drop/paste widget.
 */
export const GENERATION_DATA_EDIT_KIND = DocumentDropOrPasteEditKind.Empty.append('sdPrompt', 'generationData');
const TITLE = 'Insert generation data from image';

/** The text a drop or paste of `dataTransfer` inserts: each image's generation data, blank-line separated. */
export async function imageTexts(dataTransfer: DataTransfer, token: CancellationToken): Promise<string | undefined> {
  const results: ImageResult[] = [];
  const uriList = await dataTransfer.get('text/uri-list')?.asString();
  const uris = (uriList ?? '')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => Uri.parse(line))
    .filter(isImageUri);
  for (const uri of uris) results.push(await generationDataOfFile(uri));
  if (uris.length === 0) {
    for (const [, item] of dataTransfer) {
      const file = item.asFile();
      if (!file || !/\.(png|jpe?g|webp)$/i.test(file.name)) continue;
      results.push(generationDataOfBytes(file.name, await file.data()));
    }
  }
  if (token.isCancellationRequested || results.length === 0) return undefined;
  const errors = results.flatMap((r) => ('error' in r ? [r.error] : []));
  if (errors.length) void window.showWarningMessage(errors.join('; '));
  const texts = results.flatMap((r) => ('data' in r ? [r.data.text] : []));
  return texts.length ? texts.join('\n\n') : undefined;
}

export function registerImageDropPaste(): Disposable {
  const selector = { language: 'sd-prompt' };
  return Disposable.from(
    languages.registerDocumentDropEditProvider(
      selector,
      {
        async provideDocumentDropEdits(_document, _position, dataTransfer, token) {
          const text = await imageTexts(dataTransfer, token);
          return text === undefined ? undefined : new DocumentDropEdit(text, TITLE, GENERATION_DATA_EDIT_KIND);
        },
      },
      { providedDropEditKinds: [GENERATION_DATA_EDIT_KIND], dropMimeTypes: ['text/uri-list', 'files'] },
    ),
    languages.registerDocumentPasteEditProvider(
      selector,
      {
        async provideDocumentPasteEdits(_document, _ranges, dataTransfer, _context, token) {
          const text = await imageTexts(dataTransfer, token);
          return text === undefined ? undefined : [new DocumentPasteEdit(text, TITLE, GENERATION_DATA_EDIT_KIND)];
        },
      },
      { providedPasteEditKinds: [GENERATION_DATA_EDIT_KIND], pasteMimeTypes: ['text/uri-list', 'files'] },
    ),
  );
}
