import { createOperatorKeySchema } from '@mosaic/orchestrator-contract';
import { itAgreesWithItsSchema } from '../http/dto-agreement.behaviour';
import { createValidationPipe } from '../http/validation';
import { CreateOperatorKeyDto } from './create-operator-key.dto';

describe("CreateOperatorKeyDto and the contract's createOperatorKeySchema", () => {
  itAgreesWithItsSchema({ dto: CreateOperatorKeyDto, schema: createOperatorKeySchema, in: 'body' });
});

/** The body of POST /operator-keys as the API's validation pipe takes it. */
describe('CreateOperatorKeyDto', () => {
  const pipe = createValidationPipe();
  const validated = (body: unknown) => pipe.transform(body, { type: 'body', metatype: CreateOperatorKeyDto });

  it('takes a name of any script, spaces included', async () => {
    for (const name of ['ci-bot', 'Zoë’s deploy key', '部署 キー', 'key 🔑']) {
      await expect(validated({ name, scopes: ['read'] })).resolves.toMatchObject({ name });
    }
  });

  it('refuses a name with a control character, naming the field', async () => {
    for (const name of ['line\nbreak', 'tab\there', '\u001b[31mred', 'bell\u0007', 'del\u007f', 'c1\u0085', 'csi\u009b2J']) {
      await expect(validated({ name, scopes: ['read'] })).rejects.toMatchObject({
        code: 'bad_request',
        message: 'name: name must not contain control characters',
      });
    }
  });
});

/** Issue 38, finding 8: the event log names the administrator and the API's own actors so; no key may pass for them. */
describe('CreateOperatorKeyDto names', () => {
  const pipe = createValidationPipe();
  const validated = (body: unknown) => pipe.transform(body, { type: 'body', metatype: CreateOperatorKeyDto });

  it('refuses a reserved name in any case and with spaces around it, naming the field', async () => {
    for (const name of ['admin', 'Admin', ' ADMIN ', 'budget', '\u00a0Budget ', 'reconciliation', 'Reconciliation  ']) {
      await expect(validated({ name, scopes: ['read'] })).rejects.toMatchObject({
        code: 'bad_request',
        message: 'name: name must not be admin, budget, reconciliation (in any case): the event log names others so',
      });
    }
  });

  it('takes names that only contain a reserved one', async () => {
    for (const name of ['admin2', 'budget watcher', 'not admin', 'reconciliations']) {
      await expect(validated({ name, scopes: ['read'] })).resolves.toMatchObject({ name });
    }
  });

  it("agrees with the contract's schema on reserved names", () => {
    for (const name of ['admin', ' Budget ', 'RECONCILIATION']) {
      expect(createOperatorKeySchema.safeParse({ name, scopes: ['read'] }).success).toBe(false);
    }
    expect(createOperatorKeySchema.safeParse({ name: 'admin2', scopes: ['read'] }).success).toBe(true);
  });
});
