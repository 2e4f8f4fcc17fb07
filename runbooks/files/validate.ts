/**
 * Validation of one runbook file's text: YAML, the schema (kind by kind, so an error names the
 * step), then what a schema cannot say (semantics.ts) — unique ids, where `next` goes, cycles,
 * unreachable steps, every CEL expression parsed and type-checked against the runbook's own steps
 * and parameters. Every problem carries the file and line it is on. Never throws for bad input: the
 * fuzz test (test/runbook-files-fuzz.test.ts) holds it to that.
 */
import { isMap, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import {
  RUNBOOK_HEADER,
  STEP_COMMON,
  STEP_KIND_NAMES,
  STEP_KINDS,
  type FileRunbook,
  type StepDefinition,
  type StepKind,
} from './schema';
import { Semantics, type IssueReport, type Path } from './semantics';

export interface RunbookIssue {
  file: string;
  line: number;
  column: number;
  message: string;
}

export interface ParsedRunbookFile {
  /** Present when the file has no issues. */
  runbook?: FileRunbook;
  issues: RunbookIssue[];
}

export function formatIssue(issue: RunbookIssue): string {
  return `${issue.file}:${issue.line}:${issue.column}: ${issue.message}`;
}

export function parseRunbookText(text: string, file: string): ParsedRunbookFile {
  try {
    return new FileValidator(text, file).run();
  } catch (err) {
    // A bug here must not take start-up down: the file is reported and skipped like any other.
    return { issues: [{ file, line: 1, column: 1, message: `internal validation error: ${(err as Error).message}` }] };
  }
}

class FileValidator implements IssueReport {
  private readonly lines = new LineCounter();
  private readonly issues: RunbookIssue[] = [];
  private doc!: Document;

  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {}

  run(): ParsedRunbookFile {
    this.doc = parseDocument(this.text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true });
    for (const error of this.doc.errors) {
      const pos = this.lines.linePos(error.pos[0]);
      this.issues.push({
        file: this.file,
        line: pos.line,
        column: pos.col,
        message: `YAML: ${error.message.split('\n')[0]}`,
      });
    }
    if (this.issues.length > 0) return { issues: this.issues };
    let data: unknown;
    try {
      data = this.doc.toJS({ maxAliasCount: 50 });
    } catch (err) {
      this.issue([], `YAML: ${(err as Error).message.split('\n')[0]}`);
      return { issues: this.issues };
    }
    const header = RUNBOOK_HEADER.safeParse(data);
    if (!header.success) {
      this.zodIssues(header.error, []);
      return { issues: this.issues };
    }
    const steps = this.steps(header.data.steps, ['steps']);
    if (this.issues.length > 0 || !steps) return { issues: this.issues };
    const { $schema, ...rest } = header.data;
    void $schema;
    const runbook: FileRunbook = { ...rest, steps };
    new Semantics(runbook, this).check();
    this.issues.sort((a, b) => a.line - b.line || a.column - b.column);
    return this.issues.length > 0 ? { issues: this.issues } : { runbook, issues: [] };
  }

  /** Validates a list of steps kind by kind; undefined when any is wrong (issues recorded). */
  private steps(raw: unknown[], path: Path): StepDefinition[] | undefined {
    const out: StepDefinition[] = [];
    let ok = true;
    raw.forEach((step, index) => {
      const at = [...path, index];
      if (typeof step !== 'object' || step === null || Array.isArray(step)) {
        this.issue(at, 'a step is a mapping with an id and one step kind');
        ok = false;
        return;
      }
      const keys = Object.keys(step);
      const kinds = keys.filter((key) => (STEP_KIND_NAMES as readonly string[]).includes(key));
      const unknown = keys.filter(
        (key) => !(STEP_KIND_NAMES as readonly string[]).includes(key) && !(key in STEP_COMMON.shape),
      );
      if (kinds.length !== 1) {
        const name = (step as { id?: unknown }).id;
        const which = typeof name === 'string' ? `step ${name}` : 'a step';
        const message =
          kinds.length > 1
            ? `${which} has ${kinds.length} kinds (${kinds.join(', ')}); one per step`
            : unknown.length > 0
              ? `${which}: unknown step kind ${unknown.map((key) => JSON.stringify(key)).join(', ')} (one of ${STEP_KIND_NAMES.join(', ')})`
              : `${which} has no kind (one of ${STEP_KIND_NAMES.join(', ')})`;
        this.issue(
          unknown.length > 0 && kinds.length === 0 ? [...at, unknown[0]!] : at,
          message,
          kinds.length === 0 && unknown.length > 0,
        );
        ok = false;
        return;
      }
      const kind = kinds[0] as StepKind;
      const schema = STEP_COMMON.extend({ [kind]: STEP_KINDS[kind] });
      const parsed = schema.safeParse(step);
      if (!parsed.success) {
        this.zodIssues(parsed.error, at);
        ok = false;
        return;
      }
      const value = parsed.data as unknown as StepDefinition;
      if (kind === 'forEach') {
        const loop = (value as { forEach: { over: string; as?: string; steps: unknown[] } }).forEach;
        const inner = this.steps(loop.steps, [...at, 'forEach', 'steps']);
        if (!inner) {
          ok = false;
          return;
        }
        out.push({ ...value, forEach: { ...loop, steps: inner } } as StepDefinition);
        return;
      }
      out.push(value);
    });
    return ok ? out : undefined;
  }

  private zodIssues(error: z.ZodError, base: Path): void {
    for (const issue of error.issues) {
      const path = [...base, ...(issue.path as Path)];
      const where = path.length > 0 ? `${path.join('.')}: ` : '';
      this.issue(path, `${where}${issue.message}`, issue.code === 'unrecognized_keys');
    }
  }

  /** Records an issue at the line of the node at `path` (or its nearest existing parent). */
  issue(path: Path, message: string, atKey = false, offsetInScalar = 0): void {
    let offset = 0;
    for (let depth = path.length; depth >= 0; depth -= 1) {
      const sub = path.slice(0, depth);
      const node = depth === 0 ? this.doc.contents : this.doc.getIn(sub, true);
      const keyNode = atKey && depth === path.length ? this.keyNode(sub) : undefined;
      const range = (keyNode ?? node) as { range?: [number, number, number] } | undefined;
      if (range?.range) {
        offset = range.range[0] + (depth === path.length ? scalarOffset(this.text, range.range[0], offsetInScalar) : 0);
        break;
      }
    }
    const pos = this.lines.linePos(offset);
    this.issues.push({ file: this.file, line: pos.line, column: pos.col, message });
  }

  private keyNode(path: Path): unknown {
    const parent = path.length > 1 ? this.doc.getIn(path.slice(0, -1), true) : this.doc.contents;
    if (!isMap(parent)) return undefined;
    const last = path[path.length - 1];
    const pair = parent.items.find((item) => (item.key as { value?: unknown } | null)?.value === last);
    return pair?.key ?? undefined;
  }

  get hasSequence(): boolean {
    return isSeq(this.doc.get('steps', true));
  }
}

/** Where an offset inside a scalar's value lies in the file: past an opening quote if any. */
function scalarOffset(text: string, start: number, inner: number): number {
  if (inner === 0) return 0;
  const quote = text[start] === '"' || text[start] === "'" ? 1 : 0;
  return quote + inner;
}
