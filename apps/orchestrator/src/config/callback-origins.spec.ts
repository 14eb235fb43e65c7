import { CallbackOrigins, parseOrigin } from './callback-origins';

describe('CallbackOrigins', () => {
  describe('the default: loopback on any port', () => {
    const loopback = CallbackOrigins.loopback();

    it.each([
      'http://127.0.0.1:3000/orchestrator/callbacks/s-1',
      'https://127.0.0.1/callbacks',
      'http://localhost:8080/x',
      'http://[::1]:3000/x',
      'http://127.1:3000/x',
    ])('allows %s', (url) => expect(loopback.allows(url)).toBe(true));

    it.each([
      'http://192.0.2.10:3000/x',
      'http://10.0.0.1/x',
      'http://api.example/x',
      'http://127.0.0.1.example/x',
      'http://127.0.0.1@evil.example/x',
      'http://localhost.example/x',
      'ftp://127.0.0.1/x',
      'file:///etc/passwd',
      'not a url',
    ])('refuses %s', (url) => expect(loopback.allows(url)).toBe(false));
  });

  describe('a list', () => {
    const listed = CallbackOrigins.only(['https://api.example', 'http://10.0.0.5:3000']);

    it('allows exactly the listed origins, ports included', () => {
      expect(listed.allows('https://api.example/orchestrator/callbacks/1')).toBe(true);
      expect(listed.allows('https://api.example:443/x')).toBe(true);
      expect(listed.allows('http://10.0.0.5:3000/x')).toBe(true);
      expect(listed.allows('https://api.example:8443/x')).toBe(false);
      expect(listed.allows('http://api.example/x')).toBe(false);
      expect(listed.allows('http://10.0.0.5/x')).toBe(false);
    });

    it('replaces the default: loopback is refused unless listed', () => {
      expect(listed.allows('http://127.0.0.1:3000/x')).toBe(false);
    });
  });
});

describe('parseOrigin', () => {
  it.each([
    ['https://api.example', 'https://api.example'],
    ['https://api.example/', 'https://api.example'],
    ['HTTPS://API.example:443', 'https://api.example'],
    ['http://10.0.0.5:3000', 'http://10.0.0.5:3000'],
  ])('reads %s as %s', (text, origin) => expect(parseOrigin(text)).toBe(origin));

  it.each([
    'api.example',
    'https://api.example/path',
    'https://api.example?x=1',
    'https://user:pw@api.example',
    'ftp://api.example',
    '*',
    '',
  ])('refuses %j', (text) => expect(parseOrigin(text)).toBeUndefined());
});
