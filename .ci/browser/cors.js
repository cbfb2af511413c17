// A front-end served from another origin than Tally's: runs a query with a token, which
// makes the browser send a CORS preflight first. Its answer, or the browser's refusal.
'use strict';

window.callTally = async function callTally(url, token, query) {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify({ query }),
    });
    const body = await response.json();
    return { data: body.data, status: response.status };
  } catch (e) {
    return { error: String(e) };
  }
};
