import type { ToolUseTurn } from './script';

/**
 * A fake model's first two answers to a coding agent: write `src/greeting.ts`, then edit it. Their usage, cache
 * tokens included, is what the agent must report in its totals (with the final turn's): the tests assert the sums.
 */
export const WRITE_THEN_EDIT_GREETING: readonly ToolUseTurn[] = [
  {
    type: 'tool_use',
    name: 'Write',
    text: 'I will create the greeting module.',
    input: { file_path: 'src/greeting.ts', content: "export const greeting = 'hello';\n" },
    usage: { input_tokens: 2100, output_tokens: 45, cache_creation_input_tokens: 1800, cache_read_input_tokens: 0 },
  },
  {
    type: 'tool_use',
    name: 'Edit',
    input: { file_path: 'src/greeting.ts', old_string: "'hello'", new_string: "'hello, world'" },
    usage: { input_tokens: 150, output_tokens: 38, cache_creation_input_tokens: 120, cache_read_input_tokens: 1800 },
  },
];
