#include "admin/dashboard.h"

namespace ringway::admin {

// One page, its CSS and script inline (the admin listener serves it with a CSP that allows
// inline code and same-origin fetches only). The script builds every element with
// createElement and textContent: nothing from the API ever goes through innerHTML.
//
// Stable hooks for tests and scripts: every section has an id; rows carry data-upstream,
// data-backend, data-backend-id and data-domain; cells carry data-field; controls carry
// data-action. <body data-refreshes="N"> counts completed refreshes.
std::string_view DashboardPage() {
  return R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>ringway</title>
<style>
:root {
  --fg: #1d2329; --muted: #65717d; --line: #dde2e7; --bg: #fff; --head: #f4f6f8;
  --up: #1a7f37; --down: #c62828; --warn: #b26a00; --info: #2f5fa8;
}
* { box-sizing: border-box; }
body {
  margin: 0; padding: 0 16px 24px; color: var(--fg); background: var(--bg);
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 16px; padding: 12px 0 8px;
  border-bottom: 1px solid var(--line); }
h1 { font-size: 18px; margin: 0; }
h2 { font-size: 15px; margin: 20px 0 6px; }
h3 { font-size: 13px; margin: 14px 0 4px; font-weight: 600; }
#status { color: var(--muted); font-size: 13px; min-width: 0; }
#status > span { white-space: nowrap; display: inline-block; }
#status > span + span::before { content: "\00b7"; margin: 0 6px; color: #aab3bc; }
#updated { margin-left: auto; color: var(--muted); font-size: 12px; }
.wrap { overflow-x: auto; }
table { border-collapse: collapse; min-width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; vertical-align: middle; }
th { background: var(--head); font-weight: 600; color: var(--muted); font-size: 12px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; min-width: 3.2em; padding: 0 6px; border-radius: 9px; font-size: 12px;
  text-align: center; color: #fff; background: var(--muted); }
.badge.up, .badge.ready { background: var(--up); }
.badge.down { background: var(--down); }
.badge.yes, .badge.drain { background: var(--warn); }
.badge.maint, .badge.no { background: #8a949e; }
.note { color: var(--muted); font-size: 12px; font-weight: normal; }
.msg { font-size: 12px; white-space: normal; }
.msg.ok { color: var(--up); }
.msg.err { color: var(--down); }
.msg.warn { color: var(--warn); }
.tag { display: inline-block; padding: 0 5px; margin-right: 3px; border: 1px solid var(--line);
  border-radius: 3px; font-size: 12px; background: var(--head); }
.none { color: var(--muted); }
input, select, button { font: inherit; font-size: 13px; }
input[type=number] { width: 5.5em; }
input.tag-input { width: 9em; }
button { padding: 1px 10px; cursor: pointer; }
#banner { display: none; margin: 8px 0; padding: 6px 10px; border: 1px solid var(--down);
  color: var(--down); background: #fdf0f0; border-radius: 4px; }
#auth { display: none; margin: 8px 0; padding: 8px 10px; border: 1px solid var(--info);
  background: #f0f5fc; border-radius: 4px; }
#auth input { width: 22em; max-width: 100%; }
.cards { display: flex; flex-wrap: wrap; gap: 8px 24px; margin: 4px 0 8px; }
.card b { display: block; font-size: 20px; font-variant-numeric: tabular-nums; }
.card span { color: var(--muted); font-size: 12px; }
.card.bad b { color: var(--down); }
body.stale section, body.stale #status { opacity: .5; }
@media (max-width: 600px) { body { padding: 0 8px 16px; } #updated { margin-left: 0; } }
</style>
</head>
<body data-refreshes="0">
<header>
  <h1>ringway</h1>
  <div id="status" data-ready=""></div>
  <div id="updated"></div>
</header>
<div id="banner" role="alert"></div>
<form id="auth" autocomplete="off">
  <label id="auth-label" for="token-input">Admin token (<code>global.admin.token</code>):</label>
  <input id="token-input" type="password" autocomplete="off" spellcheck="false">
  <button id="token-save" type="submit">Use token</button>
  <button id="token-forget" type="button">Forget</button>
  <span id="auth-msg" class="msg"></span>
</form>

<section id="traffic">
  <h2>Traffic <span class="note">(per second, over the last refresh)</span></h2>
  <div class="cards">
    <div class="card"><b id="rate-total" data-rate="">&ndash;</b><span>requests/s</span></div>
    <div class="card"><b id="rate-2xx" data-rate="">&ndash;</b><span>2xx/s</span></div>
    <div class="card"><b id="rate-4xx" data-rate="">&ndash;</b><span>4xx/s</span></div>
    <div class="card" id="card-5xx"><b id="rate-5xx" data-rate="">&ndash;</b><span>5xx/s</span></div>
    <div class="card"><b id="total-requests">&ndash;</b><span>requests since start</span></div>
  </div>
  <div class="wrap"><table id="rates-table">
    <thead><tr><th>upstream</th><th>servers</th><th class="num">req/s</th><th class="num">2xx/s</th>
      <th class="num">4xx/s</th><th class="num">5xx/s</th><th class="num">requests</th></tr></thead>
    <tbody></tbody>
  </table></div>
</section>

<section id="upstreams">
  <h2>Upstreams</h2>
  <div id="upstream-list"></div>
</section>

<section id="backends">
  <h2>Backends</h2>
  <div class="wrap"><table id="backends-table">
    <thead><tr><th>id</th><th>address</th><th>upstream</th><th>tags</th><th>health</th>
      <th>state</th><th>weight</th><th></th></tr></thead>
    <tbody></tbody>
  </table></div>
</section>

<section id="domains">
  <h2>Domains</h2>
  <datalist id="known-tags"></datalist>
  <div class="wrap"><table id="domains-table">
    <thead><tr><th>domain</th><th>upstream</th><th>active tag</th><th>https</th><th>switch to</th>
      <th></th></tr></thead>
    <tbody></tbody>
  </table></div>
</section>

<script>
"use strict";
(function () {
  var REFRESH_MS = 2000;
  var TOKEN_KEY = "ringway.admin.token";
  var $ = function (id) { return document.getElementById(id); };

  // ---- small DOM helpers (text only: never innerHTML) ----
  function el(tag, attrs) {
    var e = document.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        if (!Object.prototype.hasOwnProperty.call(attrs, k)) continue;
        if (k === "text") e.textContent = attrs[k];
        else if (k === "cls") e.className = attrs[k];
        else e.setAttribute(k, attrs[k]);
      }
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined) continue;
      e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return e;
  }
  // A map keyed by names from the API: no prototype, so "__proto__" is a name like any other.
  function dict() { return Object.create(null); }
  function setText(e, t) { t = String(t); if (e.textContent !== t) e.textContent = t; }
  function badge(e, value, label) {
    setText(e, label === undefined ? value : label);
    var cls = "badge " + value;
    if (e.className !== cls) e.className = cls;
  }
  function message(e, kind, text) {
    e.className = "msg " + (kind || "");
    setText(e, text || "");
  }
  // Keeps the children of `parent` in step with `items`: one element per key, made by
  // create(item) once and brought up to date by update(node, item) on every refresh, so that
  // inputs keep their focus and what is typed in them.
  function sync(parent, items, key, create, update) {
    var old = new Map();
    Array.prototype.forEach.call(parent.children, function (c) { old.set(c.__key, c); });
    var prev = null;
    items.forEach(function (item) {
      var k = key(item);
      var node = old.get(k);
      if (node) old.delete(k);
      else { node = create(item); node.__key = k; }
      update(node, item);
      var want = prev ? prev.nextSibling : parent.firstChild;
      if (want !== node) parent.insertBefore(node, want);
      prev = node;
    });
    old.forEach(function (node) { parent.removeChild(node); });
  }
  function fmtRate(v) {
    if (v === null || v === undefined || !isFinite(v)) return "\u2013";
    if (v === 0) return "0";
    if (v < 0.1) return v.toFixed(2);
    if (v < 100) return v.toFixed(1);
    return Math.round(v).toString();
  }
  function fmtDuration(s) {
    s = Math.floor(s);
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600),
        m = Math.floor(s % 3600 / 60), r = s % 60;
    if (d) return d + "d " + h + "h";
    if (h) return h + "h " + m + "m";
    if (m) return m + "m " + r + "s";
    return r + "s";
  }
  function errorText(res) {
    if (res.network) return res.error;
    var d = res.data;
    if (d && typeof d === "object" && typeof d.error === "string") {
      return d.error + (typeof d.hint === "string" && d.hint ? " \u2014 " + d.hint : "");
    }
    return "HTTP " + res.status + (res.text ? ": " + res.text.slice(0, 200) : "");
  }

  // ---- the admin token ----
  function getToken() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ""; } catch (e) { return ""; }
  }
  function setToken(t) {
    try {
      if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* storage refused: the token lasts until the page closes */ }
    memoryToken = t;
  }
  var memoryToken = getToken();
  function showAuth(why, kind) {
    $("auth").style.display = "block";
    message($("auth-msg"), kind === undefined ? "err" : kind, why || "");
  }

  // ---- requests ----
  // Resolves (never rejects) to {ok, status, data, text} or {network: true, error}.
  function api(method, path, body, asText) {
    var headers = { "Accept": asText ? "text/plain" : "application/json" };
    var token = memoryToken || getToken();
    if (token) headers["Authorization"] = "Bearer " + token;
    var init = { method: method, headers: headers, cache: "no-store", credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (r) {
      return r.text().then(function (text) {
        var res = { ok: r.ok, status: r.status, text: text, data: null };
        if (!asText || !r.ok) {
          try { res.data = JSON.parse(text); } catch (e) { res.data = null; }
        }
        if (r.status === 401) {
          showAuth(token ? "The token was refused; enter the right one."
                         : "Enter the admin token to make changes.");
        }
        return res;
      });
    }, function (err) {
      return { ok: false, network: true, status: 0,
               error: "cannot reach ringway (" + (err && err.message ? err.message : err) + ")" };
    });
  }

  // ---- Prometheus text format ----
  // Parses the exposition text; calls onSample(name, labels, value) for every sample whose
  // name passes want(name). Comments and blank lines are skipped; label values are unescaped.
  function parseMetrics(text, want, onSample) {
    var lines = text.split("\n");
    for (var n = 0; n < lines.length; n++) {
      var line = lines[n];
      var i = 0, len = line.length;
      while (i < len && (line[i] === " " || line[i] === "\t")) i++;
      if (i >= len || line[i] === "#") continue;
      var start = i;
      while (i < len && /[A-Za-z0-9_:]/.test(line[i])) i++;
      var name = line.slice(start, i);
      if (!name || !want(name)) continue;
      var labels = dict();
      var bad = false;
      while (i < len && (line[i] === " " || line[i] === "\t")) i++;
      if (line[i] === "{") {
        i++;
        for (;;) {
          while (i < len && (line[i] === " " || line[i] === "\t" || line[i] === ",")) i++;
          if (i >= len) { bad = true; break; }
          if (line[i] === "}") { i++; break; }
          var ks = i;
          while (i < len && /[A-Za-z0-9_]/.test(line[i])) i++;
          var key = line.slice(ks, i);
          while (i < len && (line[i] === " " || line[i] === "\t")) i++;
          if (!key || line[i] !== "=") { bad = true; break; }
          i++;
          while (i < len && (line[i] === " " || line[i] === "\t")) i++;
          if (line[i] !== "\"") { bad = true; break; }
          i++;
          var v = "", closed = false;
          while (i < len) {
            var c = line[i];
            if (c === "\\" && i + 1 < len) {
              var e = line[i + 1];
              v += e === "n" ? "\n" : e;  // \\ -> \, \" -> ", \n -> newline
              i += 2;
            } else if (c === "\"") {
              i++; closed = true; break;
            } else {
              v += c; i++;
            }
          }
          if (!closed) { bad = true; break; }
          labels[key] = v;
        }
      }
      if (bad) continue;
      var rest = line.slice(i).trim().split(/[ \t]+/);
      if (!rest[0]) continue;
      var value = rest[0] === "+Inf" ? Infinity : rest[0] === "-Inf" ? -Infinity : Number(rest[0]);
      if (rest[0] !== "NaN" && isNaN(value)) continue;
      onSample(name, labels, value);
    }
  }

  // Request counters summed by class, in all and per upstream.
  function requestTotals(text) {
    var all = dict(), per = dict();
    all.total = 0;
    parseMetrics(text, function (n) { return n === "ringway_requests_total"; },
      function (name, l, v) {
        if (!isFinite(v)) return;
        var up = l.upstream === undefined ? "-" : l.upstream;
        var p = per[up];
        if (!p) { p = per[up] = dict(); p.total = 0; p.servers = dict(); }
        var code = l.code || "none";
        all.total += v; all[code] = (all[code] || 0) + v;
        p.total += v; p[code] = (p[code] || 0) + v;
        if (l.server !== undefined && l.server !== "-") p.servers[l.server] = true;
      });
    return { all: all, per: per };
  }
  var lastScrape = null;   // {t, totals}: the baseline of the rates
  var lastRates = null;    // {all: {...}, per: {upstream: {...}}}
  function rateOf(cur, prev, key, dt) {
    var a = cur[key] || 0, b = prev ? prev[key] || 0 : 0;
    return a >= b ? (a - b) / dt : a / dt;  // a counter that went back: ringway restarted
  }
  function ratesFor(cur, prev, dt) {
    return { total: rateOf(cur, prev, "total", dt), c2: rateOf(cur, prev, "2xx", dt),
             c4: rateOf(cur, prev, "4xx", dt), c5: rateOf(cur, prev, "5xx", dt) };
  }

  function renderTraffic(text) {
    var totals = requestTotals(text);
    var now = performance.now();
    // Rates need two scrapes at least a second apart (a refresh right after a change is
    // not one of them: its short interval would make the rate jump).
    if (lastScrape && now - lastScrape.t >= 1000) {
      var dt = (now - lastScrape.t) / 1000;
      var rates = { all: ratesFor(totals.all, lastScrape.totals.all, dt), per: dict() };
      for (var u in totals.per) {
        rates.per[u] = ratesFor(totals.per[u], lastScrape.totals.per[u], dt);
      }
      lastRates = rates;
      lastScrape = { t: now, totals: totals };
    } else if (!lastScrape) {
      lastScrape = { t: now, totals: totals };
    }
    var r = lastRates ? lastRates.all : null;
    [["rate-total", "total"], ["rate-2xx", "c2"], ["rate-4xx", "c4"], ["rate-5xx", "c5"]]
      .forEach(function (p) {
        var e = $(p[0]);
        setText(e, fmtRate(r ? r[p[1]] : null));
        e.setAttribute("data-rate", r ? String(r[p[1]]) : "");
      });
    $("card-5xx").className = "card" + (r && r.c5 > 0 ? " bad" : "");
    setText($("total-requests"), String(totals.all.total));

    var ups = Object.keys(totals.per).sort(function (a, b) {
      if (a === "-") return 1;
      if (b === "-") return -1;
      return a < b ? -1 : a > b ? 1 : 0;
    });
    sync($("rates-table").tBodies[0], ups, function (u) { return u; }, function (u) {
      var tr = el("tr", { "data-rate-upstream": u });
      tr.appendChild(el("td", { "data-field": "upstream", text: u === "-" ? "(none)" : u }));
      if (u === "-") tr.firstChild.title = "requests no upstream took (redirects, errors)";
      tr.appendChild(el("td", { "data-field": "servers" }));
      ["rate", "rate-2xx", "rate-4xx", "rate-5xx", "requests"].forEach(function (f) {
        tr.appendChild(el("td", { cls: "num", "data-field": f }));
      });
      return tr;
    }, function (tr, u) {
      var t = totals.per[u];
      var x = lastRates && lastRates.per[u] ? lastRates.per[u] : null;
      var cells = tr.children;
      setText(cells[1], Object.keys(t.servers).sort().join(", "));
      setText(cells[2], fmtRate(x ? x.total : null));
      setText(cells[3], fmtRate(x ? x.c2 : null));
      setText(cells[4], fmtRate(x ? x.c4 : null));
      setText(cells[5], fmtRate(x ? x.c5 : null));
      cells[5].style.color = x && x.c5 > 0 ? "var(--down)" : "";
      setText(cells[6], String(t.total));
      cells[2].setAttribute("data-rate", x ? String(x.total) : "");
    });
  }

  // ---- status ----
  function renderStatus(s) {
    var st = $("status");
    var parts = [
      "version " + s.version,
      "config " + s.config,
      "generation " + s.generation,
      s.workers + (s.workers === 1 ? " worker" : " workers"),
      "up " + fmtDuration(s.uptime_seconds || 0),
      "reloads " + (s.reloads ? s.reloads.ok + " ok, " + s.reloads.failed + " failed" : "?"),
      "log " + s.log_level
    ];
    sync(st, parts.concat(["ready"]), function (p) { return p.split(" ")[0]; }, function () {
      return el("span");
    }, function (node, p) {
      if (p === "ready") {
        if (!node.firstChild) node.appendChild(el("span", { cls: "badge" }));
        badge(node.firstChild, s.ready ? "up" : "down", s.ready ? "ready" : "not ready");
      } else {
        setText(node, p);
      }
    });
    st.setAttribute("data-ready", s.ready ? "true" : "false");
    st.setAttribute("data-generation", String(s.generation));
  }

  // ---- upstreams ----
  var backendsById = [];   // the latest /api/v1/backends
  function backendFor(upstreamName, address) {
    var any = null;
    for (var i = 0; i < backendsById.length; i++) {
      var b = backendsById[i];
      if (b.address !== address) continue;
      if (b.upstream === upstreamName || upstreamName.indexOf(b.upstream + "#") === 0) return b;
      any = any || b;
    }
    return any;
  }
  function renderUpstreams(list) {
    var real = dict();
    backendsById.forEach(function (b) { real[b.upstream] = true; });
    sync($("upstream-list"), list, function (u) { return u.name; }, function (u) {
      var tbody = el("tbody");
      var sec = el("div", { "data-upstream": u.name, cls: "upstream" },
        el("h3", null, el("span", { "data-field": "name", text: u.name }), " ",
           el("span", { cls: "note", "data-field": "kind" })),
        el("div", { cls: "wrap" }, el("table", null,
          el("thead", null, el("tr", null,
            el("th", { text: "backend" }), el("th", { text: "id" }), el("th", { text: "health" }),
            el("th", { text: "ejected" }), el("th", { text: "state" }),
            el("th", { cls: "num", text: "weight" }), el("th", { cls: "num", text: "in flight" }),
            el("th", { cls: "num", text: "requests" }), el("th", { cls: "num", text: "ejections" }),
            el("th", { cls: "num", text: "mean latency",
                      title: "mean time to the backend's response head" }))),
          tbody)));
      sec.__tbody = tbody;
      return sec;
    }, function (sec, u) {
      var derived = !real[u.name] && (u.name.indexOf("#") > 0 || u.name.indexOf("tag:") === 0);
      setText(sec.querySelector("[data-field=kind]"),
              derived ? "(the backends of one tag, as a domain uses them)" :
              u.backends.length === 0 ? "(no backends)" : "");
      var rows = u.backends.map(function (b, i) { return { b: b, i: i }; });
      sync(sec.__tbody, rows, function (r) { return r.b.address; }, function (r) {
        var tr = el("tr", { "data-backend": r.b.address });
        ["address", "id", "health", "ejected", "state"].forEach(function (f) {
          tr.appendChild(el("td", { "data-field": f }));
        });
        ["weight", "in_flight", "requests", "ejections", "mean_ttfb_ms"].forEach(function (f) {
          tr.appendChild(el("td", { cls: "num", "data-field": f }));
        });
        tr.children[2].appendChild(el("span", { cls: "badge" }));
        tr.children[3].appendChild(el("span", { cls: "badge" }));
        tr.children[3].appendChild(el("span", { cls: "none" }));
        tr.children[4].appendChild(el("span", { cls: "badge" }));
        return tr;
      }, function (tr, r) {
        var b = r.b, c = tr.children, info = backendFor(u.name, b.address);
        setText(c[0], b.address);
        setText(c[1], info ? info.id : "");
        badge(c[2].firstChild, b.health === "up" ? "up" : "down", b.health);
        tr.setAttribute("data-health", b.health);
        tr.setAttribute("data-ejected", b.ejected ? "true" : "false");
        badge(c[3].firstChild, "yes", "ejected");
        c[3].firstChild.style.display = b.ejected ? "" : "none";
        setText(c[3].lastChild, b.ejected ? "" : "no");
        var state = info ? info.state : "";
        c[4].firstChild.style.display = state ? "" : "none";
        badge(c[4].firstChild, state, state);
        setText(c[5], b.weight);
        setText(c[6], b.in_flight);
        setText(c[7], b.requests);
        setText(c[8], b.ejections);
        setText(c[9], b.mean_ttfb_ms === null || b.mean_ttfb_ms === undefined ? "\u2013"
                      : (b.mean_ttfb_ms < 10 ? b.mean_ttfb_ms.toFixed(2) : b.mean_ttfb_ms.toFixed(1))
                        + " ms");
      });
    });
  }

  // ---- backends ----
  var STATES = ["ready", "drain", "maint"];
  function changeBackend(tr, id, body, what) {
    var msg = tr.querySelector("[data-field=result]");
    message(msg, "", "saving\u2026");
    tr.__pending = true;
    return api("PUT", "/api/v1/backends/" + encodeURIComponent(id), body).then(function (res) {
      if (res.ok) message(msg, "ok", what);
      else message(msg, "err", errorText(res));
      tr.__pending = false;
      tr.__dirty = false;  // the next refresh shows what ringway has, changed or not
      refreshSoon();
    });
  }
  function renderBackends(list) {
    sync($("backends-table").tBodies[0], list, function (b) { return b.id; }, function (b) {
      var tr = el("tr", { "data-backend-id": b.id });
      ["id", "address", "upstream", "tags", "health"].forEach(function (f) {
        tr.appendChild(el("td", { "data-field": f }));
      });
      tr.children[4].appendChild(el("span", { cls: "badge" }));
      var sel = el("select", { "data-action": "state", "aria-label": "state of " + b.id });
      STATES.forEach(function (s) { sel.appendChild(el("option", { value: s, text: s })); });
      sel.addEventListener("change", function () {
        changeBackend(tr, b.id, { state: sel.value }, "state set to " + sel.value);
      });
      var w = el("input", { type: "number", min: "1", max: "1000", step: "1",
                            "data-action": "weight", "aria-label": "weight of " + b.id });
      w.addEventListener("input", function () { tr.__dirty = true; });
      w.addEventListener("change", function () {
        var n = Number(w.value);
        if (!Number.isInteger(n) || n < 1 || n > 1000) {
          message(tr.querySelector("[data-field=result]"), "err", "the weight is 1 to 1000");
          return;
        }
        changeBackend(tr, b.id, { weight: n }, "weight set to " + n);
      });
      tr.appendChild(el("td", { "data-field": "state" }, sel));
      tr.appendChild(el("td", { "data-field": "weight" }, w));
      tr.appendChild(el("td", { "data-field": "result", cls: "msg" }));
      return tr;
    }, function (tr, b) {
      var c = tr.children;
      setText(c[0], b.id);
      setText(c[1], b.address);
      setText(c[2], b.upstream);
      sync(c[3], b.tags || [], function (t) { return t; }, function (t) {
        return el("span", { cls: "tag", text: t });
      }, function () {});
      badge(c[4].firstChild, b.health === "up" ? "up" : "down",
            b.health + (b.ejected ? ", ejected" : ""));
      tr.setAttribute("data-health", b.health);
      tr.setAttribute("data-state", b.state);
      var sel = c[5].firstChild, w = c[6].firstChild;
      if (!tr.__pending && sel.value !== b.state) {
        if (STATES.indexOf(b.state) < 0) {
          sel.appendChild(el("option", { value: b.state, text: b.state }));
          STATES.push(b.state);
        }
        sel.value = b.state;
      }
      if (!tr.__pending && !tr.__dirty && document.activeElement !== w &&
          w.value !== String(b.weight)) {
        w.value = String(b.weight);
      }
    });
  }

  // ---- domains ----
  var knownTags = [];
  function switchDomain(tr, d) {
    var input = tr.querySelector("[data-action=new-tag]");
    var msg = tr.querySelector("[data-field=result]");
    var tag = input.value.trim();
    if (!tag) { message(msg, "err", "enter the tag to switch to"); return; }
    // The server refuses (409) a tag that none of the domain's backends carries; a second
    // press of Switch for the same tag sends it with force.
    var force = tr.__confirm === tag;
    tr.__confirm = null;
    var button = tr.querySelector("[data-action=switch]");
    button.disabled = true;
    message(msg, "", "switching\u2026");
    var body = { new_tag: tag };
    if (force) body.force = true;
    api("POST", "/api/v1/domains/" + encodeURIComponent(d.domain) + "/switch", body)
      .then(function (res) {
        button.disabled = false;
        if (res.ok && res.data) {
          var prev = res.data.previous_tag ? res.data.previous_tag : "(none)";
          message(msg, "ok", "switched " + prev + " \u2192 " + res.data.enabled_backends_tag +
                  " (generation " + res.data.generation + ")");
          input.value = "";
          tr.__dirty = false;
        } else if (res.status === 409 && !force) {
          tr.__confirm = tag;
          message(msg, "warn", errorText(res) + ". Press Switch again to do it anyway.");
        } else {
          message(msg, "err", errorText(res));
        }
        refreshSoon();
      });
  }
  function renderDomains(list) {
    var seen = dict();
    backendsById.forEach(function (b) { (b.tags || []).forEach(function (t) { seen[t] = true; }); });
    knownTags = Object.keys(seen).sort();
    sync($("known-tags"), knownTags, function (t) { return t; }, function (t) {
      return el("option", { value: t });
    }, function () {});
    sync($("domains-table").tBodies[0], list, function (d) { return d.domain; }, function (d) {
      var tr = el("tr", { "data-domain": d.domain });
      ["domain", "upstream", "tag", "https"].forEach(function (f) {
        tr.appendChild(el("td", { "data-field": f }));
      });
      var input = el("input", { type: "text", cls: "tag-input", list: "known-tags",
                                "data-action": "new-tag", placeholder: "tag",
                                "aria-label": "new tag for " + d.domain, spellcheck: "false",
                                autocomplete: "off" });
      var button = el("button", { type: "button", "data-action": "switch", text: "Switch" });
      input.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter") { ev.preventDefault(); switchDomain(tr, tr.__domain); }
      });
      button.addEventListener("click", function () { switchDomain(tr, tr.__domain); });
      tr.appendChild(el("td", null, input, " ", button));
      tr.appendChild(el("td", { "data-field": "result", cls: "msg" }));
      return tr;
    }, function (tr, d) {
      tr.__domain = d;
      var c = tr.children;
      setText(c[0], d.domain);
      var others = (d.server_names || []).filter(function (n) { return n !== d.domain; });
      if (others.length) c[0].title = "also: " + others.join(", ");
      setText(c[1], d.upstream === null || d.upstream === undefined ? "(all upstreams)" : d.upstream);
      c[1].className = d.upstream ? "" : "none";
      var tag = d.enabled_backends_tag;
      setText(c[2], tag === null || tag === undefined ? "(none)" : tag);
      c[2].className = tag ? "" : "none";
      tr.setAttribute("data-tag", tag || "");
      setText(c[3], d.http_to_https ? "redirect" : "no");
    });
  }

  // ---- the refresh loop ----
  var timer = null, running = false, again = false, refreshes = 0;
  function show(res, render, failures, what) {
    if (res.ok && res.data !== null) {
      try { render(res.data); } catch (e) { failures.push(what + ": " + e.message); }
    } else if (res.status !== 401) {
      failures.push(what + ": " + errorText(res));
    }
  }
  var offline = false, lastGood = null;
  function setBanner(text) {
    var banner = $("banner");
    setText(banner, text || "");
    banner.style.display = text ? "block" : "none";
  }
  function unreachable(error) {
    offline = true;
    document.body.classList.add("stale");
    setBanner(error + ": the figures below are from " +
              (lastGood ? lastGood.toLocaleTimeString() : "no update yet") + ".");
    setText($("updated"), "last try " + new Date().toLocaleTimeString());
  }
  function refresh() {
    if (running) { again = true; return; }
    running = true;
    clearTimeout(timer);
    // While ringway cannot be reached, one request per try rather than five (the browser
    // logs every failed fetch).
    var probe = offline ? api("GET", "/api/v1/status") : Promise.resolve(null);
    probe.then(function (p) {
      if (p && p.network) return p;
      return Promise.all([
        api("GET", "/api/v1/status"), api("GET", "/api/v1/backends"),
        api("GET", "/api/v1/upstreams"), api("GET", "/api/v1/domains"),
        api("GET", "/metrics", undefined, true)
      ]);
    }).then(function (r) {
      if (!Array.isArray(r)) { unreachable(r.error); return; }
      if (r.every(function (x) { return x.network; })) { unreachable(r[0].error); return; }
      offline = false;
      document.body.classList.remove("stale");
      var failures = [];
      if (r[1].ok && Array.isArray(r[1].data)) backendsById = r[1].data;
      show(r[0], renderStatus, failures, "status");
      show(r[1], renderBackends, failures, "backends");
      show(r[2], renderUpstreams, failures, "upstreams");
      show(r[3], renderDomains, failures, "domains");
      if (r[4].ok) {
        try { renderTraffic(r[4].text); } catch (e) { failures.push("metrics: " + e.message); }
      } else if (r[4].status !== 401) {
        failures.push("metrics: " + errorText(r[4]));
      }
      setBanner(failures.join("; "));
      lastGood = new Date();
      refreshes++;
      document.body.setAttribute("data-refreshes", String(refreshes));
      setText($("updated"), (failures.length ? "last try " : "updated ") +
              lastGood.toLocaleTimeString());
    }).catch(function (e) {
      setBanner("the page failed to update: " + (e && e.message ? e.message : e));
    }).then(function () {
      running = false;
      if (again) { again = false; refresh(); return; }
      timer = setTimeout(refresh, REFRESH_MS);
    });
  }
  function refreshSoon() { refresh(); }

  $("auth").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var t = $("token-input").value.trim();
    if (!t) { message($("auth-msg"), "err", "enter the token"); return; }
    setToken(t);
    $("token-input").value = "";
    message($("auth-msg"), "ok", "token kept for this tab; repeat the change");
    refreshSoon();
  });
  $("token-forget").addEventListener("click", function () {
    setToken("");
    $("token-input").value = "";
    message($("auth-msg"), "", "token forgotten");
  });
  // A token kept from before in this tab: say so, and offer to forget it.
  if (getToken()) showAuth("a token is kept for this tab", "");
  refresh();
})();
</script>
</body>
</html>
)html";
}

}  // namespace ringway::admin
