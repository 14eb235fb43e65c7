import { formatBytes } from './format';

describe('formatBytes', () => {
  it('gives bytes below a KiB as they are', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
  });

  it('gives larger sizes in binary units, to a tenth', () => {
    expect(formatBytes(1024)).toBe('1 KiB');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(500 * 1024)).toBe('500 KiB');
    expect(formatBytes(5 * 1024 * 1024)).toBe('5 MiB');
    expect(formatBytes(6_000_000)).toBe('5.7 MiB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3 GiB');
    expect(formatBytes(2048 * 1024 ** 4)).toBe('2,048 TiB');
  });
});
