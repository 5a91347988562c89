// hanyi page: call POST /api/translate, show the translation, its n-best alternatives and
// the cross-attention heat-map (drawn on a <canvas>; no libraries, no CDN); translate a
// document in a format (Markdown, HTML) or an uploaded file, with a glossary.
"use strict";

const $ = (id) => document.getElementById(id);
let current = null;  // the last response's attention: {src_tokens, tgt_tokens, weights, ...}
let attentionAvailable = true;  // false when the server's engine has none (CTranslate2)

async function translate() {
  const text = $("src").value;
  if (!text.trim()) { $("src").focus(); return; }
  const beam = Number($("beam").value);
  const format = $("format").value;
  let glossary;
  try { glossary = readGlossary(); } catch (err) { showError(err.message); return; }
  // a whole document has no alternatives or attention map: just its translation
  const body = format === "text" ?
    { text, beam, nbest: Math.min(Number($("nbest").value), beam),
      attention_heads: attentionAvailable } :
    { text, beam, format, inline: $("inline").value };
  if (glossary) body.glossary = glossary;
  $("output").dataset.state = "busy";
  setBusy(true);
  const t0 = performance.now();
  try {
    const headers = authHeaders({ "Content-Type": "application/json" });
    const post = () => fetch("/api/translate", {
      method: "POST", headers, body: JSON.stringify(body) });
    let response = await post();
    let data = await response.json().catch(() => ({ error: response.statusText }));
    if (response.status === 400 && body.attention_heads &&
        /attention weights are not available/.test(data.error || "")) {
      // asked before /api/health answered: this server's engine has no attention map
      attentionAvailable = false;
      body.attention_heads = false;
      response = await post();
      data = await response.json().catch(() => ({ error: response.statusText }));
    }
    const roundTrip = performance.now() - t0;
    if (response.status === 401 || response.status === 403) $("key-box").hidden = false;
    if (!response.ok) { showError(`${response.status}: ${data.error || "request failed"}`); return; }
    showResult(data, roundTrip);
  } catch (err) {
    showError(`could not reach the server (${err.message})`);
  } finally {
    setBusy(false);
  }
}

function authHeaders(headers) {
  const key = $("api-key").value.trim();
  if (key) headers.Authorization = `Bearer ${key}`;  // kept in this page only, never stored
  return headers;
}

// "English term = 中文" (or a tab between) per line -> {term: 中文}; null when empty.
function readGlossary() {
  const terms = {};
  $("glossary").value.split("\n").forEach((line, i) => {
    if (!line.trim() || line.trim().startsWith("#")) return;
    const parts = line.includes("\t") ? line.split("\t") : line.split("=");
    if (parts.length !== 2 || !parts[0].trim() || !parts[1].trim()) {
      throw new Error(`glossary line ${i + 1}: write "English term = 中文"`);
    }
    terms[parts[0].trim()] = parts[1].trim();
  });
  return Object.keys(terms).length ? terms : null;
}

async function translateFile() {
  const file = $("file").files[0];
  if (!file) { $("file").click(); return; }
  let glossary;
  try { glossary = readGlossary(); } catch (err) { showError(err.message); return; }
  const form = new FormData();
  form.append("file", file);
  form.append("inline", $("inline").value);  // Markdown and HTML files; others ignore it
  if (glossary) form.append("glossary", JSON.stringify(glossary));
  $("translate-file").disabled = true;
  $("translate-file").textContent = "Translating…";
  $("download").hidden = true;
  try {
    const response = await fetch("/api/translate_file", {
      method: "POST", headers: authHeaders({}), body: form });
    if (response.status === 401 || response.status === 403) $("key-box").hidden = false;
    if (!response.ok) {
      const data = await response.json().catch(() => ({ error: response.statusText }));
      showError(`${response.status}: ${data.error || "request failed"}`);
      return;
    }
    const name = (/filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "")
                  || [null, "translation.txt"])[1];
    const link = $("download");
    if (link.href) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(await response.blob());
    link.download = name;
    link.textContent = `Download ${name}`;
    link.hidden = false;
    $("error").hidden = true;
  } catch (err) {
    showError(`could not reach the server (${err.message})`);
  } finally {
    $("translate-file").disabled = false;
    $("translate-file").textContent = "Translate file";
  }
}

function setBusy(busy) {
  $("translate").disabled = busy;
  $("translate").classList.toggle("busy", busy);
  $("translate").textContent = busy ? "Translating…" : "Translate";
}

function showError(message) {
  // The previous translation goes: under a red message it would read as this text's.
  $("error").textContent = message;
  $("error").hidden = false;
  $("output").dataset.state = "error";
  $("output").textContent = "";
  $("copy").disabled = true;
  $("time").textContent = "";
  $("confidence").textContent = "";
  $("output").classList.remove("low");
  $("alternatives").replaceChildren();
  current = null;
  $("attention-panel").hidden = true;
}

const LOW_CONFIDENCE = 0.5;  // below this the translation is marked (docs/serve.md)

function showConfidence(confidence) {
  const low = confidence < LOW_CONFIDENCE;
  $("confidence").textContent = `confidence ${confidence.toFixed(2)}` +
                                (low ? " — low: check this translation" : "");
  $("confidence").classList.toggle("low", low);
  $("output").classList.toggle("low", low);
}

function showResult(data, roundTrip) {
  $("output").dataset.state = "done";  // for tests: the answer is on the page
  $("error").hidden = true;
  $("output").textContent = data.translation;
  showConfidence(data.confidence);
  $("copy").disabled = !data.translation;
  $("time").textContent = `${data.time_ms.toFixed(0)} ms on the server, ` +
                          `${roundTrip.toFixed(0)} ms round trip`;
  const list = $("alternatives");
  list.replaceChildren();
  for (const alt of data.alternatives.slice(1)) {
    const li = document.createElement("li");
    li.textContent = alt.text;
    const score = document.createElement("span");
    score.textContent = alt.score === null ? "" : `score ${alt.score.toFixed(3)}`;
    li.appendChild(score);
    list.appendChild(li);
  }
  current = data.attention;
  $("attention-panel").hidden = !current;
  if (current) { fillSelectors(current); drawHeatmap(); }
}

function fillSelectors(att) {
  const fill = (select, options, keep) => {
    const old = select.value;
    select.replaceChildren(...options.map(([value, label]) => new Option(label, value)));
    if (keep && options.some(([value]) => value === old)) select.value = old;
  };
  const layers = [...Array(att.layers).keys()].map((i) => [String(i), `${i + 1} of ${att.layers}`]);
  fill($("layer"), layers, true);
  if (!$("layer").dataset.touched) $("layer").value = String(att.layers - 1);
  const heads = [["mean", "mean of heads"]].concat(
    [...Array(att.heads).keys()].map((i) => [String(i), `${i + 1}`]));
  fill($("head"), heads, true);
}

// The (T, S) matrix for the chosen layer and head (or the mean over heads).
function selectedMatrix() {
  const layer = current.weights[Number($("layer").value)];
  if (!current.per_head) return layer;  // already averaged: (T, S)
  const head = $("head").value;
  if (head !== "mean") return layer[Number(head)];
  return layer[0].map((row, t) => row.map((_, s) =>
    layer.reduce((sum, h) => sum + h[t][s], 0) / layer.length));
}

function drawHeatmap() {
  const canvas = $("heatmap");
  const ctx = canvas.getContext("2d");
  const src = current.src_tokens, tgt = current.tgt_tokens, m = selectedMatrix();
  const font = "13px system-ui, sans-serif";
  ctx.font = font;
  const widest = (tokens) => Math.max(20, ...tokens.map((t) => ctx.measureText(t).width));
  const avail = canvas.parentElement.clientWidth || 600;
  const left = widest(tgt) + 10, top = widest(src) * 0.75 + 14;
  const cell = Math.max(16, Math.min(34, Math.floor((avail - left - 4) / Math.max(1, src.length))));
  const ratio = window.devicePixelRatio || 1;
  const width = left + cell * src.length + 4, height = top + cell * tgt.length + 4;
  canvas.width = width * ratio; canvas.height = height * ratio;
  canvas.style.width = `${width}px`; canvas.style.height = `${height}px`;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, width, height);
  ctx.font = font; ctx.fillStyle = "#1b1f24";
  ctx.textAlign = "right"; ctx.textBaseline = "middle";
  tgt.forEach((tok, t) => ctx.fillText(tok, left - 6, top + t * cell + cell / 2));
  src.forEach((tok, s) => {  // source tokens along the top, slanted to fit
    ctx.save();
    ctx.translate(left + s * cell + cell / 2, top - 6);
    ctx.rotate(-Math.PI / 4);
    ctx.textAlign = "left";
    ctx.fillText(tok, 0, 0);
    ctx.restore();
  });
  for (let t = 0; t < tgt.length; t++) {
    for (let s = 0; s < src.length; s++) {
      ctx.fillStyle = colour(m[t][s]);
      ctx.fillRect(left + s * cell, top + t * cell, cell - 1, cell - 1);
    }
  }
  canvas.dataset.rendered = "true";
  canvas.dataset.rows = String(tgt.length);
  canvas.dataset.cols = String(src.length);
  canvas.onmousemove = (event) => describeCell(event, left, top, cell, m);
}

// 0 -> white, 1 -> dark blue (sqrt so that small weights stay visible).
function colour(w) {
  const v = Math.sqrt(Math.max(0, Math.min(1, w)));
  const mix = (a, b) => Math.round(a + (b - a) * v);
  return `rgb(${mix(255, 13)}, ${mix(255, 50)}, ${mix(255, 110)})`;
}

function describeCell(event, left, top, cell, m) {
  const box = event.target.getBoundingClientRect();
  const s = Math.floor((event.clientX - box.left - left) / cell);
  const t = Math.floor((event.clientY - box.top - top) / cell);
  const ok = t >= 0 && s >= 0 && t < current.tgt_tokens.length && s < current.src_tokens.length;
  $("cell-info").textContent = ok ?
    `${current.tgt_tokens[t]} ← ${current.src_tokens[s]}: ${m[t][s].toFixed(3)}` : "";
}

async function copyTranslation() {
  const text = $("output").textContent;
  try {
    await navigator.clipboard.writeText(text);
  } catch (err) {  // no clipboard API (plain http on a non-local host): select and copy
    const area = document.createElement("textarea");
    area.value = text; document.body.appendChild(area); area.select();
    document.execCommand("copy"); area.remove();
  }
  $("copy").textContent = "Copied";
  setTimeout(() => { $("copy").textContent = "Copy"; }, 1200);
}

async function showModel() {
  try {
    const health = await (await fetch("/api/health")).json();
    $("model-info").textContent =
      `model ${health.model} (${health.engine}), hanyi ${health.version}`;
    attentionAvailable = health.attention !== false;
  } catch (err) { /* the page still works without it */ }
}

$("translate").addEventListener("click", translate);
$("src").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); translate(); }
});
$("copy").addEventListener("click", copyTranslation);
$("translate-file").addEventListener("click", translateFile);
$("layer").addEventListener("change", () => { $("layer").dataset.touched = "1"; drawHeatmap(); });
$("head").addEventListener("change", drawHeatmap);
window.addEventListener("resize", () => { if (current) drawHeatmap(); });
showModel();
