// Starts GraphiQL on Tally's /graphql. The bundles loaded before this script define the
// globals React, ReactDOM and GraphiQL. Paste a token into the Headers tab as
// {"Authorization": "Bearer …"}: GraphiQL keeps headers in memory only
// (shouldPersistHeaders is off), and nothing of a query or its headers goes into the URL.
'use strict';

(function start() {
  const container = document.getElementById('graphiql');
  const fetcher = GraphiQL.createFetcher({
    url: new URL('/graphql', window.location.href).href,
  });
  ReactDOM.createRoot(container).render(
    React.createElement(GraphiQL, {
      fetcher,
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: 'headers',
    }),
  );
})();
