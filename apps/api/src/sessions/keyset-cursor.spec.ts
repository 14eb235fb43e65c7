import fc from 'fast-check';
import { AppError } from '../http/app-error';
import { decodeCursor, encodeCursor } from './keyset-cursor';

describe('keyset cursor', () => {
  it('round-trips any position', () => {
    fc.assert(
      fc.property(fc.date({ noInvalidDate: true, min: new Date(0), max: new Date('9999-12-31') }), fc.uuid(), (createdAt, id) => {
        expect(decodeCursor(encodeCursor({ createdAt, id }))).toEqual({ createdAt, id });
      }),
    );
  });

  it.each(['', 'garbage', Buffer.from('2026-01-01T00:00:00.000Z|not-a-uuid').toString('base64url')])(
    'refuses %p with a bad_request',
    (cursor) => {
      expect(() => decodeCursor(cursor)).toThrow(AppError);
    },
  );
});
