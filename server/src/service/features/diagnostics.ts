import { Diagnostic, DiagnosticSeverity } from 'vscode-languageserver-types';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { PromptSettings } from '../settings';
import { PromptDocument } from '../syntax/document';
import { checkEmphasis } from './checks/emphasisChecks';
import { checkKeywords } from './checks/keywordChecks';
import { checkLibrary } from './checks/libraryChecks';
import { checkModel } from './checks/modelChecks';
import { checkChunkBoundaries } from './checks/tokenChecks';
import { SectionTokens } from '../tokens/tokenCount';
import { PromptLibrary } from '../library';
import { checkParameters } from './checks/parameterChecks';
import { scheduleStepsOf } from '../semantics/samplerSteps';
import { capPerCode, Fix, Problem, Severity } from './checks/problem';
import { checkSchedules } from './checks/scheduleChecks';
import { checkTags } from './checks/tagChecks';
import { checkMergeReport, MergeReport } from './checks/mergeChecks';
import { plainText } from './displayText';
import { checkTagParens } from './checks/tagParensChecks';
import { checkDynamic } from './checks/dynamicChecks';
import { WildcardLibrary } from '../dynamic/wildcardLibrary';
import { TagIndex } from '../tags/tagIndex';
import { ServerLoraList } from '../library/serverLoras';
import { checkServerLoras } from './checks/serverLoraChecks';

/** Every problem A1111 would have with the document, in document order. */
export function findProblems(
  doc: PromptDocument,
  settings: PromptSettings,
  library?: PromptLibrary,
  tokens?: { sections: SectionTokens[]; triggerWords: string[] },
  mergeReport?: MergeReport,
  tags?: TagIndex,
  wildcards?: WildcardLibrary,
  serverLoras?: ServerLoraList,
): Problem[] {
  const out: Problem[] = [];
  checkMergeReport(doc, mergeReport, out);
  if (tokens) checkChunkBoundaries(doc, tokens.sections, tokens.triggerWords, out);
  checkTags(doc, settings, out);
  checkLibrary(doc, settings, library, out);
  if (serverLoras) {
    // With a server backend its list says whether a LoRA is there to render; the local folders only give hovers.
    const local = out.filter((p) => p.code !== 'lora-unknown' && p.code !== 'lora-subfolder');
    out.splice(0, out.length, ...local);
    checkServerLoras(doc, serverLoras, out);
  }
  checkModel(doc, library, out);
  checkEmphasis(doc, out);
  checkSchedules(doc, scheduleStepsOf(doc, settings.steps), out);
  checkKeywords(doc, out);
  checkParameters(doc, out);
  checkTagParens(doc, tags, out);
  checkDynamic(doc, settings, out, wildcards);
  return capPerCode(out.sort((a, b) => a.span.start - b.span.start || a.span.end - b.span.end)).map(showable);
}

/**
 * Messages and fix titles quote the prompt and the library's files: a NUL, a bidi override (U+202E
 * turns the rest of a message around) or half a surrogate pair from there does not reach the editor.
 */
function showable(problem: Problem): Problem {
  const shown = { ...problem, message: plainText(problem.message) };
  if (problem.fixes) shown.fixes = problem.fixes.map((f) => ({ ...f, title: plainText(f.title) }));
  return shown;
}

const SEVERITY: Record<Severity, DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  information: DiagnosticSeverity.Information,
  hint: DiagnosticSeverity.Hint,
};

/** What a diagnostic carries for its quick fixes (read back by the code-action feature). */
export interface DiagnosticData {
  fixes: { title: string; preferred?: boolean; edits: { range: Diagnostic['range']; newText: string }[] }[];
}

export function toDiagnostic(document: TextDocument, problem: Problem): Diagnostic {
  const range = { start: document.positionAt(problem.span.start), end: document.positionAt(problem.span.end) };
  const diagnostic: Diagnostic = {
    range,
    severity: SEVERITY[problem.severity],
    code: problem.code,
    source: 'sd-prompt',
    message: problem.message,
  };
  if (problem.fixes?.length) {
    const data: DiagnosticData = { fixes: problem.fixes.map((f: Fix) => toFixData(document, f)) };
    diagnostic.data = data;
  }
  return diagnostic;
}

function toFixData(document: TextDocument, fix: Fix): DiagnosticData['fixes'][number] {
  return {
    title: fix.title,
    preferred: fix.preferred,
    edits: fix.edits.map((e) => ({
      range: { start: document.positionAt(e.span.start), end: document.positionAt(e.span.end) },
      newText: e.newText,
    })),
  };
}
