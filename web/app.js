// kneecave demo page: upload a squat video, follow the job, show the per-rep result.
// Plain browser JavaScript, no build step and no libraries (the page must work offline,
// served by the API itself). Server data is only ever inserted with textContent or as
// SVG attributes, never as HTML.
"use strict";

(() => {
  const KEY_STORAGE = "kneecave.apiKey";
  const TERMINAL = new Set(["succeeded", "failed", "canceled"]);
  // Mirrors SEVERITY_BANDS in service/pipeline/scoring/knee.py (score >= edge → band).
  const BANDS = [
    { min: 85, max: 100, name: "none" },
    { min: 60, max: 85, name: "mild" },
    { min: 35, max: 60, name: "moderate" },
    { min: 0, max: 35, name: "severe" },
  ];
  const DEFAULT_RETRY_S = 2;
  const MAX_NETWORK_RETRIES = 5;
  const SVG_NS = "http://www.w3.org/2000/svg";

  const $ = (id) => document.getElementById(id);
  const el = {
    form: $("upload-form"),
    key: $("api-key"),
    forget: $("forget-key"),
    video: $("video"),
    view: $("view"),
    mirrored: $("mirrored"),
    submit: $("submit"),
    cancel: $("cancel"),
    progress: $("progress"),
    statusText: $("status-text"),
    jobId: $("job-id"),
    live: $("live"),
    error: $("error"),
    errorTitle: $("error-title"),
    errorDetail: $("error-detail"),
    errorCode: $("error-code"),
    errorFields: $("error-fields"),
    result: $("result"),
    resultHeading: $("result-heading"),
    overview: $("overview"),
    notes: $("notes"),
    repsBody: document.querySelector("#reps tbody"),
    reasons: $("reasons"),
    plotLeft: $("plot-left"),
    plotRight: $("plot-right"),
    cues: $("cues"),
    exercises: $("exercises"),
    raw: $("raw"),
    player: $("player"),
    videoWrap: $("video-wrap"),
    videoPlayer: $("video-player"),
    videoBadge: $("video-badge"),
    timeline: $("timeline"),
    playerCaption: $("player-caption"),
    overlay: $("overlay"),
    overlayNote: $("overlay-note"),
    replay: $("replay"),
    replayFile: $("replay-file"),
    skeletonControls: $("skeleton-controls"),
    skeletonPlay: $("skeleton-play"),
    skeletonTime: $("skeleton-time"),
    cuesFound: $("cues-found"),
    exercisesFound: $("exercises-found"),
  };

  // One job followed at a time; a new upload abandons the previous poll loop.
  const state = { jobId: null, timer: null, generation: 0, lastStatus: null };
  // The file behind the current job (null when the job was reopened from the URL) and
  // what the video player shows: its blob: URL, the current result and its reps, the job's
  // landmarks (GET …/landmarks) and the overlay drawing them.
  const media = {
    file: null, url: null, result: null, reps: [], current: null, doc: null, overlay: null,
    loads: 0,
  };
  // Without the file (a job reopened from its link) the skeleton plays alone on this clock.
  const clock = { t: 0, playing: false, last: 0, duration: 0 };
  const { Overlay } = window.KneecaveOverlay;
  const FRAME_CALLBACKS = "requestVideoFrameCallback" in HTMLVideoElement.prototype;

  // ---------------------------------------------------------------- small helpers

  function make(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  const isNum = (v) => typeof v === "number" && Number.isFinite(v);
  const fmt = (v, digits = 0) => (isNum(v) ? v.toFixed(digits) : "—");
  const pct = (v) => (isNum(v) ? `${Math.round(v * 100)}%` : "—");

  function retryAfterSeconds(value) {
    // Retry-After is delta-seconds or an HTTP date; clamp so a bad value cannot stall or spin.
    if (!value) return DEFAULT_RETRY_S;
    let s = Number(value);
    if (!Number.isFinite(s)) {
      const at = Date.parse(value);
      s = Number.isNaN(at) ? DEFAULT_RETRY_S : (at - Date.now()) / 1000;
    }
    return Math.min(Math.max(s, 0.5), 60);
  }

  function authHeaders() {
    return { Authorization: `Bearer ${el.key.value.trim()}` };
  }

  function announce(text) {
    el.live.textContent = text;
  }

  // ---------------------------------------------------------------- status and errors

  function setProgress(fraction, text) {
    if (fraction === null) {
      el.progress.removeAttribute("value"); // indeterminate: waiting, no figure to show
      el.progress.textContent = "";
    } else {
      el.progress.value = Math.min(Math.max(fraction, 0), 1);
      el.progress.textContent = pct(fraction);
    }
    el.statusText.textContent = text;
  }

  function clearError() {
    el.error.hidden = true;
    el.errorTitle.textContent = "";
    el.errorDetail.textContent = "";
    el.errorCode.textContent = "";
    el.errorFields.replaceChildren();
  }

  function showError({ title, detail, code, errors }) {
    el.errorTitle.textContent = title || "Something went wrong";
    el.errorDetail.textContent = detail || "";
    el.errorCode.textContent = code || "—";
    el.errorFields.replaceChildren(
      ...(Array.isArray(errors) ? errors : []).map((e) =>
        make("li", `${(e.loc || []).join(".")}: ${e.msg || ""}`),
      ),
    );
    el.error.hidden = false;
  }

  // An error response: RFC 9457 problem+json from the API, anything else from a proxy.
  function problemFrom(status, bodyText) {
    let body = null;
    try {
      body = JSON.parse(bodyText);
    } catch {
      body = null;
    }
    if (body && typeof body === "object" && body.title) {
      return { title: body.title, detail: body.detail, code: body.code, errors: body.errors };
    }
    const detail = (bodyText || "").trim().slice(0, 300);
    return { title: `HTTP ${status}`, detail: detail || "the server sent no details", code: null };
  }

  function setBusy(busy) {
    el.submit.disabled = busy;
    el.form.setAttribute("aria-busy", busy ? "true" : "false");
  }

  function stopPolling() {
    state.generation += 1; // any in-flight poll sees a stale generation and stops
    if (state.timer !== null) clearTimeout(state.timer);
    state.timer = null;
    el.cancel.disabled = true;
  }

  // ---------------------------------------------------------------- submit and poll

  function submitJob(event) {
    event.preventDefault();
    clearError();
    const key = el.key.value.trim();
    const file = el.video.files && el.video.files[0];
    if (!key) {
      showError({ title: "API key missing", detail: "Enter the API key for your tenant." });
      el.key.focus();
      return;
    }
    if (!file) {
      showError({ title: "No video chosen", detail: "Choose a squat video to analyse." });
      el.video.focus();
      return;
    }
    localStorage.setItem(KEY_STORAGE, key);
    stopPolling();
    media.file = file;
    el.result.hidden = true;
    state.jobId = null;
    state.lastStatus = null;
    el.jobId.textContent = "";

    const body = new FormData();
    body.append("view", el.view.value);
    if (el.mirrored.checked) body.append("mirrored", "true");
    body.append("video", file, file.name);

    // XMLHttpRequest rather than fetch: it reports upload progress, which matters for
    // phone videos of tens of megabytes on a slow uplink.
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "v1/jobs");
    try {
      xhr.setRequestHeader("Authorization", authHeaders().Authorization);
    } catch {
      showError({ title: "Invalid API key", detail: "The key contains characters a header cannot carry." });
      return;
    }
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) {
        const f = e.loaded / e.total;
        setProgress(f, `Uploading… ${pct(f)}`);
      }
    });
    xhr.addEventListener("load", () => {
      setBusy(false);
      if (xhr.status === 202 || xhr.status === 200) {
        let job;
        try {
          job = JSON.parse(xhr.responseText);
        } catch {
          showError({ title: "Unexpected response", detail: "The job response was not JSON." });
          setProgress(0, "Upload failed.");
          return;
        }
        followJob(job.id, retryAfterSeconds(xhr.getResponseHeader("Retry-After")));
        renderJobStatus(job);
      } else {
        setProgress(0, "Upload refused.");
        showError(problemFrom(xhr.status, xhr.responseText));
        announce("Upload refused.");
      }
    });
    xhr.addEventListener("error", () => {
      setBusy(false);
      setProgress(0, "Upload failed.");
      showError({ title: "Network error", detail: "The server could not be reached.", code: null });
    });
    setBusy(true);
    setProgress(0, "Uploading… 0%");
    announce("Uploading the video.");
    xhr.send(body);
  }

  function followJob(jobId, firstDelayS) {
    stopPolling();
    state.jobId = jobId;
    el.jobId.textContent = `Job ${jobId}`;
    el.cancel.disabled = false;
    // The hash lets a reload (or a bookmark) pick the job up again.
    history.replaceState(null, "", `#job=${encodeURIComponent(jobId)}`);
    const generation = state.generation;
    let failures = 0;

    const schedule = (delayS) => {
      state.timer = setTimeout(poll, delayS * 1000);
    };

    async function poll() {
      if (generation !== state.generation) return;
      let response;
      let text;
      try {
        response = await fetch(`v1/jobs/${encodeURIComponent(jobId)}`, {
          headers: authHeaders(),
          cache: "no-store",
        });
        text = await response.text();
      } catch {
        if (generation !== state.generation) return;
        failures += 1;
        if (failures > MAX_NETWORK_RETRIES) {
          showError({ title: "Network error", detail: "Lost contact with the server.", code: null });
          el.cancel.disabled = true;
          return;
        }
        el.statusText.textContent = `Connection lost, retrying (${failures}/${MAX_NETWORK_RETRIES})…`;
        schedule(DEFAULT_RETRY_S * 2 ** failures);
        return;
      }
      if (generation !== state.generation) return;
      failures = 0;
      const retry = retryAfterSeconds(response.headers.get("Retry-After"));
      if (response.status === 429 || response.status === 503) {
        el.statusText.textContent = `Server busy, checking again in ${Math.ceil(retry)} s…`;
        schedule(retry);
        return;
      }
      if (!response.ok) {
        el.cancel.disabled = true;
        showError(problemFrom(response.status, text));
        setProgress(0, "Could not read the job.");
        return;
      }
      const job = JSON.parse(text);
      renderJobStatus(job);
      if (TERMINAL.has(job.status)) {
        el.cancel.disabled = true;
        finishJob(job);
      } else {
        schedule(retry);
      }
    }

    schedule(firstDelayS);
  }

  function renderJobStatus(job) {
    const status = job.status;
    if (status === "queued") {
      setProgress(null, "Queued — waiting for a worker…");
    } else if (status === "processing") {
      setProgress(job.progress || 0, `Analysing… ${pct(job.progress || 0)}`);
    } else if (status === "succeeded") {
      setProgress(1, "Done.");
    } else if (status === "failed") {
      setProgress(0, "Analysis failed.");
    } else if (status === "canceled") {
      setProgress(0, "Canceled.");
    }
    // Announce changes of status, not every percent (screen readers would chatter).
    if (status !== state.lastStatus) {
      state.lastStatus = status;
      announce(el.statusText.textContent);
    }
  }

  function finishJob(job) {
    if (job.status === "succeeded" && job.result) {
      renderResult(job.result);
      loadLandmarks(job.id);
    } else if (job.status === "failed") {
      const err = job.error || {};
      showError({ title: "Analysis failed", detail: err.detail, code: err.code });
    }
  }

  async function cancelJob() {
    if (!state.jobId) return;
    el.cancel.disabled = true;
    const jobId = state.jobId;
    try {
      const response = await fetch(`v1/jobs/${encodeURIComponent(jobId)}/cancel`, {
        method: "POST",
        headers: authHeaders(),
      });
      const text = await response.text();
      if (!response.ok) {
        showError(problemFrom(response.status, text));
        return;
      }
      const job = JSON.parse(text);
      renderJobStatus(job);
      if (TERMINAL.has(job.status)) {
        stopPolling();
        finishJob(job);
      }
    } catch {
      showError({ title: "Network error", detail: "The cancel request did not reach the server." });
    }
  }

  // ---------------------------------------------------------------- result rendering

  // Null metrics show why: each distinct reason becomes a numbered note under the table.
  class Reasons {
    constructor() {
      this.index = new Map();
    }

    cell(reason) {
      const text = reason || "not measured in this rep";
      if (!this.index.has(text)) this.index.set(text, this.index.size + 1);
      const n = this.index.get(text);
      const span = make("span", "n/a", "na");
      const sup = make("sup");
      const link = make("a", n);
      link.href = `#reason-${n}`;
      link.setAttribute("aria-label", `not available: ${text}`);
      sup.append(link);
      span.append(sup);
      return span;
    }

    render(list) {
      list.replaceChildren(
        ...[...this.index].map(([text, n]) => {
          const li = make("li", text);
          li.id = `reason-${n}`;
          li.value = n;
          return li;
        }),
      );
      list.hidden = this.index.size === 0;
    }
  }

  function badge(severity) {
    return make("span", severity, `badge sev-${severity}`);
  }

  function scoreCell(score, severity) {
    const frag = document.createDocumentFragment();
    frag.append(make("span", fmt(score), "score"));
    if (severity) frag.append(" ", badge(severity));
    return frag;
  }

  function kneeCell(rep, side, reasons) {
    const kc = rep.knee_cave;
    if (!kc) return reasons.cell("knee cave not reported");
    const s = kc[side];
    if (!s) return reasons.cell(kc.reason || `${side} leg not visible at mid-depth`);
    if (!isNum(s.score)) return reasons.cell(kc.reason);
    return scoreCell(s.score, s.severity);
  }

  function deviationCell(rep, side, reasons) {
    const kc = rep.knee_cave;
    const s = kc && kc[side];
    if (!s || !isNum(s.deviation_leg)) return reasons.cell((kc && kc.reason) || null);
    const span = make("span", `${fmt(s.deviation_leg, 2)}`);
    span.title = "How far the knee sits inside the plane of its own foot, in leg lengths "
      + "(negative: knees out). The graded measure; none < 0.08, mild < 0.15, moderate < 0.22.";
    return span;
  }

  function ankleCell(rep, side, reasons) {
    const an = rep.ankle;
    if (!an) return reasons.cell("ankle not reported");
    const s = an[side];
    if (!s) return reasons.cell(an.reason || `${side} foot not visible`);
    if (!isNum(s.score)) return reasons.cell(an.reason);
    const frag = document.createDocumentFragment();
    frag.append(make("span", fmt(s.score), "score"));
    // One proxy figure under the score: the graded one (ankle drift from the front, heel lift
    // from the side).
    if (isNum(s.medial_ankle_drift_leg)) {
      frag.append(make("small", `ankle drift ${fmt(s.medial_ankle_drift_leg, 3)}`, "proxy"));
    } else if (isNum(s.heel_lift_leg)) {
      frag.append(make("small", `heel lift ${fmt(s.heel_lift_leg, 3)} leg`, "proxy"));
    }
    return frag;
  }

  function depthCell(depth) {
    if (!depth) return make("span", "—");
    const frag = document.createDocumentFragment();
    const main = make("span", `hip drop ${fmt(depth.hip_drop_leg, 2)}`);
    main.title = "Pelvis drop from standing to the bottom, in leg lengths.";
    frag.append(main);
    const extra = [];
    if (depth.below_parallel === true) extra.push("below parallel");
    if (depth.below_parallel === false) extra.push("above parallel");
    if (isNum(depth.knee_flexion_deg)) extra.push(`knee ${fmt(depth.knee_flexion_deg)}°`);
    if (extra.length) frag.append(make("small", extra.join(" · "), "proxy"));
    return frag;
  }

  function row(rep, reasons, seekable) {
    const tr = make("tr");
    tr.dataset.rep = String(rep.index);
    const th = make("th");
    th.scope = "row";
    if (seekable) {
      const b = make("button", rep.index, "rep-link");
      b.type = "button";
      b.setAttribute("aria-label", `Show rep ${rep.index} in the video`);
      b.addEventListener("click", () => {
        seekTo(rep);
        el.player.scrollIntoView({ block: "nearest" });
      });
      th.append(b);
    } else {
      th.textContent = String(rep.index);
    }
    tr.append(th);
    const cells = [
      make("span", `${fmt(rep.start_s, 2)} / ${fmt(rep.bottom_s, 2)} / ${fmt(rep.end_s, 2)}`),
      depthCell(rep.depth),
      kneeCell(rep, "left", reasons),
      kneeCell(rep, "right", reasons),
      deviationCell(rep, "left", reasons),
      deviationCell(rep, "right", reasons),
      ankleCell(rep, "left", reasons),
      ankleCell(rep, "right", reasons),
      make("span", pct(rep.confidence)),
    ];
    for (const content of cells) {
      const td = make("td");
      td.append(content);
      tr.append(td);
    }
    return tr;
  }

  function overviewItem(term, value) {
    // A <div> per term/value pair (valid in <dl>) keeps each pair together in the grid.
    const pair = make("div");
    pair.append(make("dt", term));
    const dd = make("dd");
    dd.append(value);
    pair.append(dd);
    return pair;
  }

  function summaryValue(metric, withSeverity) {
    if (!metric || !isNum(metric.score)) {
      return make("span", `n/a — ${(metric && metric.reason) || "no rep could be scored"}`, "na");
    }
    const frag = document.createDocumentFragment();
    frag.append(make("span", `${fmt(metric.score)} / 100`, "score"));
    if (withSeverity && metric.severity) frag.append(" ", badge(metric.severity));
    if (metric.later_reps_worse) frag.append(make("small", " later reps worse", "proxy"));
    return frag;
  }

  function renderOverview(r) {
    const v = r.video || {};
    const s = r.summary || {};
    const asym = s.asymmetry || {};
    const items = [
      overviewItem("Reps", make("span", r.rep_count, "score")),
      overviewItem("View", make("span", `${r.view}${r.view_changes ? " (changes between reps)" : ""}`)),
      overviewItem("Confidence", make("span", pct(r.confidence))),
      overviewItem("Video", make("span",
        `${v.width}×${v.height}, ${fmt(v.fps, 1)} fps, ${fmt(v.duration_s, 1)} s`)),
      overviewItem("Knee cave", summaryValue(s.knee_cave, true)),
      overviewItem("Ankle", summaryValue(s.ankle, false)),
      overviewItem("Worse side", make("span",
        asym.worse_side ? `${asym.worse_side} (${fmt(Math.abs(asym.knee_cave_points))} points)`
          : "no clear asymmetry")),
    ];
    el.overview.replaceChildren(...items);
  }

  // Why each piece of advice fits. The finding that triggered a group is the same for all of
  // it (every knee exercise answers the same knee finding), so it is said once above the
  // list; each item then says what it does about that finding, from the result's own fields.
  const listOf = (ids) => ids.join(", ");
  const plural = (n, word) => `${word}${n === 1 ? "" : "s"}`;
  const sidesText = (a) => (a.sides && a.sides.length ? a.sides.join(" and ") : "caving");

  function repsOf(r, a) {
    return (r.reps || []).filter((rep) => (a.reps || []).includes(rep.index));
  }

  // The worst graded knee side among the advice's reps: { rep, side, s }.
  function worstKnee(r, a) {
    let worst = null;
    for (const rep of repsOf(r, a)) {
      for (const side of ["left", "right"]) {
        const s = rep.knee_cave && rep.knee_cave[side];
        if (s && isNum(s.score) && (!worst || s.score < worst.s.score)) worst = { rep, side, s };
      }
    }
    return worst;
  }

  const FIT = {
    banded_squat: (a, r) => `pushing out against a band practises the knees-out cue in the squat
      itself, for the ${a.reps.length} of ${r.rep_count} ${plural(r.rep_count, "rep")} that caved`,
    clamshells: (a, r) => {
      const means = (a.sides || []).map((side) => {
        const m = ((r.summary || {}).knee_cave || {})[side] || {};
        return isNum(m.mean_score) ? `${side} ${fmt(m.mean_score)}/100` : null;
      }).filter(Boolean);
      return `strengthens the hip abductors and external rotators (gluteus medius) that hold the
        ${sidesText(a)} ${plural((a.sides || []).length, "knee")} out${means.length
        ? ` (mean knee-cave score ${means.join(", ")})` : ""}`;
    },
    x_band_walk: (a, r) => {
      const asym = (r.summary || {}).asymmetry || {};
      return asym.worse_side
        ? `loads one hip at a time: the ${asym.worse_side} knee scored
          ${fmt(Math.abs(asym.knee_cave_points))} points worse than the other`
        : `works both hips alike: the two knees scored within ${
          fmt(Math.abs(asym.knee_cave_points || 0))} points of each other`;
    },
    lateral_squat_walk: (a, r) => {
      const drops = repsOf(r, a).map((rep) => rep.depth && rep.depth.hip_drop_leg).filter(isNum);
      return `keeps the band's pull at squat depth, where the knees caved${drops.length
        ? ` (those reps reached a hip drop of up to ${fmt(Math.max(...drops), 2)} leg)` : ""}`;
    },
    banded_lunge_warmup: (a, r) => {
      const w = worstKnee(r, a);
      return w ? `the band pulls the knee in as your ${w.side} knee fell in rep ${w.rep.index}
        (score ${fmt(w.s.score)}); resisting it rehearses holding the line`
        : "the band pulls the knee in; resisting it rehearses holding the line";
    },
    foot_ankle: (a, r) => {
      const drift = repsOf(r, a).flatMap((rep) => (a.sides || []).map(
        (side) => ((rep.ankle || {})[side] || {}).medial_ankle_drift_leg)).filter(isNum);
      return `works on the arch from below: the ankle drifted inside the foot${drift.length
        ? ` by up to ${fmt(Math.max(...drift), 3)} leg` : ""} (a pronation proxy, not a
        measurement of the arch)`;
    },
  };

  // `found`: the paragraph above the list that holds a finding shared by several items.
  function renderAdvice(list, found, items, emptyText, r) {
    found.hidden = true;
    found.textContent = "";
    if (!items || items.length === 0) {
      list.replaceChildren(make("li", emptyText, "muted"));
      return;
    }
    const counts = new Map();
    for (const a of items) counts.set(a.because, (counts.get(a.because) || 0) + 1);
    const shared = [...counts].filter(([text, n]) => text && n > 1).map(([text]) => text);
    if (shared.length) {
      found.textContent = `Found: ${shared.join("; ")}.`;
      found.hidden = false;
    }
    list.replaceChildren(
      ...items.map((a) => {
        const li = make("li");
        li.dataset.id = a.id || "";
        li.append(make("span", a.text));
        const fit = FIT[a.id] && shared.includes(a.because) ? FIT[a.id](a, r) : null;
        const why = fit ? fit.replace(/\s+/g, " ") : a.because && `because: ${a.because}`;
        if (why) li.append(make("small", why, "because"));
        return li;
      }),
    );
  }

  function renderPlot(container, reps, side) {
    const W = 320;
    const H = 170;
    const m = { l: 34, r: 12, t: 10, b: 30 };
    const pw = W - m.l - m.r;
    const ph = H - m.t - m.b;
    const points = reps.map((rep) => {
      const s = rep.knee_cave && rep.knee_cave[side];
      return { rep: rep.index, score: s && isNum(s.score) ? s.score : null, sev: s && s.severity };
    });
    const scored = points.filter((p) => p.score !== null);
    const titleId = `${container.id}-title`;
    const descId = `${container.id}-desc`;
    const root = svg("svg", {
      viewBox: `0 0 ${W} ${H}`,
      role: "img",
      "aria-labelledby": `${titleId} ${descId}`,
      class: "plot-svg",
    });
    root.append(svg("title", { id: titleId }, `${side} knee-cave score per rep`));
    const desc = scored.length
      ? points.map((p) => `rep ${p.rep}: ${p.score === null ? "n/a" : fmt(p.score)}`).join(", ")
      : "no rep could be scored for this side";
    root.append(svg("desc", { id: descId }, desc));

    const n = Math.max(points.length, 1);
    const x = (i) => m.l + (n === 1 ? pw / 2 : (i * pw) / (n - 1));
    const y = (score) => m.t + ph * (1 - score / 100);

    for (const band of BANDS) {
      root.append(svg("rect", {
        x: m.l, y: y(band.max), width: pw, height: y(band.min) - y(band.max),
        class: `band sev-${band.name}`,
      }));
    }
    for (const tick of [0, 35, 60, 85, 100]) {
      root.append(svg("line", { x1: m.l, x2: m.l + pw, y1: y(tick), y2: y(tick), class: "grid" }));
      root.append(svg("text", { x: m.l - 5, y: y(tick) + 3.5, class: "tick", "text-anchor": "end" }, tick));
    }
    // Label every rep up to 12, then thin the labels so they never overlap.
    const step = Math.ceil(points.length / 12) || 1;
    points.forEach((p, i) => {
      if (i % step === 0 || i === points.length - 1) {
        root.append(svg("text", { x: x(i), y: H - m.b + 14, class: "tick", "text-anchor": "middle" }, p.rep));
      }
    });
    root.append(svg("text", { x: m.l + pw / 2, y: H - 3, class: "axis", "text-anchor": "middle" }, "rep"));

    if (!scored.length) {
      root.append(svg("text", { x: m.l + pw / 2, y: m.t + ph / 2, class: "empty", "text-anchor": "middle" },
        "no scores for this side"));
    }
    // The line breaks where a rep has no score: a gap is honest, interpolation is not.
    let d = "";
    let pen = false;
    points.forEach((p, i) => {
      if (p.score === null) {
        pen = false;
        return;
      }
      d += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(p.score).toFixed(1)} `;
      pen = true;
    });
    if (d) root.append(svg("path", { d: d.trim(), class: "series" }));
    points.forEach((p, i) => {
      if (p.score === null) return;
      const c = svg("circle", { cx: x(i), cy: y(p.score), r: 4, class: `point sev-${p.sev || "none"}` });
      c.append(svg("title", {}, `rep ${p.rep}: ${fmt(p.score)} (${p.sev || "n/a"})`));
      root.append(c);
    });
    container.replaceChildren(root);
  }

  // ---------------------------------------------------------------- video, skeleton and timeline

  const percent = (x) => `${(100 * Math.min(Math.max(x, 0), 1)).toFixed(2)}%`;

  function describeRep(rep) {
    const kc = rep.knee_cave || {};
    const side = (name, s) => (s && isNum(s.score) ? `${name} ${fmt(s.score)} ${s.severity}` : `${name} n/a`);
    return `knee cave ${side("L", kc.left)} · ${side("R", kc.right)}`;
  }

  // The media time on screen: the video's, or the skeleton's own clock without the file.
  function playhead() {
    return media.file ? el.videoPlayer.currentTime : clock.t;
  }

  // Draw the skeleton for media time t (the video's size, once known, fixes the letterbox).
  function drawAt(t) {
    showRepAt(t);
    if (!media.overlay) return;
    const v = el.videoPlayer;
    const live = Boolean(media.file) && v.videoWidth > 0;
    media.overlay.draw(t, live ? v.videoWidth : 0, live ? v.videoHeight : 0);
  }

  function seekTo(rep) {
    if (media.file) {
      el.videoPlayer.pause();
      el.videoPlayer.currentTime = rep.bottom_s;
    } else {
      pauseClock();
      clock.t = rep.bottom_s;
    }
    drawAt(rep.bottom_s);
  }

  // Highlight the rep under the playhead in the timeline and the table, and say it on
  // the video; only touches the DOM when the rep changes.
  function showRepAt(t) {
    const duration = el.timeline.dataset.duration ? Number(el.timeline.dataset.duration) : 0;
    const head = el.timeline.querySelector(".playhead");
    if (head && duration > 0) head.style.left = percent(t / duration);
    if (!media.file) el.skeletonTime.value = String(t);
    const rep = media.reps.find((r) => t >= r.start_s && t <= r.end_s) || null;
    if (rep === media.current) return;
    media.current = rep;
    for (const b of el.timeline.querySelectorAll("button")) {
      b.setAttribute("aria-current", String(rep !== null && b.dataset.rep === String(rep.index)));
    }
    for (const tr of el.repsBody.querySelectorAll("tr")) {
      tr.classList.toggle("current", rep !== null && tr.dataset.rep === String(rep.index));
    }
    el.videoBadge.hidden = rep === null;
    el.videoBadge.textContent = rep ? `Rep ${rep.index} · ${describeRep(rep)}` : "";
  }

  // Frame-accurate drawing: requestVideoFrameCallback hands over the presented frame's own
  // media time; without it, animation frames read currentTime while the video plays.
  function watchVideoFrames() {
    const v = el.videoPlayer;
    if (FRAME_CALLBACKS) {
      const onFrame = (_now, frame) => {
        if (media.file) drawAt(frame.mediaTime);
        v.requestVideoFrameCallback(onFrame);
      };
      v.requestVideoFrameCallback(onFrame);
    } else {
      const tick = () => {
        if (!media.file || v.paused || v.ended) return;
        drawAt(v.currentTime);
        requestAnimationFrame(tick);
      };
      v.addEventListener("play", () => requestAnimationFrame(tick));
      v.addEventListener("timeupdate", () => drawAt(v.currentTime));
    }
    for (const event of ["seeked", "loadeddata"]) {
      v.addEventListener(event, () => {
        if (media.file) drawAt(v.currentTime);
      });
    }
    v.addEventListener("loadedmetadata", checkSameVideo);
    // A layout change (rotation, a narrower window) moves the video: redraw where it is now.
    new ResizeObserver(() => drawAt(playhead())).observe(el.videoWrap);
  }

  // The file picked again for a reopened job should be the analysed one.
  function checkSameVideo() {
    const want = media.result && media.result.video && media.result.video.duration_s;
    const got = el.videoPlayer.duration;
    if (!isNum(want) || !isNum(got) || Math.abs(got - want) <= Math.max(0.5, 0.05 * want)) return;
    el.playerCaption.textContent = `This file lasts ${fmt(got, 1)} s but the analysed video `
      + `lasted ${fmt(want, 1)} s: the skeleton will not match it. Pick the same file.`;
  }

  // ---- the skeleton's own clock (no video file)

  function tickClock(now) {
    if (!clock.playing) return;
    clock.t = Math.min(clock.t + (now - clock.last) / 1000, clock.duration);
    clock.last = now;
    drawAt(clock.t);
    if (clock.t >= clock.duration) pauseClock();
    else requestAnimationFrame(tickClock);
  }

  function playClock() {
    if (clock.t >= clock.duration) clock.t = 0;
    clock.playing = true;
    clock.last = performance.now();
    el.skeletonPlay.textContent = "Pause";
    requestAnimationFrame(tickClock);
  }

  function pauseClock() {
    clock.playing = false;
    el.skeletonPlay.textContent = "Play";
  }

  // ---- the player

  function attachOverlay() {
    media.overlay = media.doc ? new Overlay(el.overlay, media.doc, media.reps) : null;
    el.overlay.hidden = media.overlay === null;
    drawAt(playhead());
  }

  // The landmarks of a succeeded job; the skeleton is drawn once they are here. Without
  // them (the tenant opted out, or they are gone with the job) the video plays alone.
  async function loadLandmarks(jobId) {
    const load = ++media.loads;
    media.doc = null;
    el.overlayNote.textContent = "";
    let response;
    let text;
    try {
      response = await fetch(`v1/jobs/${encodeURIComponent(jobId)}/landmarks`, {
        headers: authHeaders(),
      });
      text = await response.text();
    } catch {
      text = null;
    }
    if (load !== media.loads || el.player.hidden) return;
    if (!response || !response.ok) {
      const why = response ? problemFrom(response.status, text).detail : "the server could not be reached";
      el.overlayNote.textContent = `No skeleton to draw: ${why}.`;
      attachOverlay();
      return;
    }
    media.doc = JSON.parse(text);
    clock.duration = Math.max(clock.duration, media.doc.t_s[media.doc.t_s.length - 1] || 0);
    el.skeletonTime.max = String(clock.duration);
    attachOverlay();
  }

  // Returns whether reps can be shown in the player: with the file, the video plays under
  // the skeleton; without it (a job reopened from its link: the server deleted its copy),
  // the skeleton plays alone on a blank stage of the video's shape until the file is
  // picked again.
  function renderPlayer(r) {
    const reps = r.reps || [];
    if (media.url) URL.revokeObjectURL(media.url);
    media.url = null;
    media.result = r;
    media.reps = reps;
    media.current = null;
    pauseClock();
    if (reps.length === 0) {
      el.player.hidden = true;
      el.videoPlayer.removeAttribute("src");
      return false;
    }
    const v = r.video || {};
    const ratio = v.width > 0 && v.height > 0 ? v.width / v.height : 16 / 9;
    // Sized from the result before the video loads: no jump when its metadata arrives.
    el.videoWrap.style.aspectRatio = String(ratio);
    // At most 24rem tall (a portrait phone video stays beside the summary) and 32rem wide.
    // A definite length, not a percentage: the grid sizes the video's column from it
    // (a percentage made the column as wide as the caption's text, over the summary);
    // the stylesheet's max-width: 100% keeps it inside a phone screen.
    el.player.style.width = `min(32rem, calc(24rem * ${ratio.toFixed(4)}))`;
    const live = Boolean(media.file);
    el.videoPlayer.hidden = !live;
    el.replay.hidden = live;
    el.skeletonControls.hidden = live;
    if (live) {
      media.url = URL.createObjectURL(media.file);
      el.videoPlayer.src = media.url;
      el.playerCaption.textContent =
        "Your video, played from this browser. Select a rep to jump to its bottom position.";
    } else {
      el.videoPlayer.removeAttribute("src");
      el.videoPlayer.load();
      el.playerCaption.textContent = "The server deletes the video once it is scored: the "
        + "skeleton plays alone. Pick the same file to see it on the video.";
    }

    const duration = v.duration_s > 0 ? v.duration_s : Math.max(...reps.map((x) => x.end_s));
    clock.t = 0;
    clock.duration = duration;
    el.skeletonTime.max = String(duration);
    el.skeletonTime.value = "0";
    el.timeline.dataset.duration = String(duration);
    const buttons = reps.map((rep) => {
      const sev = (rep.knee_cave && rep.knee_cave.severity) || "na";
      const b = make("button", rep.index, `sev-${sev}`);
      b.type = "button";
      b.dataset.rep = String(rep.index);
      b.style.left = percent(rep.start_s / duration);
      b.style.width = percent((rep.end_s - rep.start_s) / duration);
      b.setAttribute("aria-label",
        `Rep ${rep.index}, ${describeRep(rep)}: jump to its bottom at ${fmt(rep.bottom_s, 1)} s`);
      b.addEventListener("click", () => seekTo(rep));
      return b;
    });
    el.timeline.replaceChildren(...buttons, make("div", null, "playhead"));
    el.videoBadge.hidden = true;
    el.player.hidden = false;
    attachOverlay();
    return true;
  }

  // The same file picked again for a reopened job: play it under the skeleton.
  function replayFile() {
    const file = el.replayFile.files && el.replayFile.files[0];
    if (!file || !media.result) return;
    media.file = file;
    const t = clock.t;
    renderPlayer(media.result);
    el.videoPlayer.currentTime = t;
  }

  function renderResult(r) {
    renderOverview(r);
    const notes = [...(r.notes || [])];
    if (r.reason) notes.unshift(r.reason);
    el.notes.replaceChildren(...notes.map((t) => make("li", t)));
    el.notes.hidden = notes.length === 0;

    const reasons = new Reasons();
    const reps = r.reps || [];
    const seekable = renderPlayer(r);
    el.repsBody.replaceChildren(...reps.map((rep) => row(rep, reasons, seekable)));
    if (reps.length === 0) {
      const tr = make("tr");
      const td = make("td", r.reason || "No reps found.", "muted");
      td.colSpan = 10;
      tr.append(td);
      el.repsBody.append(tr);
    }
    reasons.render(el.reasons);

    renderPlot(el.plotLeft, reps, "left");
    renderPlot(el.plotRight, reps, "right");
    const s = r.summary || {};
    renderAdvice(el.cues, el.cuesFound, s.cues, "No cue needed: nothing to correct was found.", r);
    renderAdvice(el.exercises, el.exercisesFound, s.exercises, "No corrective exercise suggested.", r);
    el.raw.textContent = JSON.stringify(r, null, 2);

    el.result.hidden = false;
    announce(`Result ready: ${r.rep_count} reps.`);
    el.resultHeading.focus();
  }

  // ---------------------------------------------------------------- wiring

  function init() {
    el.key.value = localStorage.getItem(KEY_STORAGE) || "";
    el.key.addEventListener("change", () => {
      const key = el.key.value.trim();
      if (key) localStorage.setItem(KEY_STORAGE, key);
      else localStorage.removeItem(KEY_STORAGE);
    });
    el.forget.addEventListener("click", () => {
      localStorage.removeItem(KEY_STORAGE);
      el.key.value = "";
      el.key.focus();
    });
    el.form.addEventListener("submit", submitJob);
    watchVideoFrames();
    el.replayFile.addEventListener("change", replayFile);
    el.skeletonPlay.addEventListener("click", () => (clock.playing ? pauseClock() : playClock()));
    el.skeletonTime.addEventListener("input", () => {
      pauseClock();
      clock.t = Number(el.skeletonTime.value);
      drawAt(clock.t);
    });
    el.videoPlayer.addEventListener("error", () => {
      if (!el.videoPlayer.getAttribute("src")) return;
      el.playerCaption.textContent =
        "This browser cannot play this video format; the timeline still shows where the reps are.";
    });
    el.cancel.addEventListener("click", cancelJob);

    // Reopened with #job=…: pick the job up again (same key needed: jobs are per tenant).
    const match = /^#job=([\w-]+)$/.exec(location.hash);
    if (match && el.key.value.trim()) {
      media.file = null; // the video stays on the device it was chosen on
      setProgress(null, "Loading the job…");
      followJob(decodeURIComponent(match[1]), 0);
    }
  }

  init();
})();
