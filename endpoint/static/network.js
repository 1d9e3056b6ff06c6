// The network view: nodes placed by the server's layout, sized by degree, coloured by community;
// hover for details, click to open the resource page, drag to pan, wheel to zoom, and a slider to
// hide weak links.
"use strict";

const svg = document.getElementById("view");
const info = document.getElementById("info");
const slider = document.getElementById("minWeight");
const base = document.body.dataset.base;
const NS = "http://www.w3.org/2000/svg";
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                "#17becf", "#bcbd22", "#7f7f7f"];
let data = null;

function element(name, attrs) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function draw() {
  svg.textContent = "";
  const min = Number(slider.value);
  document.getElementById("weightValue").textContent = min;
  const at = Object.fromEntries(data.nodes.map((n) => [n.id, n]));
  const edges = element("g", {"class": "edges"});
  for (const e of data.edges) {
    if (e.weight < min) continue;
    const a = at[e.source], b = at[e.target];
    edges.appendChild(element("line", {x1: a.x, y1: a.y, x2: b.x, y2: b.y,
                                       "stroke-width": 0.004 + 0.004 * e.weight}));
  }
  svg.appendChild(edges);
  for (const n of data.nodes) {
    const group = element("g", {"class": "node"});
    const circle = element("circle", {cx: n.x, cy: n.y, r: 0.025 + 0.008 * Math.sqrt(n.degree || 0),
                                      fill: COLORS[(n.community || 0) % COLORS.length]});
    const title = element("title", {});
    title.textContent = `${n.label}\ndegré ${n.degree}, degré pondéré ${n.weighted_degree}, ` +
      `intermédiarité ${n.betweenness}, communauté ${n.community}`;
    circle.appendChild(title);
    circle.addEventListener("click", () => {
      const target = linkTarget(n.id, base);  // links.js: http(s) only
      if (target !== null) location.href = target;
    });
    const label = element("text", {x: n.x + 0.04, y: n.y + 0.018});
    label.textContent = n.label.slice(0, 32);
    group.appendChild(circle);
    group.appendChild(label);
    svg.appendChild(group);
  }
  info.textContent = `${data.shown} nœuds affichés sur ${data.total}`;
}

async function load() {
  const name = document.getElementById("graph").value;
  const response = await fetch(`${document.body.dataset.root || ""}/network/${name}.view.json`);
  data = await response.json();
  const xs = data.nodes.map((n) => n.x), ys = data.nodes.map((n) => n.y);
  const pad = 0.15;
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  svg.setAttribute("viewBox", `${x0 - pad} ${y0 - pad} ${x1 - x0 + 2 * pad} ${y1 - y0 + 2 * pad}`);
  slider.max = Math.max(1, ...data.edges.map((e) => e.weight));
  draw();
}

svg.addEventListener("wheel", (event) => {
  event.preventDefault();
  const [x, y, w, h] = svg.getAttribute("viewBox").split(" ").map(Number);
  const f = event.deltaY > 0 ? 1.15 : 1 / 1.15;
  svg.setAttribute("viewBox", `${x + (w - w * f) / 2} ${y + (h - h * f) / 2} ${w * f} ${h * f}`);
});
let drag = null;
svg.addEventListener("mousedown", (event) => { drag = [event.clientX, event.clientY]; });
window.addEventListener("mouseup", () => { drag = null; });
svg.addEventListener("mousemove", (event) => {
  if (!drag) return;
  const [x, y, w, h] = svg.getAttribute("viewBox").split(" ").map(Number);
  const scale = w / svg.clientWidth;
  svg.setAttribute("viewBox", `${x - (event.clientX - drag[0]) * scale} ${y - (event.clientY - drag[1]) * scale} ${w} ${h}`);
  drag = [event.clientX, event.clientY];
});
slider.addEventListener("input", draw);
document.getElementById("graph").addEventListener("change", load);
load();
