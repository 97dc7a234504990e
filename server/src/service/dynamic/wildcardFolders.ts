import { PromptSettings } from '../settings';

/**
 * The wildcard folders for these settings: the webui's sd-dynamic-prompts folder
 * (`extensions/sd-dynamic-prompts/wildcards`) first, then `sdPrompt.wildcards.directories`,
 * so a file in a folder the user named wins over the webui's file of the same name.
 */
export function wildcardFolders(settings: PromptSettings, exists: (path: string) => boolean): string[] {
  const webui = settings.webuiPath.replace(/[\\/]+$/, '');
  const extensionFolder = webui ? `${webui}/extensions/sd-dynamic-prompts/wildcards` : '';
  return [...(extensionFolder && exists(extensionFolder) ? [extensionFolder] : []), ...settings.wildcards.directories];
}

/** Dynamic prompts are read when the setting is on or the webui has the sd-dynamic-prompts extension. */
export function dynamicPromptsEnabled(settings: PromptSettings, exists: (path: string) => boolean): boolean {
  const webui = settings.webuiPath.replace(/[\\/]+$/, '');
  return settings.dynamicPrompts.enable || (webui !== '' && exists(`${webui}/extensions/sd-dynamic-prompts`));
}
