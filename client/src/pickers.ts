import { EventEmitter } from 'vscode';

/** Which picker a command shows now, with its item labels (the extension-host tests drive the pickers). */
export interface PickerShown {
  step: 'lora' | 'triggerWords' | 'device' | 'model';
  labels: string[];
  /** The label of the item the picker starts on, when it marks one. */
  active?: string;
}

const pickerShown = new EventEmitter<PickerShown>();
export const onDidShowPicker = pickerShown.event;

/**
 * Says that a picker is showing its items. The extension host sends a picker's changes to the window on
 * a zero-delay timer; the event fires on a later one, after they are out, so a command run from it
 * (accepting the item) reaches the window after them, on the same ordered channel, and finds a picker
 * that has its items.
 */
export function announcePicker(shown: PickerShown): void {
  setTimeout(() => pickerShown.fire(shown), 0);
}
