import { readFileSync } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';
import type { Command } from 'commander';
import type { ApplyRequest } from '../api/types.js';
import { client, globals } from './context.js';
import { output, paint, printTable, when } from './format.js';

/**
 * The request for a pipeline file: its text, and the files its tasks name with `file:` (read here,
 * where they are: the server never reads its own disk for a client). The files are found by
 * parsing locally and recording what the parser reads; the server's parse is the one that counts.
 */
export async function pipelineRequest(file: string): Promise<ApplyRequest> {
  const path = resolve(file);
  const source = readFileSync(path, 'utf8');
  const baseDir = dirname(path);
  const files: Record<string, string> = {};
  const { parsePipeline } = await import('../pipelines/index.js');
  try {
    parsePipeline(source, {
      filename: file,
      baseDir,
      readFile: (p) => {
        const text = readFileSync(p, 'utf8');
        files[relative(baseDir, p).split(sep).join('/')] = text;
        return text;
      },
    });
  } catch {
    // Reported by the server, with every issue.
  }
  return { source, filename: file, files };
}

export function registerPipelineCommands(program: Command): void {
  const pipeline = program.command('pipeline').description('apply, list, show, delete and validate pipelines');

  pipeline
    .command('apply <file>')
    .description('save a pipeline file (YAML or JSON) as a new version, if it changed')
    .addHelpText('after', '\nExample:\n  $ dataplane pipeline apply pipelines/etl.yaml')
    .action(async (file: string, _o, cmd: Command) => {
      const result = await client(cmd).applyPipeline(await pipelineRequest(file));
      const p = result.pipeline;
      output(globals(cmd).json, result, () =>
        console.log(result.created ? `${paint.green('applied')} ${paint.bold(p.name)} version ${p.version} (${p.tasks} tasks)` : `${paint.bold(p.name)} unchanged (version ${p.version})`),
      );
    });

  pipeline
    .command('validate <file>')
    .description('check a pipeline file without saving it')
    .action(async (file: string, _o, cmd: Command) => {
      const result = await client(cmd).validatePipeline(await pipelineRequest(file));
      output(globals(cmd).json, result, () => console.log(`${paint.green('valid')}: ${result.spec.name}, ${result.spec.tasks.length} tasks (${result.spec.tasks.map((t) => t.id).join(' → ')})`));
    });

  pipeline
    .command('list')
    .description('the latest version of every pipeline')
    .action(async (_o, cmd: Command) => {
      const list = await client(cmd).listPipelines();
      output(globals(cmd).json, list, () => printTable(list.map((p) => ({ name: p.name, version: p.version, tasks: p.tasks, concurrency: p.concurrency ?? '-', updated: when(p.created), by: p.createdBy ?? '-' }))));
    });

  pipeline
    .command('show <name>')
    .description("a pipeline's params and tasks: NAME for the latest version, NAME@N for version N")
    .action(async (ref: string, _o, cmd: Command) => {
      const [name, version] = ref.split('@') as [string, string | undefined];
      const p = await client(cmd).getPipeline(name, version === undefined ? undefined : Number(version));
      output(globals(cmd).json, p, () => {
        console.log(`${paint.bold(p.name)} version ${p.version}${p.spec.description ? ` — ${p.spec.description}` : ''}`);
        const params = Object.entries(p.spec.params);
        if (params.length) console.log(`params: ${params.map(([k, v]) => `${k} (${v.type}${v.default !== undefined ? ` = ${JSON.stringify(v.default)}` : ''})`).join(', ')}`);
        printTable(p.spec.tasks.map((t) => ({ task: t.id, run: t.run, needs: t.needs.join(', ') || '-', when: t.when, retries: t.retries.count, timeout: t.timeoutMs === null ? '-' : `${t.timeoutMs}ms`, group: t.group })));
      });
    });

  pipeline
    .command('delete <name>')
    .description('delete a pipeline (its runs stay readable)')
    .action(async (name: string, _o, cmd: Command) => {
      const result = await client(cmd).deletePipeline(name);
      output(globals(cmd).json, result, () => console.log(`deleted ${paint.bold(name)}`));
    });
}
