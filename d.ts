import { processStalled } from "/work/wt/hostio/lib/query/_server_answer.ts";
console.log(processStalled(Number(Deno.args[0])), Deno.permissions.querySync({name:"read", path:`/proc/${Deno.args[0]}/stat`}).state);
