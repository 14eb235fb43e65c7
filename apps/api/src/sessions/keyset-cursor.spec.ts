import fc from 'fast-check';
import { AppError } from '@mosaic/http-kit';
import { decodeCursor, encodeCursor } from './keyset-cursor';

describe('keyset cursor', () => {
  it('round-trips any position', () => {
    fc.assert(
      fc.property(fc.date({ noInvalidDate: true, min: new Date(0), max: new Date('9999-12-31') }), fc.uuid(), (createdAt, id) => {
        expect(decodeCursor(encodeCursor({ createdAt, id }))).toEqual({ createdAt, id });
      }),
    );
  });

  const forged = (timestamp: string) => Buffer.from(`${timestamp}|6f1d2c3b-4a5e-4f60-8b7a-9c0d1e2f3a4b`).toString('base64url');

  it.each([
    '',
    'garbage',
    Buffer.from('2026-01-01T00:00:00.000Z|not-a-uuid').toString('base64url'),
    forged('0000-01-01T00:00:00.000Z'),
    forged('-000001-01-01T00:00:00.000Z'),
    forged('+275760-09-13T00:00:00.000Z'),
  ])('refuses %p with a bad_request', (cursor) => {
    expect(() => decodeCursor(cursor)).toThrow(AppError);
  });
});
