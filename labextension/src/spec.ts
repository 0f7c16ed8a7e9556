/**
 * API names and version specs as Gilgamesh spells them (gilgamesh/versions.py), checked in the
 * browser before a request is sent, so that the panel and `gilgamesh:fork` say what is wrong.
 */

const NUM = '(?:0|[1-9][0-9]*)';
const NAME_RE = /^[a-z][a-z0-9_]{0,63}$/;
const SPEC_RE = new RegExp(`^(${NUM})(?:\\.(${NUM})(?:\\.(${NUM})(?:(a|b|rc)(${NUM}))?)?)?$`);
const VERSION_RE = new RegExp(`^(${NUM})\\.(${NUM})\\.(${NUM})(?:(a|b|rc)(${NUM}))?$`);
const PYTHON_KEYWORDS = new Set([
  'and', 'as', 'assert', 'async', 'await', 'break', 'class', 'continue',
  'def', 'del', 'elif', 'else', 'except', 'finally', 'for', 'from', 'global', 'if', 'import', 'in',
  'is', 'lambda', 'nonlocal', 'not', 'or', 'pass', 'raise', 'return', 'try', 'while', 'with', 'yield'
]);

export class SpecError extends Error {}

export interface NameSpec {
  /** The API's name, e.g. `langmuir`. */
  name: string;
  /** The version spec, e.g. `1.2`; empty for "the latest release". */
  spec: string;
}

/** Whether `name` is an API name: `[a-z][a-z0-9_]{0,63}`, not a Python keyword. */
export function isApiName(name: string): boolean {
  return NAME_RE.test(name) && !PYTHON_KEYWORDS.has(name);
}

/** Whether `spec` is `X`, `X.Y`, `X.Y.Z` or an exact pre-release `X.Y.ZrcN`. */
export function isSpec(spec: string): boolean {
  return SPEC_RE.test(spec);
}

/** Whether `version` is an exact version `MAJOR.MINOR.PATCH[aN|bN|rcN]`. */
export function isExactVersion(version: string): boolean {
  return VERSION_RE.test(version);
}

/** `"langmuir@1.2"` as `{name: "langmuir", spec: "1.2"}`; `"langmuir"` alone is the latest release. */
export function parseNameSpec(text: string): NameSpec {
  const trimmed = (text ?? '').trim();
  if (!trimmed) {
    throw new SpecError('no API named: write NAME@SPEC, e.g. langmuir@1.2');
  }
  const at = trimmed.indexOf('@');
  const name = at < 0 ? trimmed : trimmed.slice(0, at);
  const spec = at < 0 ? '' : trimmed.slice(at + 1);
  if (!isApiName(name)) {
    throw new SpecError(
      `Invalid API name: '${name}' (expected [a-z][a-z0-9_]{0,63}, not a Python keyword)`
    );
  }
  if (at >= 0 && spec === '') {
    throw new SpecError(`Invalid version spec in '${trimmed}': nothing after '@'`);
  }
  if (spec !== '' && !isSpec(spec)) {
    throw new SpecError(
      `Invalid version spec: '${spec}' (expected X, X.Y, X.Y.Z or an exact pre-release such as 1.3.0rc1)`
    );
  }
  return { name, spec };
}

/** `{name, spec}` written back: `langmuir@1.2`, or `langmuir` for the latest release. */
export function formatNameSpec(value: NameSpec): string {
  return value.spec ? `${value.name}@${value.spec}` : value.name;
}

/** The notebook spelling of an import: `gilgamesh.api.langmuir@1.2`. */
export function importSpelling(value: NameSpec): string {
  return `gilgamesh.api.${formatNameSpec(value)}`;
}

/** Release order of two exact versions (pre-releases sort before their release): <0, 0, >0. */
export function compareVersions(a: string, b: string): number {
  const pa = VERSION_RE.exec(a);
  const pb = VERSION_RE.exec(b);
  if (!pa || !pb) {
    throw new SpecError(`not an exact version: '${pa ? b : a}'`);
  }
  const rank: Record<string, number> = { a: 0, b: 1, rc: 2 };
  const key = (m: RegExpExecArray) => [
    Number(m[1]), Number(m[2]), Number(m[3]),
    m[4] === undefined ? 3 : rank[m[4]], m[5] === undefined ? 0 : Number(m[5])
  ];
  const ka = key(pa);
  const kb = key(pb);
  for (let i = 0; i < ka.length; i++) {
    if (ka[i] !== kb[i]) {
      return ka[i] - kb[i];
    }
  }
  return 0;
}
