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
  nameTheEditors(container);
})();

// GraphiQL 3's CodeMirror editors type into a hidden <textarea> that has no accessible name,
// and scroll their text in a region no key can reach: each textarea gets the name of its
// editor, each scroll region a place in the tab order (arrow keys then scroll it). Editors
// come and go with GraphiQL's tabs, so this follows the DOM.
function nameTheEditors(root) {
  const names = [
    ['.graphiql-query-editor', 'Query editor'],
    ['.result-window', 'Response'],
  ];
  const nameOf = (editor) => {
    for (const [selector, name] of names) {
      if (editor.closest(selector)) return name;
    }
    const tool = editor.closest('.graphiql-editor-tool');
    if (tool) {
      // The editor tools hold the variables editor, then the headers editor.
      const index = [...tool.querySelectorAll('.CodeMirror')].indexOf(editor);
      return index === 0 ? 'Variables editor' : 'Headers editor';
    }
    return 'Editor';
  };
  const label = () => {
    for (const editor of root.querySelectorAll('.CodeMirror')) {
      const name = nameOf(editor);
      const input = editor.querySelector('textarea');
      if (input && input.getAttribute('aria-label') !== name) input.setAttribute('aria-label', name);
      const scroll = editor.querySelector('.CodeMirror-scroll');
      // CodeMirror keeps its scroller out of the tab order (tabindex -1).
      if (scroll && scroll.getAttribute('tabindex') !== '0') scroll.setAttribute('tabindex', '0');
    }
  };
  new MutationObserver(label).observe(root, { childList: true, subtree: true });
  label();
}
