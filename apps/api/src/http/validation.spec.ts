import { CreateTaskDto } from '../tasks/create-task.dto';
import { ListSessionsDto } from '../sessions/list-sessions.dto';
import { createValidationPipe } from './validation';

describe('createValidationPipe', () => {
  const pipe = createValidationPipe();
  const body = (value: unknown) => pipe.transform(value, { type: 'body', metatype: CreateTaskDto });

  it('refuses unknown fields, naming each by its path', async () => {
    await expect(body({ title: 't', surprise: 1, budget: { max_tokens: 5, limitless: true } })).rejects.toMatchObject({
      code: 'bad_request',
      message: 'surprise: property surprise should not exist; budget.limitless: property limitless should not exist',
    });
  });

  // class-transformer leaves such fields out of the DTO instance, where forbidNonWhitelisted never saw them:
  // `{ "title": "t", "valueOf": 1 }` used to create a task. (`constructor` and `prototype` Nest's pipe strips itself.)
  it('refuses unknown fields named like the methods every object has, in nested DTOs and queries too', async () => {
    for (const key of [
      'valueOf',
      'toString',
      'hasOwnProperty',
      'isPrototypeOf',
      'propertyIsEnumerable',
      'toLocaleString',
      '__defineGetter__',
    ]) {
      await expect(body({ title: 't', [key]: 1 })).rejects.toMatchObject({
        code: 'bad_request',
        message: `${key}: property ${key} should not exist`,
      });
      await expect(body({ title: 't', budget: { max_tokens: 5, [key]: false } })).rejects.toMatchObject({
        code: 'bad_request',
        message: `budget.${key}: property ${key} should not exist`,
      });
      await expect(pipe.transform({ limit: '5', [key]: 'x' }, { type: 'query', metatype: ListSessionsDto })).rejects.toMatchObject({
        message: `${key}: property ${key} should not exist`,
      });
    }
  });

  it('keeps such keys where a DTO takes JSON as sent (task metadata)', async () => {
    await expect(body({ title: 't', metadata: { valueOf: 1, toString: { hasOwnProperty: 'x' } } })).resolves.toMatchObject({
      metadata: { valueOf: 1, toString: { hasOwnProperty: 'x' } },
    });
  });
});
