// The query page: an editor with SPARQL highlighting, the example catalogue, results as a table
// whose IRIs link to resource pages, downloads, readable errors, and the query kept in the URL.
"use strict";

const KEYWORDS = new Set(("SELECT DISTINCT REDUCED WHERE FILTER OPTIONAL UNION MINUS GRAPH SERVICE " +
  "BIND VALUES GROUP BY ORDER ASC DESC LIMIT OFFSET HAVING PREFIX BASE ASK CONSTRUCT DESCRIBE " +
  "FROM NAMED AS COUNT SUM MIN MAX AVG SAMPLE GROUP_CONCAT NOT EXISTS IN STR LANG LCASE UCASE " +
  "CONTAINS STRSTARTS REGEX SUBSTR IF COALESCE").split(" "));
// comment | string | IRI | variable | prefixed name | word | anything else
const TOKENS = /(#[^\n]*)|("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')|(<[^<>"{}|^`\\\s]*>)|([?$]\w+)|([A-Za-z_][\w-]*:[\w.-]*|:[\w.-]+)|([A-Za-z_]\w*)|(\s+|.)/g;

function escapeHtml(text) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function highlight(text) {
  let html = "";
  for (const m of text.matchAll(TOKENS)) {
    const [all, comment, string, iri, variable, pname, word] = m;
    const kind = comment ? "c" : string ? "s" : iri ? "i" : variable ? "v" : pname ? "p"
      : word && (KEYWORDS.has(word.toUpperCase()) || word === "a") ? "k" : null;
    html += kind ? `<span class="${kind}">${escapeHtml(all)}</span>` : escapeHtml(all);
  }
  return html + "\n";
}

const editor = document.getElementById("query");
const shadow = document.getElementById("highlight");
const results = document.getElementById("results");
const statusBox = document.getElementById("status");
const picker = document.getElementById("examples");
const base = document.body.dataset.base;
const endpoint = (document.body.dataset.root || "") + "/sparql";  // a pinned release's own

function sync() {
  shadow.innerHTML = highlight(editor.value);
  shadow.scrollTop = editor.scrollTop;
}
editor.addEventListener("input", sync);
editor.addEventListener("scroll", () => { shadow.scrollTop = editor.scrollTop; });

// An IRI as a link when it is an http(s) one (links.js), else as text.
function link(value) {
  const target = linkTarget(value, base);
  if (target === null) return document.createTextNode(value);
  const a = document.createElement("a");
  a.href = target;
  a.textContent = value;
  return a;
}

function cell(term) {
  const td = document.createElement("td");
  if (!term) return td;
  if (term.type === "uri") td.appendChild(link(term.value));
  else {
    td.textContent = term.value;
    if (term["xml:lang"]) td.lang = term["xml:lang"];
  }
  return td;
}

function downloads(query) {
  const list = document.getElementById("downloads");
  list.textContent = "";
  // CSV and TSV are for spreadsheets: the server neutralises cells they would read as formulas
  for (const [label, format, download] of [["CSV", "csv", "spreadsheet"], ["JSON", "json", null],
                                           ["TSV", "tsv", "spreadsheet"]]) {
    const a = document.createElement("a");
    a.href = endpoint + "?" + new URLSearchParams(download ? {query, format, download} : {query, format});
    a.textContent = label;
    a.setAttribute("download", "results." + format);
    list.appendChild(a);
  }
}

async function run() {
  const query = editor.value;
  history.replaceState(null, "", endpoint + "?" + new URLSearchParams({query}));
  results.textContent = "";
  statusBox.className = "";
  statusBox.textContent = "…";
  const graphForm = /^\s*(PREFIX[^\n]*\n\s*|BASE[^\n]*\n\s*|#[^\n]*\n\s*)*(CONSTRUCT|DESCRIBE)\b/i.test(query);
  const started = performance.now();
  const response = await fetch(endpoint, {
    method: "POST",
    headers: {"Accept": graphForm ? "text/turtle" : "application/sparql-results+json",
              "Content-Type": "application/x-www-form-urlencoded"},
    body: new URLSearchParams({query}),
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(2);
  if (!response.ok) {
    const message = await response.text();  // read first: the error shows whole, at once
    statusBox.className = "error";
    statusBox.textContent = `Erreur ${response.status} : ${message}`;
    return;
  }
  const truncated = response.headers.get("X-SPARQL-Truncated");
  if (graphForm) {
    const pre = document.createElement("pre");
    pre.textContent = await response.text();
    results.appendChild(pre);
    statusBox.textContent = `Graphe reçu en ${seconds} s.`;
    return;
  }
  const data = await response.json();
  if ("boolean" in data) {
    statusBox.textContent = `Réponse : ${data.boolean ? "oui (true)" : "non (false)"} — ${seconds} s.`;
    return;
  }
  const table = document.createElement("table");
  const head = table.createTHead().insertRow();
  for (const v of data.head.vars) {
    const th = document.createElement("th");
    th.textContent = v;
    head.appendChild(th);
  }
  const body = table.createTBody();
  for (const binding of data.results.bindings) {
    const row = body.insertRow();
    for (const v of data.head.vars) row.appendChild(cell(binding[v]));
  }
  results.appendChild(table);
  statusBox.textContent = `${data.results.bindings.length} ligne(s) en ${seconds} s.` +
    (truncated ? " Résultat tronqué au plafond du serveur." : "");
  downloads(query);
}

document.getElementById("run").addEventListener("click", run);
editor.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) run();
});
// the example catalogue, a JSON data block in the page (not a script: the policy runs none inline)
const EXAMPLES = JSON.parse(document.getElementById("examples-data").textContent);
picker.addEventListener("change", () => {
  const chosen = EXAMPLES[picker.value];
  if (chosen) { editor.value = chosen.query; sync(); }
});

const initial = new URLSearchParams(location.search).get("query");
if (initial) { editor.value = initial; sync(); run(); } else sync();
