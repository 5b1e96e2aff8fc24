// kneecave demo page: the skeleton drawn over the video from GET /v1/jobs/{id}/landmarks.
// Knees take the colour of their side's severity in the rep under the playhead; from 40% of
// the rep's hip drop (where the knee-cave measure starts, docs/scoring.md) each graded leg
// also shows what the score is measured against: the hip→ankle line, the foot's direction
// and the knee's offset from that line. The measure itself is 3D; this is its 2D picture.
"use strict";

window.KneecaveOverlay = (() => {
  const LEGS = ["left", "right"];
  const BONES = [
    ["left_shoulder", "right_shoulder"], ["left_hip", "right_hip"],
    ["left_shoulder", "left_hip"], ["right_shoulder", "right_hip"],
    ["left_hip", "left_knee"], ["left_knee", "left_ankle"],
    ["right_hip", "right_knee"], ["right_knee", "right_ankle"],
    ["left_ankle", "left_heel"], ["left_heel", "left_foot_index"],
    ["right_ankle", "right_heel"], ["right_heel", "right_foot_index"],
  ];
  // The part of a rep graded for knee cave starts at this share of the hip drop.
  const DEEP_FROM = 0.4;
  const SEVERITIES = ["none", "mild", "moderate", "severe"];
  const UNGRADED = "#ffffff";
  const BONE = "rgba(255, 255, 255, 0.9)";
  const SHADOW = "rgba(0, 0, 0, 0.55)";
  const GUIDE = "#5fd3ff";

  // Where a frame of frameW × frameH sits in a box of boxW × boxH (object-fit: contain).
  function contain(boxW, boxH, frameW, frameH) {
    const s = Math.min(boxW / frameW, boxH / frameH);
    return { x: (boxW - frameW * s) / 2, y: (boxH - frameH * s) / 2, s };
  }

  // The landmark frame on screen at media time t: the last one at or before t. Timestamps
  // are rounded to the millisecond, hence the small tolerance (under half a frame).
  function frameAt(times, t, tolerance) {
    let lo = 0;
    let hi = times.length - 1;
    if (hi < 0 || t + tolerance < times[0]) return hi < 0 ? -1 : 0;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (times[mid] <= t + tolerance) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  function severityColours() {
    const css = getComputedStyle(document.documentElement);
    const out = {};
    for (const name of SEVERITIES) out[name] = css.getPropertyValue(`--sev-${name}`).trim();
    return out;
  }

  class Overlay {
    // doc: the JobLandmarks document; reps: result.reps.
    constructor(canvas, doc, reps) {
      this.canvas = canvas;
      this.doc = doc;
      this.reps = reps || [];
      this.column = new Map(doc.names.map((n, i) => [n, i]));
      this.colours = severityColours();
      const step = doc.t_s.length > 1 ? doc.t_s[1] - doc.t_s[0] : 1 / (doc.fps || 30);
      this.tolerance = Math.min(0.002, step / 4);
      this.frame = -1;
      this.time = 0;
    }

    point(frame, name) {
      const row = this.doc.points[frame];
      const i = this.column.get(name);
      if (!row || i === undefined || row[2 * i] === null || row[2 * i + 1] === null) return null;
      return [row[2 * i], row[2 * i + 1]];
    }

    hipY(frame) {
      const ys = LEGS.map((s) => this.point(frame, `${s}_hip`)).filter(Boolean).map((p) => p[1]);
      return ys.length ? ys.reduce((a, b) => a + b, 0) / ys.length : null;
    }

    repAt(t) {
      return this.reps.find((r) => t >= r.start_s && t <= r.end_s) || null;
    }

    // Share of the rep's hip drop reached at `frame` (0 standing, 1 at the bottom).
    depth(rep, frame) {
      const at = (s) => this.hipY(frameAt(this.doc.t_s, s, this.tolerance));
      const top = at(rep.start_s);
      const bottom = at(rep.bottom_s);
      const now = this.hipY(frame);
      if (top === null || bottom === null || now === null || bottom <= top) return 0;
      return (now - top) / (bottom - top);
    }

    sideOf(rep, side) {
      const kc = rep && rep.knee_cave;
      return (kc && kc[side]) || null;
    }

    kneeColour(rep, side) {
      const s = this.sideOf(rep, side);
      return (s && this.colours[s.severity]) || UNGRADED;
    }

    // Draw the frame on screen at media time t; the box is the video element's.
    draw(t, frameW, frameH) {
      const c = this.canvas;
      const dpr = window.devicePixelRatio || 1;
      const w = c.clientWidth;
      const h = c.clientHeight;
      if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
        c.width = Math.round(w * dpr);
        c.height = Math.round(h * dpr);
      }
      const ctx = c.getContext("2d");
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.clearRect(0, 0, c.width, c.height);
      this.time = t;
      this.frame = frameAt(this.doc.t_s, t, this.tolerance);
      c.dataset.frame = String(this.frame);
      c.dataset.time = t.toFixed(4);
      if (this.frame < 0 || !this.doc.points[this.frame] || w === 0 || h === 0) return;
      // The video's own size fixes the letterbox; the landmarks' frame fixes the scale.
      const box = contain(w, h, frameW || this.doc.width, frameH || this.doc.height);
      const kx = (box.s * (frameW || this.doc.width)) / this.doc.width;
      const ky = (box.s * (frameH || this.doc.height)) / this.doc.height;
      const map = (p) => [box.x + p[0] * kx, box.y + p[1] * ky];
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      const rep = this.repAt(t);
      this.drawBones(ctx, map);
      if (rep && this.depth(rep, this.frame) >= DEEP_FROM) this.drawMeasure(ctx, map, rep);
      this.drawKnees(ctx, map, rep);
    }

    line(ctx, a, b, colour, width, dash) {
      ctx.setLineDash(dash || []);
      ctx.strokeStyle = colour;
      ctx.lineWidth = width;
      ctx.beginPath();
      ctx.moveTo(a[0], a[1]);
      ctx.lineTo(b[0], b[1]);
      ctx.stroke();
      ctx.setLineDash([]);
    }

    drawBones(ctx, map) {
      ctx.lineCap = "round";
      for (const [colour, width] of [[SHADOW, 5], [BONE, 2.5]]) {
        for (const [a, b] of BONES) {
          const pa = this.point(this.frame, a);
          const pb = this.point(this.frame, b);
          if (pa && pb) this.line(ctx, map(pa), map(pb), colour, width);
        }
      }
    }

    // Per graded leg: hip→ankle line (dashed), the foot's direction from the ankle, and the
    // knee's offset from the hip→ankle line in its severity colour, labelled with the rep's
    // deviation (leg lengths inside the foot's plane, the graded figure).
    drawMeasure(ctx, map, rep) {
      for (const side of LEGS) {
        const graded = this.sideOf(rep, side);
        const [hip, knee, ankle, heel, toe] = ["hip", "knee", "ankle", "heel", "foot_index"]
          .map((n) => this.point(this.frame, `${side}_${n}`));
        if (!graded || !hip || !knee || !ankle) continue;
        const [H, K, A] = [map(hip), map(knee), map(ankle)];
        this.line(ctx, H, A, GUIDE, 2, [6, 4]);
        if (heel && toe) {
          const [He, T] = [map(heel), map(toe)];
          this.arrow(ctx, A, [A[0] + T[0] - He[0], A[1] + T[1] - He[1]]);
        }
        const foot = this.foot(H, A, K);
        this.line(ctx, K, foot, this.kneeColour(rep, side), 3);
        if (typeof graded.deviation_leg === "number") {
          this.label(ctx, `${graded.deviation_leg.toFixed(2)} leg`, K, side === "left" ? 1 : -1);
        }
      }
    }

    // The point of line h→a nearest to k.
    foot(h, a, k) {
      const dx = a[0] - h[0];
      const dy = a[1] - h[1];
      const len2 = dx * dx + dy * dy || 1;
      const u = ((k[0] - h[0]) * dx + (k[1] - h[1]) * dy) / len2;
      return [h[0] + u * dx, h[1] + u * dy];
    }

    arrow(ctx, from, to) {
      this.line(ctx, from, to, GUIDE, 2.5);
      const angle = Math.atan2(to[1] - from[1], to[0] - from[0]);
      ctx.fillStyle = GUIDE;
      ctx.beginPath();
      ctx.moveTo(to[0], to[1]);
      for (const turn of [2.6, -2.6]) {
        ctx.lineTo(to[0] + 7 * Math.cos(angle + turn), to[1] + 7 * Math.sin(angle + turn));
      }
      ctx.closePath();
      ctx.fill();
    }

    label(ctx, text, at, direction) {
      ctx.font = "600 12px system-ui, sans-serif";
      const width = ctx.measureText(text).width + 8;
      // Beside the knee, on its outer side, but never past the canvas edge.
      const wanted = direction > 0 ? at[0] + 12 : at[0] - 12 - width;
      const x = Math.min(Math.max(wanted, 2), this.canvas.clientWidth - width - 2);
      ctx.fillStyle = "rgba(0, 0, 0, 0.7)";
      ctx.fillRect(x, at[1] - 18, width, 16);
      ctx.fillStyle = "#ffffff";
      ctx.fillText(text, x + 4, at[1] - 6);
    }

    drawKnees(ctx, map, rep) {
      for (const side of LEGS) {
        const knee = this.point(this.frame, `${side}_knee`);
        if (!knee) continue;
        const [x, y] = map(knee);
        ctx.fillStyle = this.kneeColour(rep, side);
        ctx.strokeStyle = "#ffffff";
        ctx.lineWidth = 2;
        ctx.beginPath();
        ctx.arc(x, y, 7, 0, 2 * Math.PI);
        ctx.fill();
        ctx.stroke();
      }
    }
  }

  return { Overlay, contain, frameAt };
})();
