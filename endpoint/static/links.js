// Which IRIs become links, for query.js and network.js (pages.href does the same on the server):
// http(s) IRIs only, never javascript:, data:, vbscript: or any other scheme from the data or a
// query; the base's IRIs point to this server.
"use strict";

// no space or control character, which a browser strips or re-reads ("java\tscript:")
const LINKABLE = /^https?:\/\/[^\u0000-\u0020\u007f]+$/i;
// a path starting with "/" or "\" would be read as another host's ("//host")
const PLAIN_PATH = /^[^\/\\\u0000-\u0020\u007f][^\u0000-\u0020\u007f]*$/;

// The link target for an IRI, or null: shown as text.
// A pinned release of a series (/release/{id}/, data-root) links its own pages.
function linkTarget(iri, base) {
  if (base && iri.startsWith(base) && PLAIN_PATH.test(iri.slice(base.length))) {
    return (document.body.dataset.root || "") + "/" + iri.slice(base.length);
  }
  return LINKABLE.test(iri) ? iri : null;
}
