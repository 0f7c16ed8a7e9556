import {
  compareVersions,
  formatNameSpec,
  importSpelling,
  isApiName,
  isExactVersion,
  isSpec,
  parseNameSpec,
  SpecError
} from '../spec';

describe('parseNameSpec', () => {
  it('splits NAME@SPEC', () => {
    expect(parseNameSpec('langmuir@1.2')).toEqual({ name: 'langmuir', spec: '1.2' });
    expect(parseNameSpec('  plasma@1 ')).toEqual({ name: 'plasma', spec: '1' });
    expect(parseNameSpec('helicon@2.0.1rc3')).toEqual({ name: 'helicon', spec: '2.0.1rc3' });
  });

  it('reads a bare name as the latest release', () => {
    expect(parseNameSpec('langmuir')).toEqual({ name: 'langmuir', spec: '' });
  });

  it.each([
    ['', 'no API named'],
    ['Langmuir@1', 'Invalid API name'],
    ['1abc@1', 'Invalid API name'],
    ['class@1', 'Invalid API name'],
    ['a'.repeat(65), 'Invalid API name'],
    ['langmuir@', "nothing after '@'"],
    ['langmuir@1.2.x', 'Invalid version spec'],
    ['langmuir@01', 'Invalid version spec'],
    ['langmuir@1.2rc1', 'Invalid version spec'],
    ['langmuir@1@2', 'Invalid version spec']
  ])('refuses %p', (text, message) => {
    expect(() => parseNameSpec(text)).toThrow(SpecError);
    expect(() => parseNameSpec(text)).toThrow(message);
  });

  it('writes a spec back as it was read', () => {
    for (const text of ['langmuir@1.2', 'plasma', 'x_1@0.1.0b2']) {
      expect(formatNameSpec(parseNameSpec(text))).toBe(text);
    }
    expect(importSpelling(parseNameSpec('langmuir@1.2'))).toBe('gilgamesh.api.langmuir@1.2');
  });
});

describe('the grammar', () => {
  it('matches gilgamesh/versions.py', () => {
    expect(isApiName('a')).toBe(true);
    expect(isApiName('a'.repeat(64))).toBe(true);
    expect(isApiName('lambda')).toBe(false);
    expect(isApiName('_x')).toBe(false);
    expect(isSpec('0')).toBe(true);
    expect(isSpec('1.0.0a1')).toBe(true);
    expect(isSpec('1.0a1')).toBe(false);
    expect(isExactVersion('1.2')).toBe(false);
    expect(isExactVersion('1.2.3')).toBe(true);
  });

  it('orders versions as releases, pre-releases first', () => {
    const sorted = ['1.10.0', '1.2.0', '1.2.0rc1', '1.2.0a2', '1.2.0b1', '0.9.9'].sort(compareVersions);
    expect(sorted).toEqual(['0.9.9', '1.2.0a2', '1.2.0b1', '1.2.0rc1', '1.2.0', '1.10.0']);
    expect(() => compareVersions('1.2', '1.2.0')).toThrow(SpecError);
  });
});
