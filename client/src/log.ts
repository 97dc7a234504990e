import { EventEmitter, LogOutputChannel, window } from 'vscode';

/**
 * Failures reach the person as ONE notification with a "Show Log" action; the details (stack,
 * worker message, paths) go to the "SD Prompt" log channel, where the language server logs too.
 */
export class ErrorReporter {
  private readonly reported = new EventEmitter<string>();
  /** Each message shown to the person (the extension-host tests count them). */
  readonly onDidReport = this.reported.event;

  constructor(readonly log: LogOutputChannel) {}

  report(message: string, details?: string): void {
    this.log.error(details ? `${message}\n${details}` : message);
    this.reported.fire(message);
    void window.showErrorMessage(message, 'Show Log').then((choice) => {
      if (choice === 'Show Log') this.log.show(true);
    });
  }

  dispose(): void {
    this.reported.dispose();
  }
}
