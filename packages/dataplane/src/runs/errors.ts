/**
 * Errors the engine raises on purpose, with a stable code the API maps to an HTTP status and the
 * CLI prints. Anything else thrown from the engine is a bug or an infrastructure failure (500).
 */
export type EngineErrorCode =
  | 'PipelineNotFound'
  | 'RunNotFound'
  | 'InvalidParams'
  | 'RunNotActive'
  | 'RunNotRerunnable'
  | 'EngineStopped';

export class EngineError extends Error {
  override readonly name = 'EngineError';

  constructor(
    readonly code: EngineErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export const runNotFound = (id: string) => new EngineError('RunNotFound', `no run '${id}'`);
export const pipelineNotFound = (name: string, version?: number) =>
  new EngineError('PipelineNotFound', version === undefined ? `no pipeline '${name}'` : `pipeline '${name}' has no version ${version}`);
