// sherd explorer: reads only the node's public HTTP API (/v1/...), renders
// pages by hash route, refreshes every 2 s while the tab is visible.
"use strict";

// Errors of the page, kept for people (the footer says so) and for the
// browser test, which reads window.sherdErrors.
window.sherdErrors = [];
(function captureErrors() {
  const keep = (text) => {
    window.sherdErrors.push(String(text));
    const live = document.getElementById("live");
    if (live) live.title = "page errors: " + window.sherdErrors.length;
  };
  const original = console.error.bind(console);
  console.error = (...args) => {
    keep(args.map(String).join(" "));
    original(...args);
  };
  window.addEventListener("error", (e) => keep(e.message || "error"));
  window.addEventListener("unhandledrejection", (e) => keep("unhandled rejection: " + (e.reason && e.reason.message || e.reason)));
})();

const REFRESH_MS = 2000;
const DECIMALS = 9;
const UNIT = "sherd";
const PAGE = 20;

// ---- the API ----

class ApiFailure extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(path) {
  let response;
  try {
    response = await fetch(path, { headers: { accept: "application/json" }, cache: "no-store" });
  } catch (e) {
    throw new ApiFailure(0, "unreachable", "cannot reach the node: " + e.message);
  }
  let body = null;
  try {
    body = await response.json();
  } catch (e) {
    body = null;
  }
  if (!response.ok) {
    const message = body && body.error ? body.error : `the node answered ${response.status}`;
    throw new ApiFailure(response.status, body && body.code || "http_" + response.status, message);
  }
  if (body === null) throw new ApiFailure(response.status, "malformed", "the node answered something that is not JSON");
  return body;
}

// ---- building the page ----

// h("tag.class", {attr}, ...children): an element. Strings are text.
function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function link(href, ...children) {
  return h("a", { href }, ...children);
}

function short(text, head = 8, tail = 6) {
  text = String(text);
  return text.length <= head + tail + 1 ? text : text.slice(0, head) + "…" + text.slice(-tail);
}

// A hash or address: monospace, truncated, the whole value in its title;
// a click copies it (a click on a link around it follows the link; the
// small ⧉ next to it copies).
function hash(value, href, opts = {}) {
  if (value === null || value === undefined || value === "") return h("span.muted", null, "—");
  const shown = opts.full ? value : short(value, opts.head || 10, opts.tail || 6);
  const span = h("span.hash", { title: value + (href ? "" : " (click to copy)"), "data-full": value }, shown);
  if (!href) {
    span.addEventListener("click", () => copy(value));
    return span;
  }
  return h("span.hashlink", null, link(href, span), h("button.copy", { type: "button", title: "Copy " + value, "aria-label": "Copy", onclick: () => copy(value) }, copyIcon()));
}

// Two overlapping sheets, drawn (no icon font needed).
function copyIcon() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("width", "12");
  svg.setAttribute("height", "12");
  svg.setAttribute("aria-hidden", "true");
  for (const [x, y] of [[5, 1], [1, 5]]) {
    const rect = document.createElementNS(ns, "rect");
    for (const [k, v] of Object.entries({ x, y, width: 10, height: 10, rx: 2, fill: x === 1 ? "var(--panel)" : "none", stroke: "currentColor", "stroke-width": 1.5 })) rect.setAttribute(k, v);
    svg.append(rect);
  }
  return svg;
}

function copy(text) {
  const done = () => toast("Copied " + short(text, 12, 6));
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => fallbackCopy(text, done));
  } else {
    fallbackCopy(text, done);
  }
}

function fallbackCopy(text, done) {
  const area = h("textarea", { readonly: true }, text);
  area.className = "offscreen";
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.append(area);
  area.select();
  try {
    if (document.execCommand("copy")) done();
  } finally {
    area.remove();
  }
}

let toastTimer = 0;
function toast(text) {
  const el = document.getElementById("toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 1400);
}

const address = (a) => hash(a, a ? "#/account/" + a : null);
const txLink = (t) => hash(t, "#/tx/" + t);
const contractLink = (c) => hash(c, c ? "#/contract/" + c : null);
const blockLink = (height) => link("#/block/" + height, fmtInt(height));

// ---- numbers ----

function fmtInt(n) {
  if (n === null || n === undefined) return "—";
  const text = String(n);
  return /^\d+$/.test(text) ? text.replace(/\B(?=(\d{3})+(?!\d))/g, ",") : text;
}

// An amount from its exact decimal string (whole tokens), grouped.
function fmtTokens(text) {
  if (text === null || text === undefined) return "—";
  const [whole, frac] = String(text).split(".");
  return fmtInt(whole) + (frac ? "." + frac : "");
}

// An amount from integer base units (a JSON number; exact below 2^53).
function tokensFromBase(base) {
  if (base === null || base === undefined) return null;
  let digits = String(typeof base === "number" ? BigInt(Math.round(base)) : base);
  digits = digits.padStart(DECIMALS + 1, "0");
  const whole = digits.slice(0, -DECIMALS).replace(/^0+(?=\d)/, "");
  const frac = digits.slice(-DECIMALS).replace(/0+$/, "");
  return frac ? whole + "." + frac : whole;
}

function tokens(text) {
  return h("span.amount", null, fmtTokens(text), " ", h("span.unit", null, UNIT));
}

function fmtBytes(n) {
  if (n === null || n === undefined) return "—";
  n = Number(n);
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? String(n) : n.toFixed(n >= 100 ? 0 : n >= 10 ? 1 : 2)) + " " + units[i];
}

function fmtDuration(ms) {
  if (ms === null || ms === undefined || !isFinite(ms)) return "—";
  if (ms < 1000) return Math.round(ms) + " ms";
  const s = ms / 1000;
  if (s < 60) return s.toFixed(s < 10 ? 2 : 1) + " s";
  const m = s / 60;
  if (m < 60) return Math.floor(m) + " min " + Math.round(s % 60) + " s";
  const hours = m / 60;
  if (hours < 48) return Math.floor(hours) + " h " + Math.round(m % 60) + " min";
  return Math.floor(hours / 24) + " d " + Math.round(hours % 24) + " h";
}

function fmtAgo(ms) {
  if (!ms) return "—";
  const d = Date.now() - ms;
  if (d < -5000) return "in " + fmtDuration(-d);
  if (d < 2000) return "just now";
  if (d < 60000) return Math.round(d / 1000) + " s ago";
  if (d < 3600000) return Math.floor(d / 60000) + " min ago";
  if (d < 86400000) return Math.floor(d / 3600000) + " h ago";
  return Math.floor(d / 86400000) + " d ago";
}

function time(ms) {
  if (!ms) return h("span.muted", null, "—");
  const date = new Date(ms);
  return h("time", { datetime: date.toISOString(), title: date.toLocaleString() }, fmtAgo(ms));
}

function percent(x) {
  return (x * 100).toFixed(x >= 0.1 || x === 0 ? 0 : 1) + " %";
}

function kindLabel(kind) {
  return String(kind || "?").replace(/_/g, " ");
}

function outcomeBadge(outcome, status) {
  if (status === "pending") return h("span.badge.warn", null, "pending");
  if (outcome === "failed") return h("span.badge.bad", null, "failed");
  if (outcome === "success") return h("span.badge.good", null, "success");
  return h("span.badge.muted", null, outcome || "—");
}

function healthMeter(health) {
  const cls = health >= 0.5 ? "good" : health >= 0 ? "warn" : "bad";
  const width = Math.max(0, Math.min(1, health)) * 100;
  const bar = h("span");
  bar.style.width = width + "%";
  return h("span.meter-row", { "data-health": health }, h("span.meter." + cls, null, bar), h("span", null, health.toFixed(2)));
}

// ---- layout pieces ----

function kv(rows) {
  return h("dl.kv", null, rows.filter(Boolean).map(([key, label, value]) =>
    h("div", { "data-key": key }, h("dt", null, label), h("dd", null, value))));
}

function panel(title, ...children) {
  return h("section.panel", null, title ? h("h2", null, title) : null, ...children);
}

function table(columns, rows, empty = "Nothing yet.") {
  if (!rows.length) return h("p.empty", null, empty);
  return h("div.table-wrap", null, h("table", null,
    h("thead", null, h("tr", null, columns.map((c) => h("th", { class: c.cls || null }, c.title)))),
    h("tbody", null, rows.map((r) => h("tr", null, columns.map((c) => h("td", { class: c.cls || null, "data-col": c.key || null }, c.cell(r))))))));
}

function card(label, value, note, key) {
  return h("div.card", { "data-card": key }, h("div.label", null, label), h("div.value", null, value), note ? h("div.note", null, note) : null);
}

function notice(title, text, cls = "error") {
  return h("div.notice." + cls, { role: cls === "error" ? "alert" : "status" }, h("strong", null, title), text ? h("p", null, prose(text)) : null);
}

// The node's messages quote values in `backticks`: shown as code.
function prose(text) {
  return String(text).split(/`([^`]*)`/).map((part, i) => i % 2 ? h("code", null, part) : part);
}

function failure(e) {
  if (e instanceof ApiFailure) {
    const title = e.status === 404 ? "Not found" : e.status === 400 ? "Not understood" : e.status === 0 ? "Node unreachable" : "The node refused";
    return notice(title, e.message);
  }
  console.error(e);
  return notice("Something went wrong", String(e && e.message || e));
}

// ---- the latency chart ----

function latencyChart(samples) {
  // Drawn at the width it is shown (redrawn at every refresh), so text is
  // never stretched.
  const inner = document.getElementById("view").clientWidth - (window.innerWidth <= 600 ? 50 : 74);
  const W = Math.max(260, inner), H = 180, L = 56, R = 8, T = 12, B = 24;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("role", "img");
  const s = (tag, attrs, text) => {
    const el = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    if (text !== undefined) el.textContent = text;
    svg.append(el);
    return el;
  };
  if (samples.length < 2) {
    svg.setAttribute("aria-label", "not enough blocks yet");
    s("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, "waiting for blocks…");
    return svg;
  }
  const t0 = samples[0].committed_ms, t1 = samples[samples.length - 1].committed_ms;
  const span = Math.max(1, t1 - t0);
  const max = Math.max(...samples.map((x) => x.latency_ms));
  const top = niceCeil(Math.max(max, 10));
  const x = (t) => L + (W - L - R) * (t - t0) / span;
  const y = (v) => T + (H - T - B) * (1 - v / top);
  for (const v of [0, top / 2, top]) {
    s("line", { class: "axis", x1: L, x2: W - R, y1: y(v), y2: y(v) });
    s("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, fmtDuration(v));
  }
  s("text", { x: L, y: H - 6 }, "−" + fmtDuration(span));
  s("text", { x: W - R, y: H - 6, "text-anchor": "end" }, "now");
  const points = samples.map((p) => `${x(p.committed_ms).toFixed(1)},${y(p.latency_ms).toFixed(1)}`);
  s("path", { class: "area", d: `M${x(t0)},${y(0)} L${points.join(" L")} L${x(t1)},${y(0)} Z` });
  s("path", { class: "line", d: "M" + points.join(" L") });
  svg.setAttribute("aria-label", `finality latency of the last ${samples.length} blocks, up to ${fmtDuration(max)}`);
  return svg;
}

function niceCeil(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

// ---- rows ----

const blockColumns = [
  { title: "Height", key: "height", cell: (b) => blockLink(b.height) },
  { title: "Id", key: "id", cls: "hide-narrow", cell: (b) => hash(b.id, "#/block/" + b.height) },
  { title: "Proposer", key: "proposer", cell: (b) => address(b.proposer) },
  { title: "Txs", key: "txs", cls: "num", cell: (b) => fmtInt(b.tx_count) },
  { title: "Time", key: "time", cell: (b) => time(b.timestamp_ms) },
];

const txColumns = [
  { title: "Hash", key: "hash", cell: (t) => txLink(t.hash) },
  { title: "Kind", key: "kind", cell: (t) => kindLabel(t.kind) },
  { title: "From", key: "from", cell: (t) => address(t.sender) },
  { title: "To / contract", key: "to", cls: "hide-narrow", cell: (t) => t.to ? address(t.to) : t.contract ? contractLink(t.contract) : h("span.muted", null, "—") },
  { title: "Amount", key: "amount", cls: "num", cell: (t) => t.amount ? tokens(t.amount) : h("span.muted", null, "—") },
  { title: "Block", key: "block", cls: "num", cell: (t) => blockLink(t.height) },
  { title: "Outcome", key: "outcome", cell: (t) => outcomeBadge(t.outcome) },
  { title: "Time", key: "time", cls: "hide-narrow", cell: (t) => time(t.timestamp_ms) },
];

// ---- pages ----

async function overview() {
  const [status, finality, peers, blocks, txs] = await Promise.all([
    api("/v1/status"), api("/v1/finality"), api("/v1/peers"),
    api("/v1/blocks?limit=8"), api("/v1/txs?limit=8"),
  ]);
  const samples = finality.samples;
  const last = samples[samples.length - 1];
  // The last 5 minutes of this node's clock.
  const recent = last ? samples.filter((x) => x.committed_ms >= last.committed_ms - 300000) : [];
  const minute = last ? samples.filter((x) => x.committed_ms > last.committed_ms - 60000) : [];
  let tps = null;
  if (minute.length >= 2) {
    const span = (minute[minute.length - 1].committed_ms - minute[0].committed_ms) / 1000;
    const count = minute.slice(1).reduce((n, x) => n + x.txs, 0);
    tps = span > 0 ? count / span : null;
  }
  const latencies = recent.map((x) => x.latency_ms).sort((a, b) => a - b);
  const median = latencies.length ? latencies[Math.floor(latencies.length / 2)] : null;
  const blockTime = recent.length >= 2 ? (recent[recent.length - 1].committed_ms - recent[0].committed_ms) / (recent.length - 1) : null;
  return [
    h("h1", null, "Overview", h("span.sub", null, status.chain_id)),
    h("div.cards", null,
      card("Finalized height", blockLink(status.finalized_height), "executed " + fmtInt(status.height), "finalized_height"),
      card("Finality latency", median === null ? "—" : fmtDuration(median), "median, last 5 min", "latency"),
      card("Throughput", tps === null ? "—" : tps.toFixed(tps < 10 ? 2 : 0) + " tx/s", "last minute", "tps"),
      card("Block time", blockTime === null ? "—" : fmtDuration(blockTime), "mean, last 5 min", "block_time"),
      card("Epoch", fmtInt(status.epoch), "view " + fmtInt(status.view), "epoch"),
      card("Peers", peers.networked ? fmtInt(peers.count) : "—", peers.networked ? "connected now" : "dev chain: no network", "peers"),
      card("Mempool", fmtInt(status.mempool_size), "transactions waiting", "mempool"),
    ),
    panel(h("span", null, "Finality latency", h("span.sub", null, " proposal to commit on this node, last " + recent.length + " blocks")),
      h("div.chart", null, latencyChart(recent))),
    h("div.grid2", null,
      panel(h("span", null, "Latest blocks ", link("#/blocks", "all blocks →")), table(blockColumns.filter((c) => c.key !== "id"), blocks.blocks)),
      panel(h("span", null, "Latest transactions ", link("#/txs", "all transactions →")),
        table(txColumns.filter((c) => ["hash", "kind", "amount", "block", "outcome"].includes(c.key)), txs.txs, "No transactions yet."))),
  ];
}

async function blocksPage(query) {
  const before = query.get("before");
  const page = await api("/v1/blocks?limit=" + PAGE + (before ? "&before=" + encodeURIComponent(before) : ""));
  return [
    h("h1", null, "Blocks", h("span.sub", null, page.blocks.length ? `heights ${fmtInt(page.blocks[page.blocks.length - 1].height)}–${fmtInt(page.blocks[0].height)}` : "")),
    panel(null, table(blockColumns, page.blocks, "No finalized block yet."),
      h("div.pager", null,
        before ? link("#/blocks", "← Newest") : h("span"),
        page.next_before ? link("#/blocks?before=" + page.next_before, "Older →") : h("span"))),
  ];
}

async function blockPage(height) {
  if (!/^\d+$/.test(height)) throw new ApiFailure(400, "bad_request", `“${height}” is not a block height`);
  const [block, txs] = await Promise.all([api("/v1/blocks/" + height), api("/v1/blocks/" + height + "/txs?limit=100")]);
  const status = await api("/v1/status");
  const more = block.txs.length - txs.txs.length;
  return [
    h("h1", null, "Block " + fmtInt(block.height),
      h("span.sub", null, block.height > 1 ? link("#/block/" + (block.height - 1), "← " + fmtInt(block.height - 1)) : null, " ",
        block.height < status.finalized_height ? link("#/block/" + (block.height + 1), fmtInt(block.height + 1) + " →") : null)),
    panel(null, kv([
      ["height", "Height", fmtInt(block.height)],
      ["id", "Id", hash(block.id, null, { full: true })],
      ["time", "Time", h("span", null, time(block.timestamp_ms), h("span.muted", null, " · " + new Date(block.timestamp_ms).toLocaleString()))],
      ["proposer", "Proposer", address(block.proposer)],
      ["epoch", "Epoch / view", fmtInt(block.epoch) + " / " + fmtInt(block.view)],
      ["parent", "Parent", block.height > 1 ? hash(block.parent, "#/block/" + (block.height - 1)) : hash(block.parent) ],
      ["state_root", "State root", hash(block.state_root)],
      ["tx_root", "Tx root", hash(block.tx_root)],
      ["tx_count", "Transactions", fmtInt(block.txs.length)],
    ])),
    panel("Transactions", table(txColumns.filter((c) => c.key !== "block" && c.key !== "time"), txs.txs, "No transactions in this block."),
      more > 0 ? h("p.muted", null, `and ${fmtInt(more)} more (the first 100 are shown)`) : null),
  ];
}

async function txsPage(query) {
  const before = query.get("before");
  const page = await api("/v1/txs?limit=" + PAGE + (before ? "&before=" + encodeURIComponent(before) : ""));
  return [
    h("h1", null, "Transactions", h("span.sub", null, "finalized, newest first")),
    panel(null, table(txColumns, page.txs, "No transactions in recent blocks."),
      h("div.pager", null,
        before ? link("#/txs", "← Newest") : h("span"),
        page.next ? link("#/txs?before=" + page.next, "Older →") : h("span"))),
  ];
}

function fieldValue(f) {
  switch (f.type) {
    case "address": return address(f.value);
    case "amount": return tokens(f.value);
    case "contract": return contractLink(f.value);
    case "hash": return hash(f.value);
    case "hex": return hash(f.value);
    case "bytes": return h("span", { title: fmtInt(f.value) + " bytes" }, fmtBytes(f.value));
    case "number": return fmtInt(f.value);
    default: return f.value;
  }
}

// A kind's plain fields as a list; its lists (`fragments[3].provider`) as
// tables, one row per element.
function fieldPanels(fields) {
  const plain = [];
  const lists = new Map();
  for (const f of fields.fields) {
    const m = f.name.match(/^(\w+)\[(\d+)\]\.(\w+)$/);
    if (!m) { plain.push(f); continue; }
    const [, list, index, column] = m;
    if (!lists.has(list)) lists.set(list, { columns: [], rows: new Map() });
    const t = lists.get(list);
    if (!t.columns.includes(column)) t.columns.push(column);
    if (!t.rows.has(index)) t.rows.set(index, { index });
    t.rows.get(index)[column] = f;
  }
  const out = [panel("Fields", plain.length ? kv(plain.map((f) => ["field:" + f.name, f.name.replace(/_/g, " "), fieldValue(f)]))
    : h("p.empty", null, lists.size ? "Only the lists below." : "This kind has no fields."))];
  for (const [list, t] of lists) {
    out.push(panel(h("span", null, list.replace(/_/g, " "), h("span.sub", null, " " + t.rows.size + (fields.truncated ? " shown (long lists are cut)" : ""))),
      table([{ title: "#", key: "index", cell: (r) => r.index }].concat(t.columns.map((c) => ({
        title: c.replace(/_/g, " "), key: list + "." + c, cell: (r) => r[c] ? fieldValue(r[c]) : "—",
      }))), [...t.rows.values()])));
  }
  return out;
}

async function txPage(id) {
  const [tx, fields] = await Promise.all([api("/v1/txs/" + encodeURIComponent(id)), api("/v1/txs/" + encodeURIComponent(id) + "/fields")]);
  let block = null;
  if (tx.height) block = await api("/v1/blocks/" + tx.height);
  const proofs = tx.proofs || [];
  return [
    h("h1", null, "Transaction", h("span.sub", null, kindLabel(tx.kind))),
    panel(null, kv([
      ["hash", "Hash", hash(tx.hash, null, { full: true })],
      ["status", "Status", outcomeBadge(tx.outcome, tx.status)],
      tx.reason ? ["reason", "Reason", h("span.wrap", null, tx.reason)] : null,
      ["kind", "Kind", kindLabel(tx.kind)],
      ["block", "Block", tx.height ? h("span", null, blockLink(tx.height), h("span.muted", null, " · index " + tx.index)) : h("span.muted", null, "not in a finalized block yet")],
      block ? ["time", "Time", h("span", null, time(block.timestamp_ms), h("span.muted", null, " · " + new Date(block.timestamp_ms).toLocaleString()))] : null,
      ["sender", "From", address(tx.sender)],
      ["nonce", "Nonce", fmtInt(tx.nonce)],
      ["fee", "Fee", tokens(tx.fee)],
    ])),
    fieldPanels(fields),
    proofs.length ? panel("Proof verdicts", table([
      { title: "#", cell: (p) => p.index },
      { title: "Contract", cell: (p) => contractLink(p.contract) },
      { title: "Fragment", cls: "num", cell: (p) => p.fragment },
      { title: "Period", cls: "num", cell: (p) => fmtInt(p.period) },
      { title: "Outcome", cell: (p) => h("span.badge." + (p.outcome === "accepted" ? "good" : "bad"), null, p.outcome) },
      { title: "Paid", cls: "num", cell: (p) => p.escrow_paid_base !== undefined && p.escrow_paid_base !== null ? tokens(tokensFromBase(p.escrow_paid_base)) : h("span.muted", { title: p.reason || "" }, p.reason || "—") },
    ], proofs)) : null,
  ];
}

async function accountPage(addr) {
  const [account, history, validators, providers] = await Promise.all([
    api("/v1/accounts/" + encodeURIComponent(addr)), api("/v1/accounts/" + encodeURIComponent(addr) + "/history?limit=50"),
    api("/v1/validators"), api("/v1/providers"),
  ]);
  const validator = validators.validators.find((v) => v.operator === account.address);
  const provider = providers.providers.find((p) => p.provider === account.address);
  const unbonding = account.unbonding || [];
  return [
    h("h1", null, "Account", validator ? h("span.badge.info", null, "validator") : null, provider ? h("span.badge.info", null, "provider") : null),
    panel(null, kv([
      ["address", "Address", hash(account.address, null, { full: true })],
      ["balance", "Balance", tokens(account.balance)],
      ["staked", "Staked", tokens(account.staked)],
      ["nonce", "Nonce", fmtInt(account.nonce)],
      unbonding.length ? ["unbonding", "Unbonding", h("span", null, unbonding.map((u, i) => h("span", null, i ? ", " : "", tokens(u.amount), " at epoch " + fmtInt(u.release_epoch))))] : null,
      validator ? ["validator", "Validator", h("span", null, validatorBadge(validator), " power " + fmtInt(validator.voting_power) + ", commission " + (validator.commission_bps / 100) + " % ", link("#/validators", "all validators →"))] : null,
      provider ? ["provider", "Provider", h("span", null, fmtBytes(provider.used_bytes) + " used of " + fmtBytes(provider.capacity_bytes) + " ", link("#/providers", "all providers →"))] : null,
    ])),
    panel(h("span", null, "History", h("span.sub", null, " sent, and transfers received; newest first")),
      table(txColumns.filter((c) => c.key !== "time"), history.txs, "No finalized transaction names this account.")),
  ];
}

function validatorBadge(v) {
  const cls = v.status === "active" ? "good" : v.status === "jailed" ? "bad" : "muted";
  return h("span.badge." + cls, null, v.status);
}

async function validatorsPage() {
  const [set, activity] = await Promise.all([api("/v1/validators"), api("/v1/validators/activity?blocks=100")]);
  const byOperator = new Map(activity.validators.map((a) => [a.operator, a]));
  const total = set.validators.reduce((n, v) => n + Number(v.voting_power || 0), 0);
  const rows = [...set.validators].sort((a, b) => Number(b.voting_power) - Number(a.voting_power));
  const blocks = activity.to_height >= activity.from_height ? activity.to_height - activity.from_height + 1 : 0;
  return [
    h("h1", null, "Validators", h("span.sub", null, "epoch " + fmtInt(set.epoch) + " · " + rows.length + " validators")),
    panel(null, table([
      { title: "Operator", key: "operator", cell: (v) => address(v.operator) },
      { title: "Status", key: "status", cell: (v) => h("span", null, validatorBadge(v), v.status === "jailed" ? h("span.muted", null, " until epoch " + fmtInt(v.jailed_until)) : null) },
      { title: "Self stake", key: "self_stake", cls: "num", cell: (v) => tokens(v.self_stake) },
      { title: "Delegated", key: "delegated", cls: "num", cell: (v) => tokens(v.delegated) },
      { title: "Voting power", key: "power", cls: "num", cell: (v) => h("span", { title: fmtInt(v.voting_power) + " base units" }, total ? percent(Number(v.voting_power) / total) : "—") },
      { title: "Commission", key: "commission", cls: "num", cell: (v) => (v.commission_bps / 100).toFixed(2) + " %" },
      { title: "Proposed", key: "proposed", cls: "num", cell: (v) => fmtInt((byOperator.get(v.operator) || {}).proposed || 0) },
      { title: "Signed", key: "signed", cls: "num", cell: (v) => {
        const a = byOperator.get(v.operator) || { signed: 0 };
        return h("span", { title: `${a.signed} of ${activity.certificates} finalization certificates` }, activity.certificates ? percent(a.signed / activity.certificates) : "—");
      } },
    ], rows, "No validators."),
    h("p.muted", null, blocks ? `Proposed and signed: over the last ${fmtInt(blocks)} finalized blocks (heights ${fmtInt(activity.from_height)}–${fmtInt(activity.to_height)}), ${fmtInt(activity.certificates)} finalization certificates.` : "No finalized block yet.")),
  ];
}

async function providersPage() {
  const [list, stats] = await Promise.all([api("/v1/providers"), api("/v1/providers/stats")]);
  const byProvider = new Map(stats.providers.map((s) => [s.provider, s]));
  const none = { fragments_active: 0, proofs_accepted: 0, proofs_missed: 0, bytes_active: 0 };
  return [
    h("h1", null, "Storage providers", h("span.sub", null, list.providers.length + " advertising")),
    panel(null, table([
      { title: "Provider", key: "provider", cell: (p) => address(p.provider) },
      { title: "Used / capacity", key: "capacity", cell: (p) => h("span.meter-row", null,
        h("span.meter", null, (() => { const s = h("span"); s.style.width = (p.capacity_bytes ? Math.min(100, 100 * p.used_bytes / p.capacity_bytes) : 0) + "%"; return s; })()),
        h("span", null, fmtBytes(p.used_bytes) + " / " + fmtBytes(p.capacity_bytes))) },
      { title: "Price / GiB·epoch", key: "price", cls: "num", cell: (p) => tokens(p.price_per_gib_epoch) },
      { title: "Collateral / GiB", key: "collateral", cls: "num", cell: (p) => tokens(p.collateral_per_gib) },
      { title: "Fragments", key: "fragments", cls: "num", cell: (p) => fmtInt((byProvider.get(p.provider) || none).fragments_active) },
      { title: "Proofs ok", key: "accepted", cls: "num", cell: (p) => fmtInt((byProvider.get(p.provider) || none).proofs_accepted) },
      { title: "Missed", key: "missed", cls: "num", cell: (p) => {
        const missed = (byProvider.get(p.provider) || none).proofs_missed;
        return missed ? h("span.badge.bad", null, fmtInt(missed)) : "0";
      } },
      { title: "Endpoint", key: "endpoint", cls: "wrap", cell: (p) => p.endpoint ? h("span.mono", { title: p.endpoint.peer_id }, (p.endpoint.multiaddrs || [])[0] || short(p.endpoint.peer_id)) : h("span.muted", null, "none") },
    ], list.providers, "No provider advertises capacity.")),
  ];
}

async function contractsPage(query) {
  const offset = query.get("offset") || "0";
  const page = await api("/v1/contracts?limit=" + PAGE + "&offset=" + encodeURIComponent(offset));
  const prev = Math.max(0, Number(offset) - PAGE);
  return [
    h("h1", null, "Storage contracts", h("span.sub", null, fmtInt(page.total) + " on chain, newest first")),
    panel(null, table([
      { title: "Contract", key: "id", cell: (c) => contractLink(c.id) },
      { title: "Client", key: "client", cell: (c) => address(c.client) },
      { title: "k + m", key: "km", cls: "num", cell: (c) => c.k + " + " + c.m },
      { title: "Size", key: "size", cls: "num", cell: (c) => h("span", { title: "fragment size " + fmtBytes(c.fragment_size) }, fmtBytes(c.fragment_size * c.k)) },
      { title: "Active", key: "active", cls: "num", cell: (c) => c.active + " / " + (c.k + c.m) },
      { title: "Health", key: "health", cell: (c) => healthMeter(c.health) },
      { title: "Escrow left", key: "escrow", cls: "num", cell: (c) => tokens(c.escrow_left) },
      { title: "Since block", key: "start", cls: "num", cell: (c) => blockLink(c.start_height) },
    ], page.contracts, "No storage contract yet."),
    h("div.pager", null,
      Number(offset) > 0 ? link("#/contracts?offset=" + prev, "← Newer") : h("span"),
      page.next_offset ? link("#/contracts?offset=" + page.next_offset, "Older →") : h("span"))),
  ];
}

async function contractPage(id) {
  const c = await api("/v1/contracts/" + encodeURIComponent(id));
  const active = c.fragments.filter((f) => f.status === "active").length;
  const health = (active - c.k) / Math.max(1, c.m);
  const escrowBase = c.fragments.reduce((n, f) => n + BigInt(f.escrow_left_base), 0n);
  return [
    h("h1", null, "Storage contract", h("span.sub", null, c.k + " + " + c.m + " fragments")),
    panel(null, kv([
      ["id", "Contract", hash(c.id, null, { full: true })],
      ["client", "Client", address(c.client)],
      ["object_root", "Object root", hash(c.object_root)],
      ["km", "Fragments (k + m)", c.k + " data + " + c.m + " parity = " + (c.k + c.m)],
      ["fragment_size", "Fragment size", h("span", { title: fmtInt(c.fragment_size) + " bytes" }, fmtBytes(c.fragment_size))],
      ["health", "Health (active − k) / m", h("span", null, healthMeter(health), h("span.muted", null, ` ${active} active of ${c.k + c.m}; readable while at least ${c.k} are`))],
      ["escrow_left", "Escrow left", tokens(tokensFromBase(escrowBase.toString()))],
      ["price", "Price / GiB·epoch", tokens(c.price_per_gib_epoch)],
      ["start", "Created at block", blockLink(c.start_height)],
      ["periods", "Proof periods", fmtInt(c.first_period) + " – " + fmtInt(c.last_period)],
    ])),
    panel("Fragments", table([
      { title: "#", key: "index", cell: (f) => f.index },
      { title: "Provider", key: "provider", cell: (f) => address(f.provider) },
      { title: "Status", key: "status", cell: (f) => h("span.badge." + (f.status === "active" ? "good" : f.status === "lost" ? "bad" : "muted"), null, f.status) },
      { title: "Proofs ok", key: "accepted", cls: "num", cell: (f) => fmtInt(f.accepted) },
      { title: "Missed", key: "misses", cls: "num", cell: (f) => fmtInt(f.misses) },
      { title: "Escrow left", key: "escrow", cls: "num", cell: (f) => tokens(f.escrow_left) },
      { title: "Collateral", key: "collateral", cls: "num", cell: (f) => tokens(f.collateral_left) },
      { title: "Root", key: "root", cls: "hide-narrow", cell: (f) => hash(f.root) },
    ], c.fragments)),
  ];
}

// What the search box understands, said where a search or a route fails.
const SEARCH_TAKES = "Search takes an address (sherd1…), a transaction hash, a block height or block id, or a contract id.";

// The search route: resolve, then go to the page (replacing this entry).
async function searchPage(q) {
  const text = q.trim();
  document.getElementById("q").value = text;
  const hit = await api("/v1/search?q=" + encodeURIComponent(text)).catch((e) => {
    if (e instanceof ApiFailure && (e.status === 400 || e.status === 404)) {
      return { error: e };
    }
    throw e;
  });
  if (hit.error) {
    return [
      h("h1", null, "Search"),
      notice(hit.error.status === 404 ? "Nothing found" : "Not a valid search", hit.error.message),
      h("p.muted", null, SEARCH_TAKES),
    ];
  }
  location.replace("#/" + hit.kind + "/" + hit.key);
  return null;
}

// ---- routing ----

// A page of one thing also answers to the plural, as the API spells its
// paths (#/blocks/12 as /v1/blocks/12); the explorer's own links use the
// singular.
const routes = [
  [/^$/, "overview", overview],
  [/^blocks$/, "blocks", blocksPage],
  [/^blocks?\/(.+)$/, "blocks", blockPage],
  [/^txs$/, "txs", txsPage],
  [/^txs?\/(.+)$/, "txs", txPage],
  [/^accounts?\/(.+)$/, null, accountPage],
  [/^validators$/, "validators", validatorsPage],
  [/^providers$/, "providers", providersPage],
  [/^contracts$/, "contracts", contractsPage],
  [/^contracts?\/(.+)$/, "contracts", contractPage],
  [/^search\/(.*)$/, null, searchPage],
];

function parseRoute() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, search] = raw.split("?");
  let decoded = path;
  try { decoded = decodeURIComponent(path); } catch (e) { decoded = path; }
  const query = new URLSearchParams(search || "");
  for (const [pattern, tab, render] of routes) {
    const m = decoded.match(pattern);
    if (m) return { tab, render: () => render(...m.slice(1), query), key: raw };
  }
  return { tab: null, render: async () => [h("h1", null, "No such page"), notice("No such page", `“#/${decoded}” is not a page of the explorer; try the search box above. ${SEARCH_TAKES}`)], key: raw };
}

let generation = 0;
let shownKey = null;

async function show(quiet) {
  const route = parseRoute();
  const mine = ++generation;
  for (const a of document.querySelectorAll(".tabs a")) a.classList.toggle("active", a.dataset.tab === route.tab);
  const view = document.getElementById("view");
  if (!quiet) view.setAttribute("aria-busy", "true");
  let content;
  try {
    content = await route.render();
    setLive(true);
  } catch (e) {
    if (e instanceof ApiFailure && e.status === 0) setLive(false, e.message);
    content = [failure(e)];
  }
  if (mine !== generation || content === null) return;
  // A refresh that fails keeps the page shown and says so in the footer.
  if (quiet && content.length === 1 && content[0].classList && content[0].classList.contains("error") && shownKey === route.key) return;
  view.replaceChildren(...content.flat(Infinity).filter(Boolean));
  view.removeAttribute("aria-busy");
  view.dataset.page = route.key;
  if (!quiet) window.scrollTo(0, 0);
  shownKey = route.key;
}

function setLive(ok, why) {
  const el = document.getElementById("live");
  el.classList.toggle("down", !ok);
  el.classList.toggle("paused", ok && document.hidden);
  el.textContent = !ok ? "node unreachable: " + why : document.hidden ? "paused (tab hidden)" : "live · refreshed " + new Date().toLocaleTimeString();
}

async function header() {
  try {
    const s = await api("/v1/status");
    document.getElementById("chain").textContent = s.chain_id + (s.dev ? " (dev)" : "");
    document.getElementById("node").textContent = "node " + location.host + " · sherd " + s.version;
    document.title = "sherd explorer · " + s.chain_id;
  } catch (e) {
    setLive(false, e.message);
  }
}

// ---- theme ----

function applyTheme(theme) {
  if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
}

function currentTheme() {
  return document.documentElement.dataset.theme || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
}

function storedTheme() {
  try { return localStorage.getItem("sherd-theme"); } catch (e) { return null; }
}

applyTheme(storedTheme());

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("theme").addEventListener("click", () => {
    const next = currentTheme() === "dark" ? "light" : "dark";
    applyTheme(next);
    try { localStorage.setItem("sherd-theme", next); } catch (e) { /* private mode: not remembered */ }
  });
  document.getElementById("search").addEventListener("submit", (e) => {
    e.preventDefault();
    const q = document.getElementById("q").value.trim();
    const target = "#/search/" + encodeURIComponent(q);
    if (location.hash === target) show(false);
    else location.hash = target;
  });
  window.addEventListener("hashchange", () => show(false));
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) show(true);
    setLive(!document.getElementById("live").classList.contains("down"));
  });
  setInterval(() => {
    if (!document.hidden && !location.hash.startsWith("#/search/")) show(true);
  }, REFRESH_MS);
  header();
  show(false);
});
