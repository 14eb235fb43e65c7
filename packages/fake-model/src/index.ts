export { startFakeAnthropic, type FakeAnthropic, type RecordedRequest } from './fake-anthropic';
export {
  DEFAULT_USAGE,
  FINAL_TURN,
  type ErrorTurn,
  type ReplyTurn,
  type SilenceTurn,
  type StreamShape,
  type TextTurn,
  type ToolUseTurn,
  type Turn,
  type TurnUsage,
} from './script';
export { WRITE_THEN_EDIT_GREETING } from './sample-turns';
