// GraphQL over HTTP audit: graphql-http's server audits against a running Tally.
// Usage: node audit.mjs http://127.0.0.1:PORT/graphql
// Prints every audit with its result; exits 1 on any error (MUST), warning (SHOULD) or
// notice (MAY) that is not accepted below.
import { serverAudits } from 'graphql-http';

// Notices (optional features, MAY) accepted, by audit id, with the reason. None today:
// Tally implements every optional behaviour the audits look for (GET requests, 400 for
// parameters of the wrong type, a missing body or a missing query).
const ACCEPTED_NOTICES = new Map([]);

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs <url of /graphql>');
  process.exit(2);
}

const results = [];
for (const audit of serverAudits({ url })) {
  results.push(await audit.fn());
}

const mark = { ok: 'ok     ', notice: 'NOTICE ', warn: 'WARN   ', error: 'ERROR  ' };
let failed = 0;
for (const r of results) {
  const accepted = r.status === 'notice' && ACCEPTED_NOTICES.has(r.id);
  console.log(`${mark[r.status]} ${r.id} ${r.name}${accepted ? ' (accepted)' : ''}`);
  if (r.status !== 'ok') {
    console.log(`          ${accepted ? ACCEPTED_NOTICES.get(r.id) : r.reason}`);
    if (!accepted) {
      failed += 1;
      const body = await r.response.text().catch(() => '');
      console.log(`          HTTP ${r.response.status} ${r.response.headers.get('content-type') ?? ''}: ${body.replace(/\s+/g, ' ').slice(0, 300)}`);
    }
  }
}
const count = (s) => results.filter((r) => r.status === s).length;
console.log(
  `\n${results.length} audits: ${count('ok')} ok, ${count('error')} errors (MUST), ` +
    `${count('warn')} warnings (SHOULD), ${count('notice')} notices (MAY)` +
    ` of which ${results.filter((r) => r.status === 'notice' && ACCEPTED_NOTICES.has(r.id)).length} accepted`,
);
process.exit(failed === 0 ? 0 : 1);
