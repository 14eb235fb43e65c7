import { AppError } from './app-error';

describe('AppError', () => {
  it('carries a contract code and a message for the caller', () => {
    const error = new AppError('not_found', 'no session with id s-1');
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'AppError', code: 'not_found', message: 'no session with id s-1' });
  });
});
