/**
 * What an image says about how it was made, in A1111's terms: the `.prompt` text a user would
 * paste (`text`) and its parts. `notes` are what the image's tool recorded that A1111's language
 * cannot say; they lead `text` as `#` comment lines so nothing is silently dropped.
 */
export type GenerationSource = 'a1111' | 'comfyui' | 'novelai' | 'invokeai';
export type ImageContainer = 'png' | 'jpeg' | 'webp';

export interface GenerationData {
  source: GenerationSource;
  container: ImageContainer;
  prompt: string;
  negativePrompt: string;
  /** A1111 infotext keys and values, in the order they are written (values unquoted). */
  parameters: Record<string, string>;
  notes: string[];
  /** The whole `.prompt` file. */
  text: string;
}

/** The parts a reader of one tool's format produces; `formatPromptFile` turns them into `text`. */
export interface GenerationParts {
  prompt: string;
  negativePrompt: string;
  parameters: Array<[string, string | number | undefined]>;
  notes: string[];
}

/** A file that is not a readable image, or an image with no generation data: `message` says which and where. */
export class ImageDataError extends Error {
  constructor(message: string, readonly kind: 'unreadable' | 'none') {
    super(message);
    this.name = 'ImageDataError';
  }
}
