// vidserve studio: one more client of the public HTTP API (no private endpoints, no build step, no CDN).
"use strict";

const app = document.getElementById("app");
const KEY = "vidserve-api-key";
const blobs = new Map(); // url -> object URL (videos and images need the Authorization header)
let streams = []; // open SSE readers of the current page
let keyHandler = null;

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) el.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return el;
}

function headers(extra = {}) {
  const key = sessionStorage.getItem(KEY);
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

async function askKey() {
  const dialog = document.getElementById("key-dialog");
  dialog.showModal();
  await new Promise((resolve) => dialog.addEventListener("close", resolve, { once: true }));
  sessionStorage.setItem(KEY, document.getElementById("key-input").value.trim());
  document.getElementById("forget-key").hidden = false;
}

async function api(path, options = {}) {
  for (let attempt = 0; attempt < 3; attempt++) {
    const opts = { ...options, headers: headers(options.headers || {}) };
    const r = await fetch(path, opts);
    if (r.status === 401) { await askKey(); continue; }
    if (!r.ok) {
      let msg = `${r.status}`;
      try { msg = (await r.json()).error.message; } catch (e) { /* not JSON */ }
      throw new Error(msg);
    }
    return r;
  }
  throw new Error("no valid API key");
}
const getJSON = async (path) => (await api(path)).json();
const sendJSON = async (path, body, method = "POST") =>
  (await api(path, { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) })).json();

async function blobURL(path) {
  if (!blobs.has(path)) blobs.set(path, URL.createObjectURL(await (await api(path)).blob()));
  return blobs.get(path);
}

function fmtCost(cost, perTake = false) {
  const gb = cost.peak_vram_bytes ? ` · peak ${(cost.peak_vram_bytes / 1024 ** 3).toFixed(2)} GiB` : "";
  const takes = perTake ? "" : `${cost.takes} take${cost.takes === 1 ? "" : "s"} · `;
  return `${takes}${cost.gpu_seconds.toFixed(1)} GPU-s${gb}`;
}

function showError(err) {
  const box = document.getElementById("errors");
  if (box) box.textContent = String(err.message || err);
}

// Server-Sent Events over fetch (EventSource cannot send the Authorization header).
async function follow(videoId, onEvent) {
  const ctrl = new AbortController();
  streams.push(ctrl);
  try {
    const r = await fetch(`/v1/videos/${videoId}/events`, { headers: headers(), signal: ctrl.signal });
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const frame = buf.slice(0, i); buf = buf.slice(i + 2);
        const name = (frame.match(/^event: (.*)$/m) || [])[1];
        const data = (frame.match(/^data: (.*)$/m) || [])[1];
        if (name && data) onEvent(name, JSON.parse(data));
      }
    }
  } catch (e) { /* aborted or closed */ }
}

function crumbs(...links) {
  const nav = document.getElementById("crumbs");
  nav.replaceChildren(...links.map(([text, href]) => h("a", { href }, text)));
}

// --- pages ---

async function projectsPage() {
  crumbs();
  const projects = (await getJSON("/v1/projects")).data;
  const form = h("form", { class: "panel", id: "new-project" },
    h("h3", {}, "New project"),
    h("label", {}, "Name", h("input", { name: "name", required: true })),
    h("label", {}, "Aspect ratio", h("select", { name: "aspect_ratio" },
      ["", "16:9", "9:16", "1:1", "4:3", "3:4", "21:9"].map((v) => h("option", { value: v }, v || "model default")))),
    h("label", {}, "Resolution", h("select", { name: "resolution" },
      ["", "480p", "720p", "1080p"].map((v) => h("option", { value: v }, v || "model default")))),
    h("label", {}, "Model", h("input", { name: "model", placeholder: "server default" })),
    h("label", {}, "Visual bible", h("textarea", { name: "visual_bible" })),
    h("button", { class: "primary", type: "submit" }, "Create project"),
    h("p", { class: "error", id: "errors" }));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = Object.fromEntries([...new FormData(form)].filter(([, v]) => v !== ""));
    try { const p = await sendJSON("/v1/projects", body); location.hash = `#/project/${p.id}`; } catch (e) { showError(e); }
  });
  const cards = h("div", { class: "cards" }, projects.map((p) =>
    h("a", { class: "card project", href: `#/project/${p.id}` },
      h("div", { class: "body" }, h("h3", {}, p.name),
        h("div", { class: "dim" }, `${p.shots} shots · ${p.aspect_ratio || "default shape"} ${p.resolution || ""}`),
        h("div", { class: "dim" }, fmtCost(p.cost))))));
  app.replaceChildren(h("h1", {}, "Projects"), h("div", { class: "row" }, cards, form));
}

async function boardPage(projectId) {
  const [project, shots] = await Promise.all([getJSON(`/v1/projects/${projectId}`),
    getJSON(`/v1/projects/${projectId}/shots`)]);
  crumbs([project.name, `#/project/${projectId}`], ["dailies", `#/project/${projectId}/dailies`]);
  const form = h("form", { class: "panel", id: "new-shot" },
    h("h3", {}, "Add a shot"),
    h("label", {}, "Name", h("input", { name: "name", placeholder: "wide establishing" })),
    h("label", {}, "Scene", h("input", { name: "scene" })),
    h("label", {}, "Description", h("textarea", { name: "description" })),
    h("label", {}, "Prompt", h("textarea", { name: "prompt", placeholder: "default: the description" })),
    h("label", {}, "Camera move", h("input", { name: "camera_move" })),
    h("label", {}, "Duration (s)", h("input", { name: "duration", type: "number", step: "0.1", min: "0.1" })),
    h("label", {}, "Acceptance note", h("input", { name: "acceptance_note" })),
    h("label", {}, "Keyframe", h("input", { name: "keyframe", type: "file", accept: "image/*" })),
    h("label", {}, "Reference still", h("input", { name: "reference_1", type: "file", accept: "image/*" })),
    h("button", { class: "primary", type: "submit" }, "Add shot"),
    h("p", { class: "error", id: "errors" }));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    for (const [k, v] of [...data]) if (v === "" || (v instanceof File && !v.size)) data.delete(k);
    try { await api(`/v1/projects/${projectId}/shots`, { method: "POST", body: data }); route(); } catch (e) { showError(e); }
  });
  const handoff = h("div", { class: "toolbar", id: "handoff" },
    h("button", { id: "build-handoff", onclick: () => buildHandoff(projectId, project.name) }, "Build handoff"),
    h("span", { class: "dim", id: "handoff-status" }));
  const cards = h("div", { class: "cards", id: "board" }, shots.data.map((s) => {
    const img = h("img", { alt: "" });
    if (s.keyframe_url) blobURL(s.keyframe_url).then((u) => { img.src = u; });
    return h("a", { class: "card shot", href: `#/shot/${s.id}`, "data-shot": s.id },
      h("div", { class: "thumb" }, s.keyframe_url ? img : h("span", { class: "dim" }, "no keyframe")),
      h("div", { class: "body" },
        h("b", {}, `${String(s.order).padStart(2, "0")} ${s.name || s.description.slice(0, 40) || "shot"}`), " ",
        h("span", { class: `badge ${s.status}` }, s.status.replace("_", " ")),
        h("div", { class: "dim" }, s.camera_move || ""),
        h("div", { class: "dim" }, fmtCost(s.cost))));
  }));
  app.replaceChildren(h("h1", {}, project.name), h("p", { class: "dim" },
    `${project.aspect_ratio || "model's"} shape ${project.resolution || ""} · ${fmtCost(project.cost)}`),
    handoff, h("div", { class: "row" }, cards, form));
}

async function buildHandoff(projectId, name) {
  const status = document.getElementById("handoff-status");
  try {
    await api(`/v1/projects/${projectId}/handoff`, { method: "POST" });
    for (;;) {
      const s = await getJSON(`/v1/projects/${projectId}/handoff/status`);
      status.textContent = `handoff ${s.status} (${s.selects} selects)`;
      if (s.status === "completed") break;
      if (s.status === "failed") throw new Error(s.error);
      await new Promise((r) => setTimeout(r, 500));
    }
    const url = URL.createObjectURL(await (await api(`/v1/projects/${projectId}/handoff`)).blob());
    const a = h("a", { href: url, download: `${name.replace(/[^\w-]+/g, "_")}_handoff.zip`, id: "handoff-link" },
      "Download handoff");
    status.replaceChildren(a);
    a.click();
  } catch (e) { status.textContent = String(e.message || e); }
}

function takeCard(take, onReview) {
  const video = h("video", { controls: true, muted: true, loop: true, playsinline: true, preload: "auto" });
  const bar = h("progress", { max: "100", value: String(take.progress || 0) });
  const state = h("span", { class: "dim state" }, take.state);
  const note = h("input", { placeholder: "note (why)", class: "note", "aria-label": "note" });
  const notes = h("ul", { class: "notes" }, (take.notes || []).map((n) => h("li", {}, n.note)));
  const verdictBtn = (v, label) => h("button", { class: `v-${v}`, "data-verdict": v, "aria-pressed": String(take.verdict === v),
    onclick: () => onReview(take, v, note) }, label);
  const card = h("div", { class: "take", "data-take": take.id, tabindex: "0" },
    h("div", {}, h("b", {}, `take ${take.take_number}`), " ", h("span", { class: "dim" }, `seed ${take.seed}`), " ",
      take.verdict ? h("span", { class: `badge ${take.verdict}` }, take.verdict) : "", " ", state),
    video, take.state === "completed" ? "" : bar,
    h("div", { class: "verdicts toolbar" }, verdictBtn("select", "1 select"), verdictBtn("maybe", "2 maybe"),
      verdictBtn("reject", "3 reject")),
    h("div", { class: "toolbar" }, note, h("button", { class: "add-note", onclick: () => onReview(take, undefined, note) }, "add note")),
    notes,
    (take.warnings || []).map((w) => h("p", { class: "warning" }, w)),
    h("div", { class: "toolbar dim" }, `${take.size} · `, fmtCost(take.cost, true)));
  const load = () => blobURL(take.outputs.video).then((u) => {
    video.src = u;
    video.addEventListener("loadeddata", () => { card.dataset.ready = "true"; }, { once: true });
  });
  if (take.state === "completed") load();
  else if (!["failed", "cancelled"].includes(take.state)) {
    follow(take.id, (name, data) => {
      if (name === "progress" && data.progress !== undefined) bar.value = data.progress;
      state.textContent = data.state || name;
      if (name === "completed") { take.outputs = data.outputs; bar.remove(); load(); }
    });
  }
  return card;
}

function stills(shot) {
  const urls = [["keyframe", shot.keyframe_url], ["last image", shot.last_image_url],
    ...Object.entries(shot.reference_urls || {}).map(([k, u]) => [k.replace("_", " "), u])].filter(([, u]) => u);
  return h("div", { class: "stills row" }, urls.map(([label, url]) => {
    const img = h("img", { alt: label, title: label });
    blobURL(url).then((u) => { img.src = u; });
    return h("figure", {}, img, h("figcaption", { class: "dim" }, label));
  }));
}

async function shotPage(shotId) {
  const shot = await getJSON(`/v1/shots/${shotId}`);
  const project = await getJSON(`/v1/projects/${shot.project_id}`);
  const takes = (await getJSON(`/v1/shots/${shotId}/takes`)).data;
  crumbs([project.name, `#/project/${project.id}`], [`shot ${shot.order}`, `#/shot/${shotId}`]);
  let focus = Math.max(0, takes.findIndex((t) => t.verdict === "select"));
  const review = async (take, verdict, noteInput) => {
    const body = {};
    if (verdict !== undefined) body.verdict = take.verdict === verdict ? null : verdict;
    if (noteInput.value) body.note = noteInput.value;
    if (!Object.keys(body).length) return;
    try { await sendJSON(`/v1/videos/${take.id}/review`, body); route(); } catch (e) { showError(e); }
  };
  const cards = takes.map((t) => takeCard(t, review));
  const grid = h("div", { class: "takes", id: "takes" }, cards);
  const videos = () => [...grid.querySelectorAll("video")];
  const scrub = h("input", { type: "range", min: "0", max: "1000", value: "0", "aria-label": "scrub all" });
  scrub.addEventListener("input", () => videos().forEach((v) => {
    if (v.duration) v.currentTime = (scrub.value / 1000) * v.duration;
  }));
  const playAll = () => {
    const vs = videos();
    const paused = vs.every((v) => v.paused);
    vs.forEach((v) => { v.currentTime = vs[0] ? vs[0].currentTime : 0; if (paused) v.play().catch(() => {}); else v.pause(); });
  };
  const setFocus = (i) => {
    focus = Math.min(Math.max(i, 0), cards.length - 1);
    cards.forEach((c, j) => c.classList.toggle("focused", j === focus));
  };
  setFocus(focus);
  const n = h("input", { type: "number", min: "1", max: "8", value: "3", id: "n-takes", "aria-label": "takes" });
  const generate = async () => {
    try { await sendJSON(`/v1/shots/${shotId}/takes`, { n: Number(n.value) }); route(); } catch (e) { showError(e); }
  };
  const focused = () => takes[focus];
  const chain = async (kind) => {
    const t = focused();
    if (!t) return;
    const prompt = kind === "post" ? null : window.prompt(`${kind}: prompt`, shot.prompt || shot.description);
    if (prompt === null && kind !== "post") return;
    const meta = { studio_shot: shot.id, studio_project: project.id, project: project.name.slice(0, 64), shot: String(shot.order) };
    const bodies = {
      extend: { prompt, seconds: (t.spec.num_frames / t.spec.fps) * 2, metadata: meta },
      remix: { prompt },
      post: { post: { interpolate: { factor: 2 } } },
    };
    try { await sendJSON(`/v1/videos/${t.id}/${kind}`, bodies[kind]); route(); } catch (e) { showError(e); }
  };
  app.replaceChildren(
    h("h1", {}, `${String(shot.order).padStart(2, "0")} ${shot.name || "shot"} `, h("span", { class: `badge ${shot.status}` }, shot.status)),
    stills(shot),
    h("p", {}, shot.description), h("p", { class: "dim" },
      [shot.camera_move, shot.duration ? `${shot.duration}s` : "", shot.acceptance_note].filter(Boolean).join(" · ")),
    h("div", { class: "toolbar" }, h("button", { class: "primary", id: "generate", onclick: generate }, "Generate"), n,
      h("span", {}, takes.length ? "more takes" : "takes"), " ",
      h("button", { onclick: () => chain("extend") }, "extend focused"),
      h("button", { onclick: () => chain("remix") }, "remix focused"),
      h("button", { onclick: () => chain("post") }, "post: interpolate ×2")),
    h("div", { class: "toolbar" }, h("button", { id: "play-all", onclick: playAll }, "▶ play all"), scrub,
      h("span", { class: "dim" }, h("kbd", {}, "space"), " play · ", h("kbd", {}, "←"), h("kbd", {}, "→"), " take · ",
        h("kbd", {}, "1"), h("kbd", {}, "2"), h("kbd", {}, "3"), " select/maybe/reject")),
    h("p", { class: "error", id: "errors" }), grid);
  keyHandler = (ev) => {
    if (["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName)) return;
    if (ev.key === " ") { ev.preventDefault(); playAll(); }
    else if (ev.key === "ArrowRight") setFocus(focus + 1);
    else if (ev.key === "ArrowLeft") setFocus(focus - 1);
    else if (["1", "2", "3"].includes(ev.key) && focused()) {
      review(focused(), { 1: "select", 2: "maybe", 3: "reject" }[ev.key], cards[focus].querySelector(".note"));
    }
  };
}

async function dailiesPage(projectId) {
  const project = await getJSON(`/v1/projects/${projectId}`);
  const since = Date.now() / 1000 - 7 * 24 * 3600;
  const daily = await getJSON(`/v1/projects/${projectId}/dailies?since=${since}`);
  crumbs([project.name, `#/project/${projectId}`], ["dailies", `#/project/${projectId}/dailies`]);
  app.replaceChildren(h("h1", {}, `${project.name}: dailies (7 days)`), ...daily.shots.map((g) => h("section", {},
    h("h2", {}, h("a", { href: `#/shot/${g.shot.id}` }, `${String(g.shot.order).padStart(2, "0")} ${g.shot.name || "shot"}`)),
    h("div", { class: "takes" }, g.takes.map((t) => takeCard(t, async (take, verdict, note) => {
      const body = verdict === undefined ? { note: note.value } : { verdict, ...(note.value ? { note: note.value } : {}) };
      await sendJSON(`/v1/videos/${take.id}/review`, body); route();
    }))))));
}

async function route() {
  streams.forEach((c) => c.abort());
  streams = [];
  keyHandler = null;
  const parts = location.hash.replace(/^#\/?/, "").split("/");
  try {
    if (parts[0] === "project" && parts[2] === "dailies") await dailiesPage(parts[1]);
    else if (parts[0] === "project") await boardPage(parts[1]);
    else if (parts[0] === "shot") await shotPage(parts[1]);
    else await projectsPage();
  } catch (e) {
    app.replaceChildren(h("p", { class: "error" }, String(e.message || e)));
  }
}

document.addEventListener("keydown", (ev) => { if (keyHandler) keyHandler(ev); });
document.getElementById("forget-key").addEventListener("click", () => { sessionStorage.removeItem(KEY); location.reload(); });
document.getElementById("forget-key").hidden = !sessionStorage.getItem(KEY);
window.addEventListener("hashchange", route);
route();
