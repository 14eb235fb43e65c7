/**
 * Captures what the test process prints (stdout and stderr) instead of printing
 * it, for tests that prove no secret reaches a log line. `restore` puts the
 * streams back.
 */
export function capturePrintedOutput(): { text(): string; restore(): void } {
  const printed: string[] = [];
  const spies = [process.stdout, process.stderr].map((stream) =>
    jest.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    }),
  );
  return {
    text: () => printed.join(''),
    restore: () => spies.forEach((spy) => spy.mockRestore()),
  };
}
