import { LIMITS, listQuerySchema } from './gateway';

describe('listQuerySchema', () => {
  it('reads limit as decimal digits, with the default when absent', () => {
    expect(listQuerySchema.parse({ limit: '25' }).limit).toBe(25);
    expect(listQuerySchema.parse({}).limit).toBe(LIMITS.listDefaultLimit);
  });

  it.each(['1e2', '0x10', ' 5', '', '2.5', '+3', `${LIMITS.listMaxLimit + 1}`, '0', '-1'])('refuses limit %j, naming it', (limit) => {
    const result = listQuerySchema.safeParse({ limit });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.path.join('.'))).toEqual(['limit']);
  });
});
