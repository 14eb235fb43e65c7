import { z } from 'zod';
import { storableText } from './api-text';

/*
 * (v3) The agent that serves a task and the repository it works on (contract
 * sections 7.1 and 7.2), as `POST /tasks` takes them and the spawn body's `task`
 * carries them.
 */

export const AGENT_KINDS = ['claude-code', 'codex', 'gemini', 'command'] as const;
export type AgentKind = (typeof AGENT_KINDS)[number];
export const DEFAULT_AGENT_KIND: AgentKind = 'command';

export const agentSchema = z
  .strictObject({
    kind: z.enum(AGENT_KINDS).default(DEFAULT_AGENT_KIND).meta({ example: 'claude-code' }),
    // A model name goes on the agent's command line: no option, no blank, nothing a shell would read.
    model: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:/@-]*$/, 'must be a model name (letters, digits and . _ : / @ -)')
      .optional()
      .meta({ example: 'claude-sonnet-4-5' }),
    prompt: storableText({ min: 1, max: 100_000 })
      .optional()
      .meta({ description: "what the agent is asked; the task's title and description when absent" }),
    max_turns: z.int().min(1).max(500).optional().meta({ example: 20 }),
  })
  .meta({ description: 'the agent that serves the task (`command`, the configured AGENT_COMMAND, by default)' });
export type AgentRequest = z.input<typeof agentSchema>;
export type AgentSettings = z.output<typeof agentSchema>;

const REPOSITORY_URL_PROTOCOLS = ['file:', 'https:', 'ssh:'];

/** A branch, tag or commit as git takes it: no option (`-…`), no blank, none of the characters git refuses in a ref. */
const gitRefSchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9_][A-Za-z0-9._/+-]*$/, 'must be a branch, tag or commit (letters, digits and . _ / + -)')
  .refine((ref) => !ref.includes('..') && !ref.includes('//') && !ref.endsWith('/') && !ref.endsWith('.lock'), 'is not a valid git ref');

export const repositorySchema = z
  .strictObject({
    url: z
      .string()
      .min(1)
      .max(2048)
      .refine((url) => {
        try {
          return REPOSITORY_URL_PROTOCOLS.includes(new URL(url).protocol);
        } catch {
          return false;
        }
      }, 'must be a file://, https:// or ssh:// URL')
      .meta({ example: 'https://git.example/team/app.git' }),
    ref: gitRefSchema.optional().meta({ description: "the repository's default branch when absent", example: 'main' }),
    push: z.boolean().optional().meta({ description: 'push the branch `mosaic/<session id>` when the agent is done', example: false }),
  })
  .meta({ description: "the git repository the agent works on, in a workspace of its own; its changes come back as artifacts" });
export type RepositoryRequest = z.infer<typeof repositorySchema>;
