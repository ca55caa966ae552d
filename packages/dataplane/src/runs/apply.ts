import { posix } from 'node:path';
import type { ParseOptions } from '../pipelines/index.js';

export interface ApplyOptions {
  /** Named in errors; in-process, its directory is where `file:` paths start. */
  filename?: string;
  baseDir?: string;
  /**
   * The files `file:` names, uploaded with the pipeline (path as written → content). When given,
   * `file:` reads only these: a server never reads its own disk on a client's behalf.
   */
  files?: Record<string, string>;
  user?: string | null;
}

/** A root that exists nowhere: uploaded files are looked up relative to it. */
const UPLOAD_ROOT = '/dataplane-upload';

export function pipelineReader(options: ApplyOptions): Pick<ParseOptions, 'baseDir' | 'readFile'> {
  const files = options.files;
  if (files === undefined) return options.baseDir === undefined ? {} : { baseDir: options.baseDir };
  const byPath = new Map(Object.entries(files).map(([path, text]) => [posix.normalize(path), text]));
  return {
    baseDir: UPLOAD_ROOT,
    readFile: (path: string) => {
      const name = posix.relative(UPLOAD_ROOT, path);
      const text = byPath.get(name);
      if (text === undefined) throw new Error(`${name} was not uploaded with the pipeline (the CLI sends the files a pipeline names)`);
      return text;
    },
  };
}
