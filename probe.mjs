import {open} from 'lmdb';
import {serialize, deserialize} from 'bson';
import fs from 'fs';
fs.rmSync('/tmp/t4',{recursive:true,force:true});
const env=open({path:'/tmp/t4'});
const db=env.openDB('v',{keyEncoding:'binary', encoding:'binary'});
const doc={_id:1, name:'x'.repeat(900), a:1,b:2,c:'hello', d:[1,2,3]};
const bytes=serialize(doc); console.log('doc bytes', bytes.length);
db.transactionSync(()=>{for(let i=0;i<100000;i++){const k=Buffer.alloc(16); k.writeUInt32BE(i,0); k.writeBigUInt64BE(BigInt(i),8); db.put(k, bytes);} });
const N=200000;
function bench(name, f){const s=process.hrtime.bigint(); for(let i=0;i<N;i++) f(i%100000); const us=Number(process.hrtime.bigint()-s)/1e3/N; console.log(name, us.toFixed(2),'us', (1e6/us|0),'/s');}
bench('getRange lim1', i=>{const k=Buffer.alloc(4); k.writeUInt32BE(i); for(const e of db.getRange({start:k, limit:1})){} });
bench('getRange lim1 snapshot:false', i=>{const k=Buffer.alloc(4); k.writeUInt32BE(i); for(const e of db.getRange({start:k, limit:1, snapshot:false})){} });
bench('getKeys lim1', i=>{const k=Buffer.alloc(4); k.writeUInt32BE(i); for(const e of db.getKeys({start:k, limit:1})){} });
bench('get exact', i=>{const k=Buffer.alloc(16); k.writeUInt32BE(i,0); k.writeBigUInt64BE(BigInt(i),8); db.get(k)});
bench('getBinaryFast exact', i=>{const k=Buffer.alloc(16); k.writeUInt32BE(i,0); k.writeBigUInt64BE(BigInt(i),8); db.getBinaryFast(k)});
bench('deserialize', i=>deserialize(bytes));
bench('serialize', i=>serialize(doc));
