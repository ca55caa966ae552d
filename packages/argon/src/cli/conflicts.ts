import { EJSON } from 'bson';
import type { Command } from 'commander';
import { ArgonError } from '../errors.js';
import { output, printTable } from './format.js';
import { withServer } from './server-client.js';

type Doc = Record<string, any>;

const CHOICES = ['ours', 'theirs', 'base', 'keep', 'delete'] as const;

function shown(conflict: Doc, side: string): string {
  return side in conflict ? EJSON.stringify(conflict[side], { relaxed: true }) : '(absent)';
}

function conflictRow(c: Doc): Doc {
  const resolution = c.resolution ? (c.resolution.take === 'value' ? `value ${EJSON.stringify(c.resolution.value, { relaxed: true })}` : c.resolution.take) : '-';
  return {
    id: c.id,
    kind: c.kind,
    ns: `${c.db}.${c.coll}`,
    _id: EJSON.stringify(c.documentId, { relaxed: true }),
    path: c.path === '' ? '(document)' : c.path,
    base: shown(c, 'base'),
    ours: shown(c, 'ours'),
    theirs: shown(c, 'theirs'),
    resolution,
  };
}

function howToGoOn(target: string): string {
  return [
    `Nothing was written to '${target}': its conflicts wait for you.`,
    `  argon conflicts list ${target}`,
    `  argon conflicts resolve ${target} ID --ours|--theirs|--base|--keep|--delete|--value JSON`,
    `  argon conflicts abort ${target}`,
    'Resolving the last conflict completes the merge.',
  ].join('\n');
}

/**
 * `argon conflicts list|resolve|abort`: the pending manual merge into a branch, on the running
 * server; and the hint `argon merge --strategy manual` prints when it stops on conflicts.
 */
export function registerConflictCommands(program: Command, serverUri: () => string, currentBranch: () => string): void {
  const json = () => program.opts<{ json?: boolean }>().json;
  const conflicts = program.command('conflicts').description('list, resolve or abort the conflicts of a pending manual merge (argon merge --strategy manual)');

  conflicts
    .command('list [target]')
    .description('the pending merge into TARGET (default: the current branch, see argon switch) and its conflicts: document, path, base / ours / theirs')
    .action((target: string = currentBranch()) =>
      withServer(serverUri(), async (admin) => {
        const { merge } = await admin({ argonConflictsList: target });
        output(json(), merge, () => {
          if (!merge) return console.log(`No merge into '${target}' is pending`);
          console.log(`Merge of '${merge.source}' into '${merge.target}' (started ${new Date(merge.created).toISOString()}): ${merge.unresolved} of ${merge.conflicts.length} conflicts unresolved`);
          printTable(merge.conflicts.map(conflictRow));
        });
      }),
    );

  conflicts
    .command('resolve <target> <conflict>')
    .description('resolve one conflict of the pending merge into TARGET; resolving the last one completes the merge')
    .option('--ours', "take the target's value")
    .option('--theirs', "take the source's value")
    .option('--base', 'take the merge base')
    .option('--keep', 'delete-vs-modify: keep the document as the side that changed it has it')
    .option('--delete', 'delete the field (or, for a document conflict, the document)')
    .option('--value <json>', 'take this value (Extended JSON; a whole document for document conflicts)')
    .action((target: string, id: string, o: Doc) => {
      const picked = [...CHOICES.filter((c) => o[c]), ...(o.value === undefined ? [] : ['value'])];
      if (picked.length !== 1) throw new ArgonError('BadValue', 'choose one of --ours, --theirs, --base, --keep, --delete, --value JSON');
      const cmd: Doc = { argonConflictsResolve: target, conflict: Number(id), take: picked[0] };
      if (o.value !== undefined) cmd.value = EJSON.parse(o.value, { relaxed: true });
      return withServer(serverUri(), async (admin) => {
        const reply = await admin(cmd);
        output(json(), reply, () => {
          if (reply.completed) {
            const { inserted, updated, deleted } = reply.result.applied;
            return console.log(`Merge into '${target}' completed: ${inserted} inserted, ${updated} updated, ${deleted} deleted`);
          }
          if (reply.result) console.log(`New conflicts appeared while the merge was pending: ${reply.merge.unresolved} to resolve`);
          else console.log(`Resolved conflict ${id}; ${reply.merge.unresolved} left (argon conflicts list ${target})`);
        });
        if (reply.result && !reply.completed) process.exitCode = 1;
      });
    });

  conflicts
    .command('abort <target>')
    .description('abort the pending merge into TARGET (TARGET stays as it is)')
    .action((target: string) =>
      withServer(serverUri(), async (admin) => {
        const { aborted } = await admin({ argonMergeAbort: target });
        output(json(), aborted, () => console.log(`Aborted the merge of '${aborted.source}' into '${target}'`));
      }),
    );

  const merge = program.commands.find((c) => c.name() === 'merge');
  merge?.addHelpText('after', '\nWith --strategy manual, conflicts are stored instead: see argon conflicts --help.');
  // The merge command reports the conflicts; a stopped manual merge also needs the way forward.
  merge?.hook('postAction', (cmd) => {
    const o = cmd.opts<{ strategy?: string; into: string; dryRun?: boolean }>();
    if (o.strategy === 'manual' && !o.dryRun && process.exitCode === 1 && !json()) console.log(howToGoOn(o.into));
  });
}
