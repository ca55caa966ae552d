import {ArgonServer} from '/work/main/packages/argon/dist/src/server/server.js';
import pino from 'pino';
import {mkdtempSync} from 'node:fs';
import {execFile} from 'node:child_process';
import {promisify} from 'node:util';
const ef = promisify(execFile);
const s = await ArgonServer.start({dataDir: mkdtempSync('/tmp/x-'), port: 0, auth: false, logger: pino({level:'silent'})});
const uri = await s.uri('main');
await s.store.write('main', [{op:'insert', db:'a', coll:'b', doc:{_id:1, v:1}}]);
await s.store.createBranch('dev');
await s.store.write('dev', [{op:'replace', db:'a', coll:'b', doc:{_id:1, v:2}}, {op:'insert', db:'a', coll:'b', doc:{_id:2}}]);
for (const args of [['diff','main','dev'], ['branch','list'], ['status'], ['merge','dev','--into','main']]) {
  const { stdout } = await ef('script', ['-qc', `node packages/argon/dist/src/cli/main.js --server '${uri}' ${args.join(' ')}`, '/dev/null']);
  console.log(JSON.stringify(stdout));
}
await s.stop();
