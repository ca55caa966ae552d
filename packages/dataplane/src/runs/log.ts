/** What the engine logs to: pino's Logger fits; tests pass nothing (silent). */
export interface EngineLog {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const nothing = () => {};
export const silentLog: EngineLog = { debug: nothing, info: nothing, warn: nothing, error: nothing };
