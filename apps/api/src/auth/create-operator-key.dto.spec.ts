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
