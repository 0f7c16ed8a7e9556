import { checkHandshake, PROTOCOL } from '../handshake';
import { importsOf, statusText } from '../imports';

const reply = (version: string, protocol = PROTOCOL) => ({ name: 'gilgamesh', version, protocol });

describe('checkHandshake', () => {
  it('is quiet when both sides are one release', () => {
    expect(checkHandshake('0.1.0', reply('0.1.0'))).toEqual({ state: 'ok', usable: true, message: null });
  });

  it('says clearly when the releases differ, and still works', () => {
    const result = checkHandshake('0.1.0', reply('0.2.0'));
    expect(result.state).toBe('differ');
    expect(result.usable).toBe(true);
    expect(result.message).toContain("lab extension is 0.1.0 but its server extension is 0.2.0");
    expect(result.message).toContain("pip install 'gilgamesh[lab]'");
  });

  it('refuses another protocol', () => {
    const result = checkHandshake('0.1.0', reply('1.0.0', PROTOCOL + 1));
    expect(result.state).toBe('incompatible');
    expect(result.usable).toBe(false);
    expect(result.message).toContain(`protocol ${PROTOCOL}`);
    expect(result.message).toContain(`protocol ${PROTOCOL + 1}`);
  });

  it('names the missing server extension and how to enable it', () => {
    for (const answer of [null, { name: 'something-else', version: '1', protocol: 1 }]) {
      const result = checkHandshake('0.1.0', answer as any);
      expect(result.state).toBe('missing');
      expect(result.usable).toBe(false);
      expect(result.message).toContain('jupyter server extension enable gilgamesh.service.jupyter');
    }
    expect(checkHandshake('0.1.0', null, '502 Bad Gateway').message).toContain('(502 Bad Gateway)');
  });
});

describe('the status text', () => {
  it('names each imported version, sorted', () => {
    const data = {
      imports: [
        { name: 'plasma', version: '1.1.0', specs: ['1'] },
        { name: 'langmuir', version: '1.2.0' },
        { name: 'broken' },
        null
      ]
    };
    const imports = importsOf(data);
    expect(imports.map(i => i.name)).toEqual(['langmuir', 'plasma']);
    expect(statusText(imports)).toBe('Gilgamesh: langmuir 1.2.0, plasma 1.1.0');
  });

  it('says when nothing was imported, and survives odd messages', () => {
    expect(statusText(importsOf({}))).toBe('Gilgamesh: no API imported');
    expect(importsOf(null)).toEqual([]);
    expect(importsOf({ imports: 'x' })).toEqual([]);
    expect(statusText([{ name: 'a', version: '1.0.0', yanked: true }])).toBe('Gilgamesh: a 1.0.0 (yanked)');
  });
});
