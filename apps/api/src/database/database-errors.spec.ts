import { isDatabaseUnavailable } from './database-errors';

const pgError = (code: string, message = 'pg error') => Object.assign(new Error(message), { code });

describe('isDatabaseUnavailable', () => {
  it.each([
    ['a statement timeout', pgError('57014', 'canceling statement due to statement timeout')],
    ['an administrator shutdown', pgError('57P01')],
    ['too many connections', pgError('53300')],
    ['a broken connection', pgError('08006')],
    ['no pooled connection in time', new Error('timeout exceeded when trying to connect')],
    ['a connection ended under a query', new Error('Connection terminated unexpectedly')],
  ])('is true for %s', (_case, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it.each([
    ['a unique violation', pgError('23505')],
    ['an invalid value', pgError('22P02')],
    ['a deadlock', pgError('40P01')],
    ['a bug', new TypeError('x is undefined')],
    ['not an error', 'down'],
  ])('is false for %s', (_case, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
  });
});
