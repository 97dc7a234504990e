/**
 * What tagcomplete's category numbers mean. They follow the booru the list came from
 * (its README: Danbooru's tag API, and e621's own); tagcomplete picks the scheme by the
 * file's name (`e621*.csv`) and falls back to Danbooru's for any other list.
 */
export type CategoryScheme = 'danbooru' | 'e621';

const NAMES: Record<CategoryScheme, Record<number, string>> = {
  danbooru: { 0: 'general', 1: 'artist', 3: 'copyright', 4: 'character', 5: 'meta' },
  e621: { [-1]: 'invalid', 0: 'general', 1: 'artist', 3: 'copyright', 4: 'character', 5: 'species', 6: 'invalid', 7: 'meta', 8: 'lore' },
};

export function categorySchemeOf(path: string): CategoryScheme {
  const file = path.slice(path.lastIndexOf('/') + 1).toLowerCase();
  return file.startsWith('e621') ? 'e621' : 'danbooru';
}

/** `general`, `character`…; a number the scheme does not name is shown as `category N`. */
export function categoryName(scheme: CategoryScheme, category: number): string {
  return NAMES[scheme][category] ?? `category ${category}`;
}
