/// The operator page at `GET /`: one self-contained HTML file (no build step, no outside fetches) that
/// reads `/api/now`, `/api/models`, `/api/dead-letters`, `/api/users/{user}` and
/// `/recommendations/{user}?explain=1` and refreshes every few seconds. Everything a producer sent
/// (ids, payloads, details) is written with `textContent`, never parsed as HTML.
///
/// Each number a test or a script may read carries `data-value` (the raw number) on an element with an id.
/// `?user=ID` opens that user's panel; `?refresh=MS` sets the refresh period (default 3000).
enum OperatorPage {
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Tacit</title>
        <style>
          :root { --fg:#1d2330; --muted:#667085; --line:#e4e7ec; --bg:#f7f8fa; --card:#fff; --acc:#2f6fed; --neg:#d1495b; --pop:#98a2b3; --ok:#12805c; }
          * { box-sizing: border-box; }
          body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
          header { display:flex; gap:16px; align-items:baseline; padding:12px 20px; background:var(--card); border-bottom:1px solid var(--line); flex-wrap:wrap; }
          header h1 { margin:0; font-size:18px; }
          header .meta { color:var(--muted); }
          .dot { display:inline-block; width:9px; height:9px; border-radius:50%; background:var(--pop); margin-right:6px; }
          .dot.up { background:var(--ok); } .dot.down { background:var(--neg); }
          main { display:grid; grid-template-columns:repeat(auto-fit, minmax(560px, 1fr)); gap:16px; padding:16px 20px; }
          section { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:14px 16px; min-width:0; }
          section h2 { margin:0 0 10px; font-size:15px; }
          .tiles { display:grid; grid-template-columns:repeat(auto-fill, minmax(120px, 1fr)); gap:10px; }
          .tile { border:1px solid var(--line); border-radius:6px; padding:8px 10px; }
          .tile .v { font-size:20px; font-variant-numeric:tabular-nums; }
          .tile .k { color:var(--muted); font-size:12px; }
          table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
          th, td { text-align:left; padding:3px 8px 3px 0; border-bottom:1px solid var(--line); vertical-align:top; }
          th { color:var(--muted); font-weight:500; font-size:12px; }
          td.t, .tile .v { white-space:nowrap; }
          td.num, th.num { text-align:right; }
          .scroll { max-height:320px; overflow:auto; }
          .muted { color:var(--muted); }
          .neg { color:var(--neg); }
          .mono { font-family:ui-monospace, SFMono-Regular, Menlo, monospace; font-size:12px; word-break:break-all; }
          form { display:flex; gap:8px; margin-bottom:10px; }
          input { flex:1; padding:5px 8px; border:1px solid var(--line); border-radius:5px; font:inherit; }
          button { padding:5px 12px; border:1px solid var(--acc); background:var(--acc); color:#fff; border-radius:5px; font:inherit; cursor:pointer; }
          .cols { display:grid; grid-template-columns:1fr 1fr; gap:14px; }
          .legend span { margin-right:12px; font-size:12px; }
          .legend i { display:inline-block; width:14px; height:3px; vertical-align:middle; margin-right:4px; }
          svg text { font-size:11px; fill:var(--muted); }
          .err { color:var(--neg); }
        </style>
        </head>
        <body>
        <header>
          <h1>Tacit</h1>
          <span class="meta" id="hdr-role"></span>
          <span class="meta"><span class="dot" id="hdr-dot"></span><span id="hdr-status">loading…</span></span>
          <span class="meta">serving <b id="hdr-model">–</b></span>
          <span class="meta" id="hdr-updated"></span>
        </header>
        <main>
          <section id="now">
            <h2>Now</h2>
            <div class="tiles" id="now-tiles"></div>
          </section>

          <section id="models">
            <h2>Models</h2>
            <div class="legend" id="models-legend"></div>
            <svg id="models-plot" width="100%" height="200" viewBox="0 0 560 200" preserveAspectRatio="none" role="img" aria-label="online metrics per model version"></svg>
            <div class="scroll"><table id="models-versions"></table></div>
            <h2 style="margin-top:12px">Fine-tunes</h2>
            <div class="scroll"><table id="models-finetunes"></table></div>
          </section>

          <section id="user">
            <h2>A user</h2>
            <form id="user-form"><input id="user-input" placeholder="user id" autocomplete="off"><button>Show</button></form>
            <div id="user-summary" class="muted">Type a user id.</div>
            <div class="cols">
              <div><h2>Recent events</h2><div class="scroll"><table id="user-events"></table></div></div>
              <div><h2>Current list</h2><div class="scroll"><table id="user-list"></table></div>
                <h2 style="margin-top:12px">Why</h2><div id="user-why" class="muted">–</div></div>
            </div>
          </section>

          <section id="deadletters">
            <h2>Dead letters</h2>
            <div class="cols">
              <div><table id="dl-counts"></table></div>
              <div class="muted" id="dl-summary"></div>
            </div>
            <h2 style="margin-top:12px">Newest</h2>
            <div class="scroll"><table id="dl-newest"></table></div>
          </section>
        </main>
        <script>
        "use strict";
        const params = new URLSearchParams(location.search);
        const refreshMs = Math.max(500, Number(params.get("refresh")) || 3000);
        let currentUser = params.get("user") || "";

        function el(tag, attrs, ...children) {
          const e = document.createElement(tag);
          for (const [k, v] of Object.entries(attrs || {})) {
            if (v === undefined || v === null) continue;
            if (k === "class") e.className = v; else e.setAttribute(k, v);
          }
          for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c === null || c === undefined ? "" : String(c)));
          return e;
        }
        function fill(node, ...children) { node.replaceChildren(...children); }
        function fmt(x, digits) {
          if (x === null || x === undefined || Number.isNaN(x)) return "–";
          if (digits !== undefined) return Number(x).toFixed(digits);
          return Number(x).toLocaleString("en-US", { maximumFractionDigits: 1 });
        }
        function time(ms) {
          if (ms === null || ms === undefined) return "–";
          return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "");
        }
        function table(node, head, rows) {
          const thead = el("tr", {}, ...head.map(h => el("th", { class: h.num ? "num" : undefined }, h.label || h)));
          const cls = h => h.num ? "num" : h === "time" || h === "created" ? "t" : undefined;
          fill(node, thead, ...rows.map(r => el("tr", {}, ...r.map((c, i) => el("td", { class: cls(head[i]) }, c)))));
        }
        async function getJSON(path) {
          const r = await fetch(path, { cache: "no-store" });
          let body = null;
          try { body = await r.json(); } catch (_) {}
          return { status: r.status, body };
        }

        // --- Now ---------------------------------------------------------------------------------
        function tile(id, label, value, shown) {
          return el("div", { class: "tile" }, el("div", { class: "v", id, "data-value": value === null || value === undefined ? "" : value }, shown),
                    el("div", { class: "k" }, label));
        }
        async function refreshNow() {
          const { body: n } = await getJSON("/api/now");
          if (!n) return;
          fill(document.getElementById("hdr-role"), "role " + n.role);
          fill(document.getElementById("hdr-status"), n.status);
          document.getElementById("hdr-dot").className = "dot " + (n.brokers === "up" && n.live ? "up" : n.brokers === "down" || !n.live ? "down" : "");
          fill(document.getElementById("hdr-model"), n.serving.model + " v" + n.serving.version);
          fill(document.getElementById("hdr-updated"), "updated " + time(n.at_ms) + " UTC");
          const ps = n.per_second, t = n.totals, f = n.freshness;
          fill(document.getElementById("now-tiles"),
            tile("now-consumed-rate", "consumed / s", ps.consumed, fmt(ps.consumed)),
            tile("now-applied-rate", "applied / s", ps.applied, fmt(ps.applied)),
            tile("now-deadlettered-rate", "dead-lettered / s", ps.dead_lettered, fmt(ps.dead_lettered)),
            tile("now-lists-rate", "lists / s", ps.lists_published, fmt(ps.lists_published)),
            tile("now-lag", "lag (records)", n.lag, fmt(n.lag)),
            tile("now-freshness-p50", "freshness p50 (ms)", f ? f.p50_ms : null, f ? fmt(f.p50_ms) : "–"),
            tile("now-freshness-p99", "freshness p99 (ms)", f ? f.p99_ms : null, f ? fmt(f.p99_ms) : "–"),
            tile("now-partitions", "assigned partitions", n.assigned_partitions, fmt(n.assigned_partitions)),
            tile("now-restoring", "restoring", n.restoring_partitions, fmt(n.restoring_partitions)),
            tile("now-brokers", "brokers", n.brokers, n.brokers),
            tile("now-consumed", "consumed (since start)", t.consumed, fmt(t.consumed)),
            tile("now-applied", "applied (since start)", t.applied, fmt(t.applied)),
            tile("now-deadlettered", "dead-lettered (since start)", t.dead_lettered, fmt(t.dead_lettered)),
            tile("now-lists", "lists (since start)", t.lists_published, fmt(t.lists_published)));
        }

        // --- Models ------------------------------------------------------------------------------
        const series = [
          { key: "hr10", label: "online HR@10", color: "#2f6fed" },
          { key: "ndcg10", label: "online NDCG@10", color: "#12805c" },
          { key: "negshare10", label: "online NegShare@10", color: "#d1495b" },
        ];
        function plot(svg, versions) {
          const W = 560, H = 200, L = 40, R = 10, T = 10, B = 24;
          const svgNS = "http://www.w3.org/2000/svg";
          const s = (tag, attrs, text) => {
            const e = document.createElementNS(svgNS, tag);
            for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
            if (text !== undefined) e.textContent = text;
            return e;
          };
          const learned = versions.filter(v => v.version > 0 && v.online && v.online.lists > 0);
          const pop = versions.find(v => v.version === 0 && v.online && v.online.lists > 0);
          const ys = learned.flatMap(v => series.map(x => v.online[x.key])).concat(pop ? series.map(x => pop.online[x.key]) : []);
          const yMax = Math.max(0.05, ...ys) * 1.1;
          const xs = learned.map(v => v.created_at_ms || 0);
          const x0 = Math.min(...xs), x1 = Math.max(...xs);
          const X = t => xs.length < 2 || x1 === x0 ? L + (W - L - R) / 2 : L + (t - x0) / (x1 - x0) * (W - L - R);
          const Y = y => T + (1 - y / yMax) * (H - T - B);
          const nodes = [s("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#e4e7ec" })];
          for (let i = 0; i <= 4; i++) {
            const y = yMax * i / 4;
            nodes.push(s("line", { x1: L, y1: Y(y), x2: W - R, y2: Y(y), stroke: "#f0f2f5" }), s("text", { x: 2, y: Y(y) + 4 }, y.toFixed(2)));
          }
          for (const x of series) {
            if (pop) nodes.push(s("line", { x1: L, y1: Y(pop.online[x.key]), x2: W - R, y2: Y(pop.online[x.key]), stroke: x.color, "stroke-dasharray": "4 4", "stroke-opacity": 0.6 }));
            if (learned.length) {
              nodes.push(s("polyline", { fill: "none", stroke: x.color, "stroke-width": 2, points: learned.map(v => X(v.created_at_ms || 0) + "," + Y(v.online[x.key])).join(" ") }));
              for (const v of learned) nodes.push(s("circle", { cx: X(v.created_at_ms || 0), cy: Y(v.online[x.key]), r: 3, fill: x.color }));
            }
          }
          if (learned.length) {
            nodes.push(s("text", { x: L, y: H - 6 }, learned[0].model + " v" + learned[0].version + " · " + time(learned[0].created_at_ms)));
            if (learned.length > 1) nodes.push(s("text", { x: W - R, y: H - 6, "text-anchor": "end" }, "v" + learned[learned.length - 1].version + " · " + time(learned[learned.length - 1].created_at_ms)));
          } else {
            nodes.push(s("text", { x: L + 10, y: H / 2 }, pop ? "no published list of a learned model scored yet (dashed: popularity)" : "no published list scored yet"));
          }
          svg.replaceChildren(...nodes);
        }
        async function refreshModels() {
          const { body: m } = await getJSON("/api/models");
          if (!m) return;
          const legend = series.map(x => el("span", {}, el("i", { style: "background:" + x.color }), x.label));
          legend.push(el("span", { class: "muted" }, "points: model versions by time · dashed: popularity (before any model)"));
          fill(document.getElementById("models-legend"), ...legend);
          plot(document.getElementById("models-plot"), m.versions);
          table(document.getElementById("models-versions"),
            ["version", "created", { label: "fine-tune s", num: true }, { label: "held-out NDCG@10", num: true },
             { label: "online lists", num: true }, { label: "HR@10", num: true }, { label: "NDCG@10", num: true }, { label: "NegShare@10", num: true },
             { label: "popularity, same users and moments: HR@10 / NDCG@10 / NegShare@10", num: true }],
            m.versions.slice().reverse().map(v => [
              el("span", { id: "version-" + v.model + "-" + v.version }, v.model + " v" + v.version + (v.serving ? " ●" : "")),
              time(v.created_at_ms),
              fmt(v.fine_tune_seconds, 1),
              v.held_out["ndcg@10"] === undefined ? "–" : fmt(v.held_out["ndcg@10"], 4),
              el("span", { "data-value": v.online ? v.online.lists : "" }, v.online ? fmt(v.online.lists) : "–"),
              el("span", { "data-value": v.online ? v.online.hr10 : "" }, v.online ? fmt(v.online.hr10, 4) : "–"),
              v.online ? fmt(v.online.ndcg10, 4) : "–",
              v.online ? fmt(v.online.negshare10, 4) : "–",
              v.online && v.online.control
                ? [v.online.control.hr10, v.online.control.ndcg10, v.online.control.negshare10].map(x => fmt(x, 4)).join(" / ") : "–",
            ]));
          table(document.getElementById("models-finetunes"),
            ["time", "decision", { label: "candidate NDCG@10", num: true }, { label: "serving NDCG@10", num: true }, { label: "s", num: true }, "reason"],
            m.fine_tunes.map(f => [
              time(f.at_ms),
              el("span", { class: f.decision === "promoted" ? "" : "neg" }, f.decision + (f.version ? " → v" + f.version : "")),
              fmt(f.candidate["ndcg@10"], 4),
              f.serving["ndcg@10"] === undefined ? "–" : fmt(f.serving["ndcg@10"], 4),
              fmt(f.seconds, 1),
              el("span", { class: "muted" }, f.reason || ""),
            ]));
          if (!m.fine_tunes.length) fill(document.getElementById("models-finetunes"), el("tr", {}, el("td", { class: "muted" }, "no fine-tune on this instance (role serve reads models from the models topic)")));
        }

        // --- A user ------------------------------------------------------------------------------
        async function refreshUser() {
          if (!currentUser) return;
          const enc = encodeURIComponent(currentUser);
          const [u, r] = await Promise.all([getJSON("/api/users/" + enc + "?events=50"), getJSON("/recommendations/" + enc + "?explain=1")]);
          const summary = document.getElementById("user-summary");
          if (u.status !== 200) {
            summary.className = "err";
            fill(summary, u.status === 404 ? "unknown user " + currentUser : "error " + u.status);
            for (const id of ["user-events", "user-list", "user-why"]) fill(document.getElementById(id));
            return;
          }
          summary.className = "muted";
          const b = u.body;
          fill(summary, el("b", { id: "user-name" }, b.user), " · ",
            el("span", { id: "user-applied", "data-value": b.events_applied }, fmt(b.events_applied)), " events · partition " + (b.partition ?? "–") +
            " · served " + b.served_here + " · " + Object.entries(b.behavior_counts).map(([k, v]) => k + " " + v).join(", "));
          table(document.getElementById("user-events"), ["time", "item", "behavior", "feedback"],
            b.events.map(e => [time(e.at_ms), e.item, e.behavior,
              el("span", { class: e.feedback === "skip" || e.feedback === "dislike" ? "neg" : "" }, e.feedback ? e.feedback + (e.value !== null && e.value !== undefined ? " (" + e.value + ")" : "") : "")]));
          const why = document.getElementById("user-why");
          if (r.status !== 200 || !r.body) {
            fill(document.getElementById("user-list"), el("tr", {}, el("td", { class: "muted" }, (r.body && r.body.error) || ("HTTP " + r.status))));
            fill(why, "–");
            return;
          }
          const list = r.body;
          const because = new Map(((list.explanation || {}).because || []).map(x => [x.item, x.because]));
          table(document.getElementById("user-list"), [{ label: "#", num: true }, "item", { label: "score", num: true }, "because you took"],
            list.items.map((it, i) => [i + 1, el("span", { class: "list-item" }, it.item), fmt(it.score, 3), because.get(it.item) || ""]));
          const x = list.explanation || {};
          const parts = [el("div", { class: "muted" }, "from " + list.model + " v" + list.model_version + " at " + list.generated_at)];
          if (x.hesitation && x.hesitation.length) parts.push(el("div", { id: "why-hesitation" }, "Hesitated over: " + x.hesitation.map(h => h.item + " (converts " + (h.conversion_probability * 100).toFixed(0) + " %)").join(", ")));
          if (x.negatives && x.negatives.length) parts.push(el("div", { id: "why-negatives", class: "neg" }, "Read as negative: " + x.negatives.map(n => n.item + " (" + n.feedback + ")").join(", ")));
          if (x.pushed_down && x.pushed_down.length) parts.push(el("div", { id: "why-pushed-down" }, "Pushed down by them: " + x.pushed_down.map(p => p.item + " (would be #" + p.rank_without_negatives + ")").join(", ")));
          if (parts.length === 1 && !because.size) parts.push(el("div", { class: "muted" }, "this model gives no explanation"));
          fill(why, ...parts);
        }
        document.getElementById("user-form").addEventListener("submit", ev => {
          ev.preventDefault();
          currentUser = document.getElementById("user-input").value.trim();
          const url = new URL(location.href);
          if (currentUser) url.searchParams.set("user", currentUser); else url.searchParams.delete("user");
          history.replaceState(null, "", url);
          refreshUser();
        });

        // --- Dead letters ------------------------------------------------------------------------
        async function refreshDeadLetters() {
          const { body: d } = await getJSON("/api/dead-letters?limit=20");
          if (!d) return;
          const counts = Object.entries(d.counts).sort((a, b) => b[1] - a[1]);
          table(document.getElementById("dl-counts"), ["reason", { label: "count", num: true }],
            counts.length ? counts.map(([k, v]) => [k, el("span", { id: "dl-count-" + k, "data-value": v }, fmt(v))]) : [["none", "0"]]);
          fill(document.getElementById("dl-summary"), "to topic " + d.topic + " · ",
            el("span", { id: "dl-pending", "data-value": d.pending }, fmt(d.pending)), " waiting in the outbox");
          table(document.getElementById("dl-newest"), ["source", "reason", "detail", "payload"],
            d.newest.map(l => [
              el("span", { class: "mono" }, l.source.topic + "/" + l.source.partition + "@" + l.source.offset + (l.delivered_at_ms ? "" : " (pending)")),
              el("span", { class: "neg dl-reason" }, l.reason),
              l.detail,
              el("span", { class: "mono" }, l.payload + (l.payload_bytes > l.payload.length ? " … (" + l.payload_bytes + " bytes)" : "")),
            ]));
        }

        async function refreshAll() {
          const jobs = [refreshNow(), refreshModels(), refreshDeadLetters(), refreshUser()];
          const results = await Promise.allSettled(jobs);
          const failed = results.find(r => r.status === "rejected");
          if (failed) fill(document.getElementById("hdr-status"), "daemon not answering (" + failed.reason + ")");
          document.body.dataset.loaded = String(Number(document.body.dataset.loaded || 0) + 1);
        }
        document.getElementById("user-input").value = currentUser;
        refreshAll();
        setInterval(refreshAll, refreshMs);
        </script>
        </body>
        </html>
        """#
}
