/**
 * (v3) The model credentials each agent kind is given (contract 7.1), read from the orchestrator's environment
 * (or `<NAME>_FILE`); no other kind gets them, and a `command` agent none.
 */
export const AGENT_CREDENTIALS = {
  // The Messages API directly or through a gateway.
  'claude-code': [
    'ANTHROPIC_API_KEY',
    'ANTHROPIC_AUTH_TOKEN',
    'ANTHROPIC_BASE_URL',
    'ANTHROPIC_CUSTOM_HEADERS',
    'ANTHROPIC_MODEL',
    'ANTHROPIC_DEFAULT_OPUS_MODEL',
    'ANTHROPIC_DEFAULT_SONNET_MODEL',
    'ANTHROPIC_DEFAULT_HAIKU_MODEL',
    'CLAUDE_CODE_OAUTH_TOKEN',
  ],
  codex: ['OPENAI_API_KEY', 'CODEX_API_KEY', 'OPENAI_BASE_URL'],
  // GOOGLE_API_KEY is the Gemini CLI's for Vertex AI only, which this does not configure.
  gemini: ['GEMINI_API_KEY', 'GOOGLE_GEMINI_BASE_URL'],
} as const satisfies Record<string, readonly string[]>;

export const AGENT_CREDENTIAL_VARIABLES: readonly string[] = Object.values(AGENT_CREDENTIALS).flat();
