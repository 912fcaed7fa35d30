// Sentry Responder dashboard: polls the jobs API every two seconds. Text goes in through
// textContent only, so nothing from a payload can become markup.
"use strict";

const STATES = ["queued", "running", "retrying", "succeeded", "coalesced", "skipped", "failed", "dead"];
const POLL_MS = 2000;
let selected = null;
let olderCursor = null;

const $ = (sel) => document.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function api(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  if (response.status === 401) {
    window.location.assign("/");  // the session expired: back to the sign-in form
  }
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

const time = (s) => (s ? new Date(s * 1000).toLocaleTimeString() : "");
const took = (job) => (job.finished_at && job.started_at ? `${(job.finished_at - job.started_at).toFixed(2)} s` : "");

function renderCounts(counts) {
  const tiles = STATES.map((s) =>
    el("div", { class: "tile", "data-state": s }, el("b", { class: `state ${s}` }, counts[s] ?? 0), el("span", {}, s)));
  $("#counts").replaceChildren(...tiles);
}

function renderChart(hour) {
  const svg = $("#chart");
  const ns = "http://www.w3.org/2000/svg";
  const W = 600, H = 120, pad = 4;
  const buckets = hour.buckets;
  const maxRecv = Math.max(1, ...buckets.map((b) => b.received));
  const maxLat = Math.max(0.001, ...buckets.map((b) => b.p95_s ?? 0));
  const step = W / buckets.length;
  const shapes = [];
  buckets.forEach((b, i) => {
    const h = ((H - 2 * pad) * b.received) / maxRecv;
    const rect = document.createElementNS(ns, "rect");
    rect.setAttribute("x", (i * step + 1).toFixed(1));
    rect.setAttribute("y", (H - pad - h).toFixed(1));
    rect.setAttribute("width", Math.max(1, step - 2).toFixed(1));
    rect.setAttribute("height", h.toFixed(1));
    rect.setAttribute("fill", "#c7d2fe");
    const tip = document.createElementNS(ns, "title");
    tip.textContent = `${time(b.start)}: ${b.received} received, ${b.finished} done, p95 ${b.p95_s ?? "–"} s`;
    rect.append(tip);
    shapes.push(rect);
  });
  const points = buckets
    .map((b, i) => (b.p95_s === null ? null : `${(i * step + step / 2).toFixed(1)},${(H - pad - ((H - 2 * pad) * b.p95_s) / maxLat).toFixed(1)}`))
    .filter(Boolean);
  if (points.length) {
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", points.join(" "));
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", "#6c5fc7");
    line.setAttribute("stroke-width", "2");
    line.setAttribute("vector-effect", "non-scaling-stroke");
    shapes.push(line);
  }
  svg.replaceChildren(...shapes);
  const p95 = hour.p95_s === null ? "–" : `${hour.p95_s} s`;
  $("#hour-summary").textContent = `${hour.received} received · ${hour.finished} ran · p95 ${p95} · peak ${maxRecv}/min`;
}

function jobRow(job) {
  const row = el("tr", { "data-job-id": job.id, onclick: () => showDetail(job.id) },
    el("td", {}, time(job.received_at)),
    el("td", { class: "mono", title: job.id }, job.id.slice(0, 12)),
    el("td", {}, `${job.resource}.${job.action}`),
    el("td", {}, job.issue_id ?? ""),
    el("td", { class: `state ${job.state}`, "data-testid": "job-state" }, job.state),
    el("td", {}, job.attempts || ""),
    el("td", {}, took(job)));
  if (job.id === selected) row.classList.add("selected");
  return row;
}

function query() {
  const params = new URLSearchParams({ limit: "50" });
  const state = $("#state-filter").value;
  const issue = $("#issue-filter").value.trim();
  const org = $("#org-filter").value;
  if (org) params.set("organization", org);
  if (state) params.set("state", state);
  if (issue) params.set("issue_id", issue);
  return params;
}

async function refreshJobs() {
  const page = await api(`/api/jobs?${query()}`);
  $("#jobs").replaceChildren(...page.jobs.map(jobRow));
  olderCursor = page.next_cursor;
  $("#more").hidden = !olderCursor;
}

async function loadOlder() {
  if (!olderCursor) return;
  const params = query();
  params.set("cursor", olderCursor);
  const page = await api(`/api/jobs?${params}`);
  $("#jobs").append(...page.jobs.map(jobRow));
  olderCursor = page.next_cursor;
  $("#more").hidden = !olderCursor;
}

async function replay(id) {
  await api(`/api/jobs/${encodeURIComponent(id)}/replay`, { method: "POST" });
  await refresh();
}

async function refreshDead() {
  const dead = await api("/api/dead");
  const rows = dead.jobs.map((job) =>
    el("tr", { "data-job-id": job.id },
      el("td", { class: "mono", title: job.id, onclick: () => showDetail(job.id) }, job.id.slice(0, 12)),
      el("td", {}, `${job.resource}.${job.action}`),
      el("td", { class: "error", title: job.error ?? "" }, job.error ?? ""),
      el("td", {}, el("button", { "data-testid": `replay-${job.id}`, onclick: () => replay(job.id) }, "Replay"))));
  $("#dead").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { class: "muted" }, "No dead jobs."))]));
  $("#replay-all").disabled = rows.length === 0;
}

function workerNote(w) {
  // A worker that cannot reach Redis cannot report: its heartbeat ages. Once back, it reports the outage.
  if (!w.alive) return ` · no heartbeat for ${w.age_s} s: lost Redis, or stopped`;
  const outage = w.last_redis_outage;
  const lost = outage ? ` · lost Redis for ${(outage.back_at - outage.lost_at).toFixed(1)} s at ${new Date(outage.lost_at * 1000).toLocaleTimeString()}` : "";
  return ` · seen ${w.age_s} s ago${lost}`;
}

function renderWorkers(workers) {
  const items = workers.map((w) =>
    el("li", { "data-testid": `worker-${w.name}` }, el("span", { class: w.alive ? "dot" : "dot stale" }), w.name, el("span", { class: "muted" }, workerNote(w))));
  $("#workers").replaceChildren(...(items.length ? items : [el("li", { class: "muted" }, "No worker has reported in.")]));
  $("#worker-count").textContent = workers.filter((w) => w.alive).length;
}

function renderOrganizations(mode, organizations) {
  // A public integration serves several organizations: offer a filter once there is a choice.
  const select = $("#org-filter");
  select.hidden = mode !== "public" || organizations.length === 0;
  const known = new Set([...select.options].map((o) => o.value));
  for (const org of organizations) {
    if (!known.has(org)) select.append(el("option", { value: org }, org));
  }
}

function section(title, ...content) {
  return [el("h3", {}, title), ...content];
}

function describeAction(action) {
  if (action.kind === "comment") return "comment";
  if (action.kind === "set_status") return `status → ${action.status}${action.substatus ? ` (${action.substatus})` : ""}`;
  if (action.kind === "assign") return `assign → ${action.assignee ?? action.to ?? ""}`;
  return action.kind;
}

async function showDetail(id) {
  selected = id;
  document.querySelectorAll("#jobs tr").forEach((tr) => tr.classList.toggle("selected", tr.dataset.jobId === id));
  const job = await api(`/api/jobs/${encodeURIComponent(id)}`);
  const stack = job.findings.find((f) => f.handler === "stack");
  const facts = el("dl", {},
    el("dt", {}, "delivery"), el("dd", { class: "mono", "data-testid": "detail-id" }, job.id),
    el("dt", {}, "resource"), el("dd", {}, `${job.resource}.${job.action}`),
    el("dt", {}, "issue"), el("dd", {}, ...issueLinks(job.issue_id, job.web_url)),
    el("dt", {}, "state"), el("dd", { class: `state ${job.state}` }, job.state),
    el("dt", {}, "tries"), el("dd", {}, `${job.attempts}${job.replays ? ` (replayed ${job.replays}×)` : ""}`),
    el("dt", {}, "received"), el("dd", {}, time(job.received_at)),
    el("dt", {}, "took"), el("dd", {}, job.duration_s ? `${job.duration_s.toFixed(2)} s` : "–"),
    job.coalesced ? el("dt", {}, "covers") : null, job.coalesced ? el("dd", {}, `${job.coalesced} more deliveries`) : null,
    job.coalesced_into ? el("dt", {}, "folded into") : null, job.coalesced_into ? el("dd", { class: "mono" }, job.coalesced_into) : null,
    job.reason ? el("dt", {}, "note") : null, job.reason ? el("dd", {}, job.reason) : null);
  const parts = [el("h2", {}, "Job"), facts];
  if (job.error) parts.push(...section("Error", el("p", { class: "error" }, job.error)));
  if (["dead", "failed"].includes(job.state)) {
    parts.push(el("p", {}, el("button", { "data-testid": "detail-replay", onclick: () => replay(job.id) }, "Replay this job")));
  }
  if (stack) parts.push(...section("Stack", el("pre", { "data-testid": "detail-stack" }, stack.summary)));
  const others = job.findings.filter((f) => f !== stack);
  if (others.length) {
    parts.push(...section("Findings", el("ul", { "data-testid": "detail-findings" },
      ...others.map((f) => el("li", {}, el("b", {}, f.handler), `: ${f.summary || f.error || ""}`)))));
  }
  if (job.plan.length) {
    parts.push(...section("Plan", el("ul", { "data-testid": "detail-plan" },
      ...job.plan.map((a) => el("li", {}, describeAction(a), a.rule ? el("span", { class: "muted" }, ` · ${a.rule}`) : null)))));
  }
  if ((job.shadow ?? []).length) {
    parts.push(...section("Shadow (not executed)", el("ul", { "data-testid": "detail-shadow" },
      ...job.shadow.map((s) => el("li", {}, el("b", {}, s.playbook), ` would have: ${s.would.join(", ")}`)))));
  }
  if (job.writeback.length) {
    parts.push(...section("Write-back", el("ul", {},
      ...job.writeback.map((w) => el("li", { class: w.outcome === "refused" ? "error" : "" }, `${w.description}: ${w.outcome} ${w.detail}`)))));
  }
  const changedIssue = (w) => (w.outcome ? w.outcome === "done" : w.ok && !w.skipped)
    && ["set_status", "assign"].includes(w.kind ?? w.action);
  if (job.writeback.some(changedIssue)) {
    parts.push(el("p", {}, el("button", { "data-testid": "detail-undo", onclick: () => undo(job.id) }, "Undo"),
      el("span", { class: "muted", id: "undo-result", "data-testid": "undo-result" }, " restore the issue's status and assignee")));
  }
  if (job.payload) {
    parts.push(el("details", {}, el("summary", {}, "Delivery payload"), el("pre", {}, JSON.stringify(job.payload.body ?? job.payload, null, 2))));
  }
  $("#detail").replaceChildren(...parts);
}

const SAFE_URL = /^https?:\/\//;

function issueLinks(issueId, webUrl) {
  if (!issueId) return ["–"];
  const out = [issueId, " "];
  out.push(el("button", { class: "link", "data-testid": "open-audit", onclick: () => showAudit(issueId) }, "audit trail"));
  if (webUrl && SAFE_URL.test(webUrl)) {
    out.push(" · ", el("a", { href: webUrl, target: "_blank", rel: "noopener noreferrer", "data-testid": "sentry-link" }, "open in Sentry"));
  }
  return out;
}

async function undo(id) {
  const response = await fetch(`/api/jobs/${encodeURIComponent(id)}/undo`, { method: "POST", credentials: "same-origin" });
  const body = await response.json().catch(() => ({}));
  let text;
  if (response.ok) {
    const restored = Object.entries(body.restored).map(([k, v]) => `${k} back to ${v ?? "nobody"}`).join(", ");
    text = `undone: ${restored || "nothing needed restoring"}`;
  } else {
    const changed = Object.entries(body.changed ?? {}).map(([k, v]) => `${k}: ours ${v.ours ?? "nobody"}, now ${v.now ?? "nobody"}`);
    text = `not undone: ${body.detail ?? response.status}${changed.length ? ` (${changed.join("; ")})` : ""}`;
  }
  const target = $("#undo-result");
  if (target) target.textContent = ` ${text}`;
}

async function showAudit(issueId) {
  const trail = await api(`/api/issues/${encodeURIComponent(issueId)}`);
  const head = el("div", { class: "card-head" }, el("h2", {}, `Issue ${issueId}: audit trail`));
  if (trail.web_url && SAFE_URL.test(trail.web_url)) {
    head.append(el("a", { href: trail.web_url, target: "_blank", rel: "noopener noreferrer" }, "open in Sentry"));
  }
  head.append(el("button", { class: "link", onclick: () => { $("#audit").hidden = true; } }, "close"));
  const rows = trail.entries.map((e) =>
    el("tr", { "data-kind": e.kind },
      el("td", {}, new Date(e.at * 1000).toLocaleString()),
      el("td", { class: `kind ${e.kind}` }, e.kind),
      el("td", { title: e.summary }, e.summary),
      el("td", {}, e.actor),
      el("td", { class: "mono", onclick: () => e.delivery_id && showDetail(e.delivery_id) }, (e.delivery_id ?? "").slice(0, 12))));
  const table = el("table", { class: "jobs" },
    el("thead", {}, el("tr", {}, ...["when", "what", "detail", "by", "job"].map((h) => el("th", {}, h)))),
    el("tbody", { "data-testid": "audit-entries" }, ...(rows.length ? rows : [el("tr", {}, el("td", { class: "muted" }, "Nothing recorded for this issue."))])));
  const audit = $("#audit");
  audit.replaceChildren(head, table);
  audit.hidden = false;
  audit.scrollIntoView({ block: "nearest" });
}

function counts(map) {
  return Object.entries(map ?? {}).map(([k, v]) => `${k} ×${v}`).join(", ");
}

async function refreshTrust() {
  const [books, tests] = await Promise.all([api("/api/playbooks"), api("/api/backtests")]);
  const rows = books.playbooks.map((p) =>
    el("tr", { "data-playbook": p.name },
      el("td", {}, p.name), el("td", { class: p.mode === "shadow" ? "state retrying" : "" }, p.mode),
      el("td", {}, p.fired), el("td", {}, [counts(p.did), Object.keys(p.would).length ? `would have: ${counts(p.would)}` : ""]
        .filter(Boolean).join("; "))));
  $("#playbooks").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { class: "muted" }, "No playbook has fired yet."))]));
  const runs = tests.backtests.map((b) =>
    el("tr", {}, el("td", {}, time(b.started_at)), el("td", { title: b.rules }, b.rules),
      el("td", {}, b.state), el("td", {}, b.issues), el("td", {}, b.matched)));
  $("#backtests").replaceChildren(...(runs.length ? runs : [el("tr", {}, el("td", { class: "muted" }, "No backtest has run."))]));
}

async function refresh() {
  try {
    const stats = await api("/api/stats");
    renderCounts(stats.counts);
    renderChart(stats.last_hour);
    renderWorkers(stats.workers);
    renderOrganizations(stats.mode, stats.organizations);
    $("#queue-depth").textContent = stats.queue_depth;
    $("#spool-depth").textContent = stats.spool_depth;
    $("#dead-count").textContent = stats.dead_letters;
    $("#spool-pill").classList.toggle("alert", stats.spool_depth > 0);
    const banner = $("#banner");
    banner.hidden = stats.spool_depth === 0;
    banner.textContent = `${stats.spool_depth} deliveries are in the gateway's spool, waiting for Redis.`;
    await Promise.all([refreshJobs(), refreshDead(), refreshTrust()]);
    $("#updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    $("#updated").textContent = `not updated: ${err.message}`;
  }
}

$("#state-filter").addEventListener("change", refresh);
$("#issue-filter").addEventListener("change", refresh);
$("#org-filter").addEventListener("change", refresh);
$("#more").addEventListener("click", loadOlder);
$("#replay-all").addEventListener("click", async () => {
  await api("/api/dead/replay", { method: "POST" });
  await refresh();
});
refresh();
setInterval(refresh, POLL_MS);
