/* The operator console: polls the admin data endpoint and redraws the page in place.
 * No framework, no inline code (the page's CSP allows only this file): text goes in with
 * textContent, charts are SVG elements built with the DOM. */
"use strict";

(function () {
  const root = document.getElementById("console");
  if (!root) {
    return;
  }
  const SOURCE = root.dataset.source;
  const LOGIN = root.dataset.login;
  const REFRESH_MS = Math.max(1, Number(root.dataset.refresh) || 3) * 1000;
  const SVG = "http://www.w3.org/2000/svg";
  const MB = 1e6; // Render states Key Value sizes in MB of 10^6 bytes
  const outages = { redis: null, postgres: null }; // earliest moment seen down, per dependency
  const recoveries = { redis: null, postgres: null }; // {at, lasted} of the last recovery seen
  let stopped = false;

  const $ = (id) => document.getElementById(id);
  const setText = (id, value) => { $(id).textContent = value; };
  const count = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"));
  const percent = (ratio) => (ratio === null || ratio === undefined ? "–" : (ratio * 100).toFixed(1) + " %");
  const megabytes = (bytes) => (bytes / MB).toFixed(2) + " MB";
  const clock = (date) => date.toLocaleTimeString("en-GB");
  const clamp = (x) => Math.max(0, Math.min(1, Number.isFinite(x) ? x : 0));

  function duration(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
    if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
    return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
  }

  function level(fraction) {
    if (fraction >= 0.9) return "is-bad";
    if (fraction >= 0.75) return "is-warn";
    return "is-ok";
  }

  function setGauge(id, fraction) {
    const arc = $(id);
    arc.setAttribute("stroke-dasharray", (clamp(fraction) * 100).toFixed(2) + " 100");
    arc.setAttribute("class", "gauge-value " + level(fraction));
  }

  function setBar(id, used, size) {
    const fraction = size > 0 ? used / size : 0;
    const bar = $(id);
    bar.style.width = (clamp(fraction) * 100).toFixed(1) + "%"; // CSSOM: allowed by the CSP
    bar.className = "bar-fill " + level(fraction);
  }

  /* Remember when a dependency was first seen down (the worker's breaker may know earlier),
   * and how long the outage lasted once it is seen up again. */
  function track(name, up, serverSince) {
    const now = new Date();
    if (up) {
      if (outages[name]) {
        recoveries[name] = { at: now, lasted: now - outages[name] };
        outages[name] = null;
      }
      return;
    }
    const since = serverSince ? new Date(serverSince) : now;
    if (!outages[name] || since < outages[name]) {
      outages[name] = since;
    }
  }

  function setPill(id, up) {
    const pill = $(id);
    pill.dataset.state = up ? "up" : "down";
    pill.textContent = up ? "up" : "down";
  }

  function recoveryNote(name) {
    const r = recoveries[name];
    return r ? " · back since " + clock(r.at) + " after " + duration(r.lasted) + " down" : "";
  }

  function renderStates(d) {
    const redis = d.redis;
    const pg = d.postgres;
    track("redis", redis.up, redis.down_since);
    track("postgres", pg.up, null);
    const now = new Date();

    setPill("redis-state", redis.up);
    setText("redis-detail", redis.up
      ? "answering, up for " + duration(redis.uptime_seconds * 1000) + " · outages seen by this worker: "
        + redis.outages_seen + recoveryNote("redis")
      : "unreachable since " + clock(outages.redis) + " (" + duration(now - outages.redis) + ")");

    setPill("postgres-state", pg.up);
    setText("postgres-detail", pg.up
      ? "answering in " + pg.latency_ms + " ms" + recoveryNote("postgres")
      : "unreachable since " + clock(outages.postgres) + " (" + duration(now - outages.postgres)
        + "): " + pg.error);

    const banner = $("banner");
    const problems = [];
    if (!redis.up) {
      problems.push("Redis is down since " + clock(outages.redis) + " (" + duration(now - outages.redis)
        + "). The service runs degraded: no response cache, no sessions, rate limits counted per worker. "
        + "Redis figures are unavailable; PostgreSQL's are below.");
    }
    if (!pg.up) {
      problems.push("PostgreSQL is down since " + clock(outages.postgres) + " ("
        + duration(now - outages.postgres) + "). Requests that need the database answer 503.");
    }
    banner.textContent = problems.length ? problems.join(" ") : "Redis and PostgreSQL are up.";
    banner.className = "banner " + (problems.length ? "banner-down" : "banner-ok");
  }

  function renderRedis(d) {
    const redis = d.redis;
    if (redis.memory) {
      const m = redis.memory;
      setGauge("memory-arc", m.used_bytes / m.limit_bytes);
      setText("memory-used", megabytes(m.used_bytes));
      $("memory-used").dataset.bytes = String(m.used_bytes);
      setText("memory-limit", "of " + megabytes(m.limit_bytes) + " ("
        + (m.limit_source === "maxmemory" ? "maxmemory" : "REDIS_MEMORY_LIMIT, Redis sets none")
        + ") · " + percent(m.used_bytes / m.limit_bytes) + " · peak " + megabytes(m.peak_bytes)
        + " · policy " + (m.policy || "–"));
    } else {
      setGauge("memory-arc", 0);
      setText("memory-used", "unavailable");
      delete $("memory-used").dataset.bytes;
      setText("memory-limit", "Redis does not answer");
    }
    if (redis.clients) {
      const c = redis.clients;
      const service = c.service === null ? c.connected : c.service;
      setGauge("connections-arc", service / c.budget_per_instance);
      setText("connections-used", count(service) + " / " + count(c.budget_per_instance));
      setText("connections-detail", "the service's connections against REDIS_MAX_CONNECTIONS (one instance); "
        + count(c.connected) + " clients in all, " + count(c.budget_per_process) + " per worker");
    } else {
      setGauge("connections-arc", 0);
      setText("connections-used", "unavailable");
      setText("connections-detail", "Redis does not answer");
    }
    setText("hit-ratio", percent(redis.hit_ratio));
    setText("ops", count(redis.ops_per_sec));
    setText("evicted", count(redis.evicted_keys));
    setText("expired", count(redis.expired_keys));

    const counters = d.counters;
    setText("rate-limited", counters ? count(counters.rate_limited) : "unavailable");
    setText("cache-hits", counters ? count(counters.cache_hits) + " / " + count(counters.cache_misses) : "unavailable");
    setText("redis-errors", counters ? count(counters.redis_errors) : "unavailable");

    const alerts = $("alerts");
    alerts.replaceChildren();
    const item = (text, cls) => {
      const li = document.createElement("li");
      li.textContent = text;
      li.className = cls;
      alerts.appendChild(li);
    };
    if (d.alerts === null) {
      item("unknown while Redis does not answer", "muted");
    } else if (d.alerts.length === 0) {
      item("none: every figure is within its threshold", "muted");
    } else {
      for (const a of d.alerts) {
        const show = a.metric === "memory" ? megabytes : count;
        item(a.metric + " is " + show(a.value) + ", above the threshold of " + show(a.threshold), "alert");
      }
    }

    const keys = $("keys");
    keys.replaceChildren();
    if (redis.keys) {
      for (const [prefix, n] of Object.entries(redis.keys.by_prefix)) {
        const row = document.createElement("tr");
        const th = document.createElement("th");
        const td = document.createElement("td");
        th.scope = "row";
        th.textContent = prefix;
        td.textContent = count(n);
        row.append(th, td);
        keys.appendChild(row);
      }
      setText("keys-total", count(redis.keys.total));
      setText("keys-note", redis.keys.exact ? "" : "(estimated from " + count(redis.keys.sampled) + " keys)");
    } else {
      setText("keys-total", "unavailable");
      setText("keys-note", "");
    }
  }

  function renderPostgres(d) {
    const counts = d.postgres.counts;
    const projects = counts ? Object.values(counts.projects).reduce((a, b) => a + b, 0) : null;
    setText("count-users", counts ? count(counts.users) : "unavailable");
    setText("count-projects", counts ? count(projects) : "unavailable");
    setText("count-open", counts ? count(counts.projects.open) : "unavailable");
    setText("count-proposals", counts ? count(counts.proposals) : "unavailable");
    setText("worker-pid", String(d.worker_pid));
    const pools = d.pools;
    setText("redis-pool", pools.redis.in_use + " of " + pools.redis.size + " in use");
    setBar("redis-pool-bar", pools.redis.in_use, pools.redis.size);
    setText("postgres-pool", pools.postgres.in_use + " of " + pools.postgres.size + " in use");
    setBar("postgres-pool-bar", pools.postgres.in_use, pools.postgres.size);
  }

  function niceCeiling(value) {
    if (!(value > 0)) return 1;
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 2.5, 5, 10]) {
      if (step * power >= value) return step * power;
    }
    return 10 * power;
  }

  function svg(name, attributes, text) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /* One line chart: time on x (the last hour), `value(point)` on y from 0; a gap where a
   * value is missing or samples are more than three intervals apart. */
  function drawChart(id, history, value, fixedMax, unit) {
    const chart = $(id);
    chart.replaceChildren();
    const W = 320, H = 140, left = 36, right = 8, top = 8, bottom = 20;
    const end = Date.now() / 1000;
    const start = end - history.window_seconds;
    const points = history.points.filter((p) => value(p) !== null);
    const max = fixedMax || niceCeiling(Math.max(0, ...points.map(value)) * 1.15);
    const x = (t) => left + ((t - start) / (end - start)) * (W - left - right);
    const y = (v) => top + (1 - Math.min(v, max) / max) * (H - top - bottom);
    for (const fraction of [0, 0.5, 1]) {
      const v = max * fraction;
      chart.append(svg("line", { x1: left, x2: W - right, y1: y(v), y2: y(v), class: "grid" }),
        svg("text", { x: left - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" },
          (Number.isInteger(v) ? v : v.toFixed(1)) + unit));
    }
    for (const [t, label] of [[start, "−60 min"], [start + history.window_seconds / 2, "−30 min"], [end, "now"]]) {
      const anchor = t === start ? "start" : t === end ? "end" : "middle";
      chart.append(svg("text", { x: x(t), y: H - 6, class: "axis", "text-anchor": anchor }, label));
    }
    if (points.length === 0) {
      chart.append(svg("text", { x: (left + W - right) / 2, y: H / 2, class: "empty", "text-anchor": "middle" },
        "no samples yet"));
      return;
    }
    const gap = Math.max(3 * (history.interval_seconds || 60), 30);
    let path = "";
    let previous = null;
    for (const p of points) {
      const move = previous === null || p.t - previous.t > gap;
      path += (move ? "M" : "L") + x(p.t).toFixed(1) + " " + y(value(p)).toFixed(1) + " ";
      previous = p;
    }
    chart.append(svg("path", { d: path.trim(), class: "line" }));
    const last = points[points.length - 1];
    chart.append(svg("circle", { cx: x(last.t), cy: y(value(last)), r: 3, class: "dot" }));
  }

  function renderHistory(d) {
    const history = d.history;
    if (!history) {
      setText("history-note", "unavailable while Redis does not answer (the samples are kept in Redis)");
      return; // the charts keep what they last showed
    }
    const n = history.points.length;
    setText("history-note", n + (n === 1 ? " sample" : " samples") + ", at most one per "
      + (history.interval_seconds || "–") + " s (ALERT_CHECK_INTERVAL)");
    drawChart("chart-memory", history, (p) => (p.memory_bytes === null ? null : p.memory_bytes / MB), 0, "");
    drawChart("chart-ops", history, (p) => p.ops_per_sec, 0, "");
    drawChart("chart-hits", history, (p) => (p.hit_ratio === null ? null : p.hit_ratio * 100), 100, "");
  }

  function render(d) {
    renderStates(d);
    renderRedis(d);
    renderPostgres(d);
    renderHistory(d);
    setText("updated", "Updated " + clock(new Date()) + " by worker " + d.worker_pid
      + " · refreshed every " + REFRESH_MS / 1000 + " s");
  }

  function signedOut() {
    stopped = true;
    const banner = $("banner");
    banner.className = "banner banner-down";
    banner.replaceChildren("Your sign-in has ended. ");
    const link = document.createElement("a");
    link.href = LOGIN;
    link.textContent = "Sign in again";
    banner.append(link);
  }

  function unreachable(reason) {
    const banner = $("banner");
    banner.className = "banner banner-down";
    banner.textContent = "The service did not answer at " + clock(new Date()) + " (" + reason
      + "). Retrying every " + REFRESH_MS / 1000 + " s.";
    $("redis-state").dataset.state = "unknown";
    $("postgres-state").dataset.state = "unknown";
  }

  async function poll() {
    try {
      const response = await fetch(SOURCE, {
        credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" },
      });
      if (response.status === 401 || response.status === 403) {
        signedOut();
        return;
      }
      const body = await response.json();
      if (!response.ok || !body.success) {
        throw new Error(body.error || "HTTP " + response.status);
      }
      render(body);
    } catch (error) {
      unreachable(error.message || String(error));
    } finally {
      if (!stopped) {
        window.setTimeout(poll, REFRESH_MS);
      }
    }
  }

  poll();
})();
