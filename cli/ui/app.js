// The mega console: plain DOM, no framework. Every text that comes from a queue is set with textContent,
// never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const POLL_MS = 2000;
const HISTORY_MS = 5 * 60 * 1000;

const state = {
  queues: [],
  topics: [],
  selected: null, // {type: "queue"|"topic", key: url|arn}
  history: new Map(), // queue url -> [{t, visible, in_flight}]
  redriveTimer: null,
};

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// replaceChildren without the absent ones (it would show `null` as text).
function fill(parent, ...children) {
  parent.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
}

async function api(path, body) {
  const init = body === undefined
    ? { method: "GET" }
    : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
  const res = await fetch(path, init);
  let data;
  try { data = await res.json(); } catch { data = { error: `HTTP ${res.status}` }; }
  if (!res.ok) throw new Error(data.error || `HTTP ${res.status}`);
  return data;
}

function setStatus(text, error) {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("error", !!error);
}

// ---- overview ----

async function refresh() {
  try {
    const o = await api("/api/overview");
    $("endpoint").textContent = `${o.endpoint} · ${o.region}`;
    state.queues = o.queues;
    state.topics = o.topics;
    for (const q of o.queues) {
      const h = state.history.get(q.url) || [];
      h.push({ t: o.time_ms, visible: q.visible, in_flight: q.in_flight,
        sent: q.sent, received: q.received, deleted: q.deleted });
      while (h.length && h[0].t < o.time_ms - HISTORY_MS) h.shift();
      state.history.set(q.url, h);
    }
    renderQueues();
    renderTopics();
    if (state.selected && state.selected.type === "queue") renderQueueHeader();
    setStatus(`updated ${new Date(o.time_ms).toLocaleTimeString()}`);
  } catch (e) {
    setStatus(`cannot reach the endpoint: ${e.message}`, true);
  }
}

function renderQueues() {
  const body = $("queues").tBodies[0];
  body.replaceChildren(...state.queues.map((q) => el("tr", {
      "data-queue": q.name,
      class: state.selected && state.selected.key === q.url ? "selected" : null,
      onclick: () => selectQueue(q.url),
    },
    el("td", {}, q.name, q.is_dlq ? el("span", { class: "badge dlq" }, "DLQ") : null,
      q.fifo ? el("span", { class: "badge" }, "FIFO") : null),
    el("td", { class: "n", "data-testid": "visible" }, q.visible),
    el("td", { class: "n" }, q.in_flight),
    el("td", { class: "n" }, q.delayed))));
  $("no-queues").hidden = state.queues.length > 0;
}

function renderTopics() {
  $("topics").replaceChildren(...state.topics.map((t) => el("li", {
    "data-topic": t.name,
    class: state.selected && state.selected.key === t.arn ? "selected" : null,
    onclick: () => selectTopic(t.arn),
  }, t.name)));
  $("no-topics").hidden = state.topics.length > 0;
}

// ---- a queue ----

function currentQueue() {
  return state.selected && state.selected.type === "queue"
    ? state.queues.find((q) => q.url === state.selected.key) : null;
}

function selectQueue(url) {
  state.selected = { type: "queue", key: url };
  $("hint").hidden = true;
  $("topic-panel").hidden = true;
  $("queue-panel").hidden = false;
  $("messages").replaceChildren();
  $("send-form").hidden = true;
  $("redrive-progress").hidden = true;
  renderQueues();
  renderTopics();
  renderQueueHeader();
}

function renderQueueHeader() {
  const q = currentQueue();
  if (!q) return;
  $("q-name").textContent = q.name;
  fill($("q-badges"),
    q.is_dlq ? el("span", { class: "badge dlq" }, "dead-letter queue") : null,
    q.fifo ? el("span", { class: "badge" }, "FIFO") : null);
  $("q-url").textContent = q.url;
  const stat = (n, label, id) => el("div", { "data-testid": id }, el("b", {}, n), el("span", {}, label));
  const dlq = q.dlq_arn ? state.queues.find((x) => x.arn === q.dlq_arn) : null;
  fill($("q-stats"),
    stat(q.visible, "visible", "stat-visible"),
    stat(q.in_flight, "in flight", "stat-in-flight"),
    stat(q.delayed, "delayed", "stat-delayed"),
    dlq ? stat(dlq.visible, `in its DLQ ${dlq.name} (after ${q.max_receive_count} receives)`, "stat-dlq") : null);
  $("redrive").hidden = !q.is_dlq;
  drawChart(state.history.get(q.url) || []);
}

// Throughput (messages per second between samples) when the endpoint counts traffic (the embedded one
// does: GET /_mega/stats), else depth over time and its net change.
function series(points) {
  const counted = points.length > 1 && points.every((p) => typeof p.sent === "number");
  if (!counted) {
    return {
      lines: [["visible", "#2557d6"], ["in_flight", "#e08a00"]],
      data: points,
      caption: (last) => {
        const a = points[Math.max(0, points.length - 6)], b = points[points.length - 1];
        const rate = ((b.visible + b.in_flight) - (a.visible + a.in_flight)) / Math.max(0.001, (b.t - a.t) / 1000);
        return `Depth (visible, in flight) over the last ${last} s; net change ${rate >= 0 ? "+" : ""}` +
          `${rate.toFixed(1)} msgs/s (this endpoint reports no send or delete counts).`;
      },
    };
  }
  const data = [];
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1], b = points[i], dt = Math.max(0.001, (b.t - a.t) / 1000);
    const per = (k) => Math.max(0, (b[k] - a[k]) / dt);
    data.push({ t: b.t, sent: per("sent"), received: per("received"), deleted: per("deleted") });
  }
  return {
    lines: [["sent", "#2557d6"], ["received", "#e08a00"], ["deleted", "#1f9d55"]],
    data,
    caption: (last) => {
      const b = data[data.length - 1];
      return `Throughput over the last ${last} s, messages per second: now ${b.sent.toFixed(1)} sent, ` +
        `${b.received.toFixed(1)} received, ${b.deleted.toFixed(1)} deleted.`;
    },
  };
}

function drawChart(points) {
  const c = $("chart");
  const ctx = c.getContext("2d");
  const w = c.width, h = c.height, pad = 24;
  ctx.clearRect(0, 0, w, h);
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#6b7385";
  const s = series(points);
  c.dataset.kind = s.lines[0][0] === "sent" ? "throughput" : "depth";
  if (s.data.length < 2) {
    ctx.fillText("collecting samples…", pad, h / 2);
    $("chart-caption").textContent = "Throughput or depth over time, sampled every 2 s.";
    return;
  }
  const d = s.data;
  const t0 = d[0].t, t1 = d[d.length - 1].t;
  const max = Math.max(1, ...d.flatMap((p) => s.lines.map(([k]) => p[k])));
  const x = (t) => pad + (w - 2 * pad) * (t1 === t0 ? 1 : (t - t0) / (t1 - t0));
  const y = (v) => h - pad + 4 - (h - 2 * pad) * (v / max);
  ctx.strokeStyle = "#dde1e8";
  ctx.beginPath(); ctx.moveTo(pad, y(0)); ctx.lineTo(w - pad, y(0)); ctx.moveTo(pad, y(max)); ctx.lineTo(w - pad, y(max)); ctx.stroke();
  ctx.fillText(max >= 10 ? String(Math.round(max)) : max.toFixed(1), 2, y(max) + 4);
  ctx.fillText("0", 2, y(0) + 4);
  let lx = w - 70 * s.lines.length;
  for (const [key, colour] of s.lines) {
    ctx.strokeStyle = colour; ctx.lineWidth = 2; ctx.beginPath();
    d.forEach((p, i) => (i ? ctx.lineTo(x(p.t), y(p[key])) : ctx.moveTo(x(p.t), y(p[key]))));
    ctx.stroke();
    ctx.fillStyle = colour; ctx.fillText(key.replace("_", " "), lx, 12);
    lx += 70;
  }
  $("chart-caption").textContent = s.caption(Math.round((t1 - t0) / 1000));
}

function renderMessage(m) {
  const meta = el("div", { class: "meta" },
    el("span", { class: "kind", "data-testid": "kind" }, m.kind || "undecodable"),
    m.encoding ? el("span", {}, "encoding ", el("b", { "data-testid": "encoding" }, m.encoding)) : null,
    el("span", {}, "id ", el("b", {}, m.message_id)),
    el("span", {}, "receives ", el("b", {}, m.receive_count ?? "-")),
    el("span", {}, "sent ", el("b", {}, m.sent || "-")),
    el("span", {}, `${m.body_bytes} bytes`));
  const parts = [meta];
  if (m.sns) {
    parts.push(el("div", { class: "meta", "data-testid": "sns" }, "via SNS ",
      el("b", {}, m.sns.topic_arn), m.sns.subject ? el("span", {}, "subject ", el("b", {}, m.sns.subject)) : null,
      el("span", {}, "notification ", el("b", {}, m.sns.message_id))));
  }
  const attrs = Object.entries(m.attributes || {});
  if (attrs.length) {
    parts.push(el("div", { class: "meta", "data-testid": "attributes" }, "attributes",
      ...attrs.map(([k, a]) => el("span", {}, `${k} (${a.type}) = `, el("b", {}, a.value)))));
  }
  if (m.decode_error) {
    parts.push(el("div", { class: "error" }, `cannot decode: ${m.decode_error}`), el("pre", {}, m.body));
  } else {
    parts.push(el("pre", { "data-testid": "payload" }, JSON.stringify(m.payload, null, 2)));
  }
  return el("div", { class: "message", "data-testid": "message" }, ...parts);
}

async function peek() {
  const q = currentQueue();
  if (!q) return;
  const n = Math.max(1, Math.min(100, Number($("peek-n").value) || 10));
  $("messages").replaceChildren(el("p", { class: "hint" }, "peeking…"));
  try {
    const r = await api("/api/peek", { queue: q.url, max: n });
    $("messages").replaceChildren(
      el("p", { class: "hint", "data-testid": "peek-count" },
        `${r.messages.length} message(s), peeked: still in the queue (each peek counts as a receive).`),
      ...r.messages.map(renderMessage));
  } catch (e) {
    $("messages").replaceChildren(el("p", { class: "bad" }, e.message));
  }
}

function parseAttrs(text) {
  return text.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => {
    const i = l.indexOf("=");
    if (i < 0) throw new Error(`attribute "${l}": expected NAME=VALUE`);
    const key = l.slice(0, i), value = l.slice(i + 1);
    const [name, type] = key.includes(":") ? key.split(":", 2) : [key, "String"];
    return { name, type, value };
  });
}

async function send(ev) {
  ev.preventDefault();
  const q = currentQueue();
  if (!q) return;
  const out = $("send-result");
  try {
    const r = await api("/api/send", {
      queue: q.url,
      body: $("send-body").value,
      format: $("send-format").value,
      attributes: parseAttrs($("send-attrs").value),
      group_id: $("send-group").value,
      dedup_id: $("send-dedup").value,
      delay: Number($("send-delay").value) || 0,
    });
    out.className = "ok";
    out.textContent = `sent: ${r.message_id}`;
    refresh();
  } catch (e) {
    out.className = "bad";
    out.textContent = e.message;
  }
}

// A destructive action: the queue's name typed back, in the page and again in the request.
function confirmByName(title, text, name) {
  return new Promise((resolve) => {
    const d = $("confirm");
    $("confirm-title").textContent = title;
    $("confirm-text").textContent = text;
    $("confirm-name").textContent = name;
    const input = $("confirm-input");
    input.value = "";
    $("confirm-ok").disabled = true;
    input.oninput = () => { $("confirm-ok").disabled = input.value !== name; };
    d.onclose = () => resolve(d.returnValue === "ok" && input.value === name ? input.value : null);
    d.returnValue = "";
    d.showModal();
    input.focus();
  });
}

async function purge() {
  const q = currentQueue();
  if (!q) return;
  const typed = await confirmByName("Purge queue",
    `Delete every message of ${q.name} (${q.visible} visible, ${q.in_flight} in flight)? This cannot be undone.`, q.name);
  if (!typed) return;
  try {
    await api("/api/purge", { queue: q.url, confirm: typed });
    $("messages").replaceChildren(el("p", { class: "ok" }, `${q.name} purged.`));
    refresh();
  } catch (e) {
    $("messages").replaceChildren(el("p", { class: "bad" }, e.message));
  }
}

async function redrive() {
  const q = currentQueue();
  if (!q) return;
  const typed = await confirmByName("Redrive dead letters",
    `Move the ${q.visible} message(s) of ${q.name} back to their source queues?`, q.name);
  if (!typed) return;
  const box = $("redrive-progress");
  box.hidden = false;
  $("redrive-text").textContent = "starting…";
  try {
    await api("/api/redrive", { queue: q.url, confirm: typed });
  } catch (e) {
    $("redrive-text").textContent = e.message;
    return;
  }
  clearInterval(state.redriveTimer);
  const poll = async () => {
    try {
      const r = await api(`/api/redrive?queue=${encodeURIComponent(q.url)}`);
      const t = r.move_tasks[0];
      if (!t) return;
      const total = t.to_move ?? (t.moved + r.visible);
      $("redrive-bar").max = Math.max(1, total);
      $("redrive-bar").value = t.moved;
      $("redrive-text").textContent = `${t.status}: moved ${t.moved} of ${total}` +
        (t.failure_reason ? ` (${t.failure_reason})` : "") + `; ${r.visible} left in ${q.name}`;
      $("redrive-text").dataset.status = t.status;
      if (t.status !== "RUNNING" && t.status !== "CANCELLING") {
        clearInterval(state.redriveTimer);
        refresh();
      }
    } catch (e) {
      $("redrive-text").textContent = e.message;
    }
  };
  state.redriveTimer = setInterval(poll, 500);
  poll();
}

// ---- a topic ----

async function selectTopic(arn) {
  state.selected = { type: "topic", key: arn };
  $("hint").hidden = true;
  $("queue-panel").hidden = true;
  $("topic-panel").hidden = false;
  renderQueues();
  renderTopics();
  $("t-name").textContent = arn.split(":").pop();
  $("t-arn").textContent = arn;
  $("match-results").replaceChildren();
  const body = $("subs").tBodies[0];
  body.replaceChildren(el("tr", {}, el("td", { colspan: 4 }, "loading…")));
  try {
    const t = await api(`/api/topic?topic=${encodeURIComponent(arn)}`);
    state.subscriptions = t.subscriptions;
    body.replaceChildren(...t.subscriptions.map((s) => el("tr", {},
      el("td", {}, s.protocol), el("td", {}, s.endpoint), el("td", {}, s.raw_message_delivery ? "yes" : "no"),
      el("td", {}, s.filter_policy ? el("pre", {}, `${s.filter_policy}\n(scope ${s.filter_policy_scope})`) : "none"))));
    if (!t.subscriptions.length) body.replaceChildren(el("tr", {}, el("td", { colspan: 4 }, "No subscriptions.")));
  } catch (e) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 4, class: "bad" }, e.message)));
  }
}

async function checkMatch(ev) {
  ev.preventDefault();
  const out = $("match-results");
  let attributes;
  try { attributes = parseAttrs($("match-attrs").value); } catch (e) { out.replaceChildren(el("li", { class: "bad" }, e.message)); return; }
  const subs = state.subscriptions || [];
  if (!subs.length) { out.replaceChildren(el("li", {}, "No subscriptions to check.")); return; }
  const items = [];
  for (const s of subs) {
    if (!s.filter_policy) {
      items.push(el("li", { class: "ok" }, `${s.endpoint}: delivered (no filter policy)`));
      continue;
    }
    try {
      const r = await api("/api/match", {
        policy: s.filter_policy, scope: s.filter_policy_scope, body: $("match-body").value, attributes,
      });
      items.push(el("li", { class: r.matches ? "ok" : "bad", "data-testid": "match-result" },
        `${s.endpoint}: ${r.matches ? "delivered (matches its filter policy)" : `filtered out: ${r.why}`}`));
    } catch (e) {
      items.push(el("li", { class: "bad" }, `${s.endpoint}: ${e.message}`));
    }
  }
  out.replaceChildren(...items);
}

async function publishToTopic(ev) {
  ev.preventDefault();
  const out = $("pub-result");
  try {
    const r = await api("/api/send", {
      topic: state.selected.key, body: $("match-body").value, format: $("pub-format").value,
      attributes: parseAttrs($("match-attrs").value),
    });
    out.className = "ok";
    out.textContent = `published: ${r.message_id}`;
    refresh();
  } catch (e) {
    out.className = "bad";
    out.textContent = e.message;
  }
}

window.addEventListener("DOMContentLoaded", () => {
  $("peek").addEventListener("click", peek);
  $("show-send").addEventListener("click", () => { $("send-form").hidden = !$("send-form").hidden; });
  $("send-form").addEventListener("submit", send);
  $("purge").addEventListener("click", purge);
  $("redrive").addEventListener("click", redrive);
  $("match-form").addEventListener("submit", checkMatch);
  $("publish-form").addEventListener("submit", publishToTopic);
  // Every 2 s; slower with many queues (each costs a GetQueueAttributes call per refresh).
  const loop = async () => {
    await refresh();
    setTimeout(loop, Math.min(30000, Math.max(POLL_MS, state.queues.length * 100)));
  };
  loop();
});
