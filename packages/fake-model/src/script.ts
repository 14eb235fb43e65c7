/** What one model call spent, as the Messages API reports it. */
export interface TurnUsage {
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly cache_creation_input_tokens?: number;
  readonly cache_read_input_tokens?: number;
}

export const DEFAULT_USAGE: TurnUsage = { input_tokens: 100, output_tokens: 20 };

/** How a streamed answer is sent: `delayMs` between events, the socket destroyed after `cutAfterEvents` events. */
export interface StreamShape {
  readonly delayMs?: number;
  readonly cutAfterEvents?: number;
}

export interface TextTurn extends StreamShape {
  readonly type: 'text';
  readonly text: string;
  readonly usage?: TurnUsage;
}

/** The model asks for a tool (`Write` with `{ file_path, content }`, `Bash` with `{ command }`, …), after an optional text. */
export interface ToolUseTurn extends StreamShape {
  readonly type: 'tool_use';
  readonly name: string;
  readonly input: Readonly<Record<string, unknown>>;
  readonly text?: string;
  readonly usage?: TurnUsage;
}

/** An HTTP error with the Messages API's error body (`overloaded_error`, `invalid_request_error`, …). */
export interface ErrorTurn {
  readonly type: 'error';
  readonly status: number;
  readonly errorType: string;
  readonly message: string;
}

/** The request is read and never answered. */
export interface SilenceTurn {
  readonly type: 'silence';
}

export type ReplyTurn = TextTurn | ToolUseTurn;
export type Turn = ReplyTurn | ErrorTurn | SilenceTurn;

/** Each `POST /v1/messages` takes the script's next turn; once it runs out, every call gets this final answer. */
export const FINAL_TURN: TextTurn = { type: 'text', text: 'done' };
