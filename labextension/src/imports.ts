/**
 * What the status bar item says of the versions a kernel imported. The kernel's IPython extension
 * (loader/extension.py) pushes them over the comm `gilgamesh.imports` whenever the set changes.
 */

export const COMM_TARGET = 'gilgamesh.imports';

export interface ImportedVersion {
  name: string;
  version: string;
  /** The spellings that chose it, e.g. `["1", "1.0"]`. */
  specs?: string[];
  yanked?: boolean;
  deprecated?: boolean;
}

/** The imports of a comm message's data, checked: anything malformed is left out. */
export function importsOf(data: unknown): ImportedVersion[] {
  const list = (data as { imports?: unknown } | null)?.imports;
  if (!Array.isArray(list)) {
    return [];
  }
  return list
    .filter(
      (item): item is ImportedVersion =>
        !!item && typeof item.name === 'string' && typeof item.version === 'string'
    )
    .map(item => ({ ...item }))
    .sort((a, b) => (a.name === b.name ? (a.version < b.version ? -1 : 1) : a.name < b.name ? -1 : 1));
}

/** The status bar text: `Gilgamesh: langmuir 1.2.0, plasma 1.0.0` (`no API imported` when none). */
export function statusText(imports: ImportedVersion[]): string {
  if (!imports.length) {
    return 'Gilgamesh: no API imported';
  }
  const shown = imports.map(i => `${i.name} ${i.version}${i.yanked ? ' (yanked)' : ''}`);
  return `Gilgamesh: ${shown.join(', ')}`;
}
