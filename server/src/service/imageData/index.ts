/**
 * Generation data from images: the entry the extension host uses (Open Generation Data from Image, drop and paste
 * into a `.prompt`). The readers are pure functions over bytes, so the client runs them on files it reads through
 * VS Code's file system instead of a round trip through the language server.
 */
export { readGenerationData } from './generationData';
export type { GenerationData } from './types';
export { ImageDataError } from './types';
