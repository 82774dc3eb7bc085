// checkerfree explore: the overlap of stacked transposed convolutions, live.
//
// The arithmetic mirrors checkerfree/overlap.py exactly: per axis, one layer maps the
// period-q interior counts x to period-q*s counts
//     y[o] = sum over taps j with (o + p - j d) = 0 (mod s) of x[((o + p - j d) / s) mod q]
// cut back to their fundamental period before the next layer; the N-D counts are the outer
// product of the axes' counts (the all-ones kernel and input are separable). Counts are
// BigInt, so they are exact however deep the stack. No framework, no network, no build step.
"use strict";

(function () {
  const FIELDS = ["kernel_size", "stride", "padding", "output_padding", "dilation"];
  const SHORT = ["k", "s", "p", "op", "d"];
  const LOW = [1, 1, 0, 0, 1];
  // checkerfree.spec.LIMITS, MAX_LAYERS
  const LIMITS = [4096, 4096, 1 << 24, 4096, 4096];
  const MAX_LAYERS = 1024;
  // Tighter than checkerfree.overlap.MAX_LENGTH / MAX_WORK: a page must stay responsive.
  // Beyond them the page says so; `checkerfree overlap` still answers exactly.
  const PAGE_MAX_LENGTH = 1 << 16;
  const PAGE_MAX_WORK = 1 << 22;

  // ---- parsing: the --layer syntax K:S[:P[:OP[:D]]], a field per axis as AxB[xC] ----

  function parseLayer(text) {
    if (!/^\s*-?\d+(x-?\d+)*(:-?\d+(x-?\d+)*){1,4}\s*$/.test(text)) {
      throw new Error("layer spec must look like K:S[:P[:OP[:D]]] with integers " +
                      "(per axis as AxB, e.g. 3x4:2), got '" + text + "'");
    }
    const parts = text.trim().split(":").map((f) => f.split("x").map(Number));
    while (parts.length < 5) parts.push([[0, 1, 0, 0, 1][parts.length]]);
    const axes = new Set(parts.map((f) => f.length).filter((n) => n !== 1));
    if (axes.size > 1) throw new Error("the fields of '" + text + "' have different numbers of axes");
    const dims = axes.size ? [...axes][0] : 1;
    if (dims > 3) throw new Error("a layer has at most 3 spatial axes, got " + dims);
    parts.forEach((f, i) => {
      f.forEach((v) => {
        if (v < LOW[i]) throw new Error(FIELDS[i] + " must be >= " + LOW[i] + " on every axis, got " + v);
        if (v > LIMITS[i]) throw new Error(FIELDS[i] + " must be at most " + LIMITS[i] + ", got " + v);
      });
    });
    const full = parts.map((f) => (f.length === 1 ? Array(dims).fill(f[0]) : f));
    for (let a = 0; a < dims; a++) {
      if (full[3][a] >= Math.max(full[1][a], full[4][a])) {
        throw new Error("output_padding must be smaller than stride or dilation on every axis, got '" + text + "'");
      }
    }
    return { dims: dims, fields: full };
  }

  // One layer broadcast to `dims` axes: [k, s, p, op, d] per axis.
  function layerAxes(layer, dims) {
    if (layer.dims !== dims && layer.dims !== 1) {
      throw new Error("a " + layer.dims + "-axis layer spec cannot be used with dims=" + dims);
    }
    const out = [];
    for (let a = 0; a < dims; a++) out.push(layer.fields.map((f) => (layer.dims === 1 ? f[0] : f[a])));
    return out;
  }

  // ---- the arithmetic (checkerfree.overlap._interior_axis, _fundamental_period) ----

  function primeFactors(n) {
    const out = [];
    for (let f = 2; f * f <= n; f++) {
      if (n % f === 0) { out.push(f); while (n % f === 0) n /= f; }
    }
    if (n > 1) out.push(n);
    return out;
  }

  function shiftedEqual(v, shift) {
    for (let i = shift; i < v.length; i++) if (v[i] !== v[i - shift]) return false;
    return true;
  }

  function fundamentalPeriod(v) {
    // The periods dividing len(v) are multiples of the smallest: divide by prime factors.
    let q = v.length;
    for (const prime of primeFactors(v.length)) {
      while (q % prime === 0 && shiftedEqual(v, q / prime)) q /= prime;
    }
    return q;
  }

  function mod(a, m) { return ((a % m) + m) % m; }

  function interiorAxis(axisLayers) {
    let x = [1n];
    let work = 0;
    axisLayers.forEach(([k, s, p, , d], i) => {
      const q = x.length;
      if (q * s > PAGE_MAX_LENGTH) {
        throw new Error("after layer " + (i + 1) + " the counts repeat only every " + (q * s) +
                        " outputs, too long for this page; run checkerfree overlap");
      }
      // Taps on the same output phase from the same input shift add the same rolled copy.
      const groups = new Map();
      for (let j = 0; j < k; j++) {
        const r0 = mod(j * d - p, s);
        const key = r0 + "," + mod((r0 + p - j * d) / s, q);
        groups.set(key, (groups.get(key) || 0) + 1);
      }
      work += (groups.size + 2) * q * s;
      if (work > PAGE_MAX_WORK) {
        throw new Error("layers 1 to " + (i + 1) + " cost too much for this page; run checkerfree overlap");
      }
      const y = new Array(q * s).fill(0n);
      for (const [key, c] of groups) {
        const [r0, shift] = key.split(",").map(Number);
        const cb = BigInt(c);
        for (let t = 0; r0 + t * s < y.length; t++) y[r0 + t * s] += x[(t + shift) % q] * cb;
      }
      x = y.slice(0, fundamentalPeriod(y));
    });
    return x;
  }

  function bigMax(v) { return v.reduce((a, b) => (b > a ? b : a)); }
  function bigMin(v) { return v.reduce((a, b) => (b < a ? b : a)); }
  function bitLength(n) { return n === 0n ? 0 : n.toString(2).length; }

  // hi / lo correctly rounded to a double, as Python's int / int.
  function divide(hi, lo) {
    const limit = 1n << 53n;
    if (hi <= limit && lo <= limit) return Number(hi) / Number(lo);
    const shift = bitLength(hi) - bitLength(lo) - 60;
    let a = hi, b = lo;
    if (shift < 0) a <<= BigInt(-shift); else b <<= BigInt(shift);
    let q = a / b;
    if (a % b !== 0n) q |= 1n; // sticky bit: Number() then rounds as the exact quotient would
    return Number(q) * Math.pow(2, shift);
  }

  // Python's format(x, 'g'): 6 significant digits, half to even on the double's exact value.
  function formatG(x) {
    if (x === 0) return "0";
    if (!isFinite(x)) return x > 0 ? "inf" : "-inf";
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, Math.abs(x));
    const bits = view.getBigUint64(0);
    const exp = Number(bits >> 52n);
    const frac = bits & ((1n << 52n) - 1n);
    const m = exp === 0 ? frac : frac | (1n << 52n);
    const e2 = exp === 0 ? -1074 : exp - 1075;
    let num = m, den = 1n;
    if (e2 >= 0) num <<= BigInt(e2); else den <<= BigInt(-e2);
    const atLeast = (E) => (E >= 0 ? num >= 10n ** BigInt(E) * den : num * 10n ** BigInt(-E) >= den);
    let E = Math.floor(Math.log10(Math.abs(x)));
    while (!atLeast(E)) E--;
    while (atLeast(E + 1)) E++;
    let a = num, b = den;
    if (E - 5 >= 0) b *= 10n ** BigInt(E - 5); else a *= 10n ** BigInt(5 - E);
    let n = a / b;
    const r2 = 2n * (a - n * b);
    if (r2 > b || (r2 === b && n % 2n === 1n)) n += 1n;
    if (n === 1000000n) { n = 100000n; E += 1; }
    const digits = n.toString();
    const sign = x < 0 ? "-" : "";
    const trim = (s) => (s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s);
    if (E < -4 || E >= 6) {
      return sign + trim(digits[0] + "." + digits.slice(1)) + "e" + (E < 0 ? "-" : "+") +
             String(Math.abs(E)).padStart(2, "0");
    }
    if (E >= 5) return sign + digits;
    if (E >= 0) return sign + trim(digits.slice(0, E + 1) + "." + digits.slice(E + 1));
    return sign + trim("0." + "0".repeat(-E - 1) + digits);
  }

  // The whole stack: what checkerfree.overlap(layers, dims) returns, readouts included.
  function overlap(texts, dims) {
    if (!texts.length) throw new Error("expected at least one layer");
    if (texts.length > MAX_LAYERS) throw new Error("a stack has at most " + MAX_LAYERS + " layers");
    const layers = texts.map(parseLayer);
    if (dims === null) {
      const native = new Set(layers.map((l) => l.dims).filter((n) => n > 1));
      if (native.size > 1) throw new Error("the layers have different numbers of axes");
      dims = native.size ? [...native][0] : 2;
    }
    const perLayer = layers.map((l) => layerAxes(l, dims));
    const axes = [];
    const cache = new Map();
    for (let a = 0; a < dims; a++) {
      const axisLayers = perLayer.map((l) => l[a]);
      const key = JSON.stringify(axisLayers);
      if (!cache.has(key)) cache.set(key, interiorAxis(axisLayers));
      axes.push(cache.get(key));
    }
    const hi = axes.reduce((acc, v) => acc * bigMax(v), 1n);
    const lo = axes.reduce((acc, v) => acc * bigMin(v), 1n);
    if (bitLength(hi) > 12000) throw new Error("the largest count is beyond 2^12000");
    const ratio = lo === 0n ? null : divide(hi, lo);
    if (ratio !== null && !isFinite(ratio)) throw new Error("the ratio max/min is beyond a float");
    return {
      dims: dims, layers: perLayer, axes: axes, period: axes.map((v) => v.length),
      max: hi, min: lo, ratio: ratio, uneven: hi !== lo,
      // the text `checkerfree overlap` prints
      ratioText: ratio === null ? "n/a (holes)" : formatG(ratio),
      periodText: axes.map((v) => v.length).join("x"),
      unevenText: hi !== lo ? "yes" : "no",
    };
  }

  // ---- state: the URL fragment #dims=2&layers=3:2:1:1,3:2 ----

  function readFragment(hash) {
    const params = new URLSearchParams(hash.replace(/^#/, ""));
    const dimsText = params.get("dims");
    const layersText = params.get("layers");
    return {
      dims: dimsText === null ? null : Number(dimsText),
      layers: layersText === null ? null : layersText.split(",").filter((t) => t.trim() !== ""),
    };
  }

  function writeFragment(state) {
    return "#dims=" + state.dims + "&layers=" + state.layers.join(",");
  }

  // Fields to text, dropping trailing defaults: [3,2,1,0,1] -> "3:2:1".
  function layerText(fields) {
    const defaults = ["", "", "0", "0", "1"];
    const parts = fields.slice();
    while (parts.length > 2 && (parts[parts.length - 1].trim() === "" ||
                                parts[parts.length - 1].trim() === defaults[parts.length - 1])) parts.pop();
    // An empty kernel or stride stays empty: the parser then names the problem.
    return parts.map((f, i) => (f.trim() === "" ? defaults[i] : f.trim())).join(":");
  }

  function splitLayer(text) {
    const parts = text.split(":");
    while (parts.length < 5) parts.push(["", "", "0", "0", "1"][parts.length]);
    return parts;
  }

  // ---- drawing ----

  // A perceptual dark-to-bright ramp (magma-like), t in [0, 1].
  const RAMP = [[0, 0, 4], [59, 15, 112], [140, 41, 129], [222, 73, 104], [254, 159, 109], [252, 253, 191]];
  function colour(t) {
    const x = Math.max(0, Math.min(1, t)) * (RAMP.length - 1);
    const i = Math.min(RAMP.length - 2, Math.floor(x));
    const f = x - i;
    const c = RAMP[i].map((v, j) => Math.round(v + f * (RAMP[i + 1][j] - v)));
    return "rgb(" + c.join(",") + ")";
  }

  function fraction(v, lo, hi) { return hi === lo ? 1 : Number(v - lo) / Number(hi - lo); }

  // 1D bars in the article's style: per layer, the counts after that layer over a window of
  // outputs, one row per layer, taller where more (input, tap) paths land.
  function drawBars(canvas, result) {
    const ctx = canvas.getContext("2d");
    const axisLayers = result.layers.map((l) => l[result.dims - 1]);
    const rows = axisLayers.map((_, i) => interiorAxis(axisLayers.slice(0, i + 1)));
    const width = Math.min(64, Math.max(16, 2 * rows[rows.length - 1].length));
    const rowH = 56;
    canvas.width = 520;
    canvas.height = rowH * rows.length + 8;
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    const barW = (canvas.width - 90) / width;
    rows.forEach((v, i) => {
      const hi = bigMax(v);
      const top = 4 + i * rowH;
      ctx.fillStyle = "#333";
      ctx.font = "12px sans-serif";
      ctx.fillText("after layer " + (i + 1), 4, top + rowH / 2);
      for (let o = 0; o < width; o++) {
        const c = v[o % v.length];
        const h = hi === 0n ? 0 : (rowH - 12) * Number(c) / Number(hi);
        ctx.fillStyle = colour(fraction(c, 0n, hi));
        ctx.fillRect(86 + o * barW, top + rowH - 6 - h, Math.max(1, barW - 1), h);
      }
      ctx.fillStyle = "#999";
      ctx.fillRect(86, top + rowH - 6, canvas.width - 90, 1);
    });
  }

  // The article's picture of each layer (last axis): every input position i paints its k taps
  // at outputs i s - p + j d, one translucent bar per input, alternate rows so neighbours
  // stay apart; where bars pile up, that output gets more paths.
  function drawWindows(canvas, result) {
    const ctx = canvas.getContext("2d");
    const axisLayers = result.layers.map((l) => l[result.dims - 1]);
    const width = 32, inputs = 12, rowH = 10, blockH = 2 * rowH + 22;
    canvas.width = 520;
    canvas.height = blockH * axisLayers.length + 4;
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    const cellW = (canvas.width - 90) / width;
    let painted = 0;
    axisLayers.forEach(([k, s, p, , d], l) => {
      const top = 4 + l * blockH;
      ctx.fillStyle = "#333";
      ctx.font = "12px sans-serif";
      ctx.fillText("layer " + (l + 1), 4, top + rowH + 4);
      for (let i = 0; i < inputs; i++) {
        ctx.fillStyle = i % 2 ? "rgba(59,15,112,0.55)" : "rgba(222,73,104,0.55)";
        for (let j = 0; j < k; j++) {
          const o = i * s - p + j * d;
          if (o < 0 || o >= width) continue;
          ctx.fillRect(86 + o * cellW, top + (i % 2) * rowH, Math.max(1, cellW - 1), rowH - 1);
          painted += 1;
        }
      }
      ctx.fillStyle = "#999";
      ctx.fillRect(86, top + 2 * rowH + 2, canvas.width - 90, 1);
    });
    canvas.dataset.painted = String(painted);
  }

  // 2D heat map of the interior counts over two periods per axis, with its colour bar; in 3D
  // one map per depth position of the first period (at most 4 slices), side by side.
  function drawHeat(canvas, result, size) {
    const ctx = canvas.getContext("2d");
    const ax = result.axes;
    const ys = result.dims >= 2 ? ax[result.dims - 2] : [1n];
    const xs = ax[result.dims - 1];
    const zs = result.dims === 3 ? ax[0].slice(0, 4) : [1n];
    const ny = Math.min(128, 2 * ys.length), nx = Math.min(128, 2 * xs.length);
    const cell = Math.max(1, Math.floor(size / zs.length / Math.max(ny, nx)));
    const sliceW = nx * cell + (zs.length > 1 ? 8 : 0);
    canvas.width = zs.length * sliceW + 90;
    canvas.height = Math.max(ny * cell, 120);
    canvas.dataset.slices = String(zs.length);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    const hi = result.max, lo = result.min;
    zs.forEach((zc, z) => {
      for (let i = 0; i < ny; i++) {
        for (let j = 0; j < nx; j++) {
          ctx.fillStyle = colour(fraction(zc * ys[i % ys.length] * xs[j % xs.length], lo, hi));
          ctx.fillRect(z * sliceW + j * cell, i * cell, cell, cell);
        }
      }
    });
    const x0 = zs.length * sliceW + 16, h = canvas.height - 20;
    for (let t = 0; t < h; t++) {
      ctx.fillStyle = colour(1 - t / h);
      ctx.fillRect(x0, 10 + t, 14, 1);
    }
    ctx.fillStyle = "#333";
    ctx.font = "12px sans-serif";
    ctx.fillText(String(hi), x0 + 18, 18);
    ctx.fillText(String(lo), x0 + 18, 10 + h);
  }

  // The same stack with every transposed convolution replaced, as checkerfree.convert does
  // (counts of all-ones layers): resize-conv is nearest upsampling by s (the s:s counts, one
  // input per output) then a stride-1 convolution (k taps on every output); sub-pixel is a
  // convolution then a pixel shuffle (one convolution output per output: s:s); hold is the
  // transposed convolution followed by the zero-order hold, a box of s taps (s:1), which
  // sums every period-s pattern to a constant.
  function replaced(result, kind) {
    const texts = [];
    result.layers.forEach((axesOf) => {
      const field = (f) => axesOf.map((a) => a[f]).join("x");
      const ones = axesOf.map(() => 1).join("x");
      if (kind === "hold") {
        texts.push([0, 1, 2, 3, 4].map(field).join(":"), field(1) + ":" + ones);
      } else {
        texts.push(field(1) + ":" + field(1));
        if (kind === "resize-conv") texts.push(field(0) + ":" + ones);
      }
    });
    return overlap(texts, result.dims);
  }

  function drawPhases(container, phases) {
    container.textContent = "";
    if (!phases || !phases.length) { container.hidden = true; return; }
    container.hidden = false;
    const h = document.createElement("h2");
    h.textContent = "The model's learned weights: per-phase sums";
    container.appendChild(h);
    const note = document.createElement("p");
    note.textContent = "Each cell is one output phase, with its kernel sum (mean over channel " +
      "pairs). Colour: the deviation from the layer's mean phase sum, one scale for every " +
      "layer (full at +-50% of the largest sum); a layer whose phases agree is one flat colour.";
    container.appendChild(note);
    phases.forEach((layer) => {
      const box = document.createElement("figure");
      const cap = document.createElement("figcaption");
      cap.textContent = layer.name + " (" + layer.spec + "): phase_imbalance " + layer.imbalance;
      box.appendChild(cap);
      const canvas = document.createElement("canvas");
      const grid = layer.sums; // [rows][cols] mean over channel pairs, per output phase
      const cell = 48;
      canvas.width = grid[0].length * cell;
      canvas.height = grid.length * cell;
      const flat = grid.flat();
      // One fixed scale for every layer: the colour is a phase's deviation from the mean
      // phase sum, full scale at +-50% of the sums' magnitude. Stretching each map to its
      // own range would paint a balanced layer's rounding noise at full contrast.
      const mean = flat.reduce((a, b) => a + b, 0) / flat.length;
      const size = Math.max(...flat.map(Math.abs), 1e-30);
      const ctx = canvas.getContext("2d");
      ctx.font = "11px sans-serif";
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      grid.forEach((row, i) => row.forEach((v, j) => {
        const t = Math.min(1, Math.max(0, 0.5 + (v - mean) / size));
        ctx.fillStyle = colour(t);
        ctx.fillRect(j * cell, i * cell, cell, cell);
        ctx.fillStyle = t > 0.6 ? "#000" : "#fff";
        const text = v !== 0 && Math.abs(v) < 0.01 ? v.toExponential(1) : v.toPrecision(2);
        ctx.fillText(text, j * cell + cell / 2, i * cell + cell / 2);
      }));
      canvas.className = "phases";
      box.appendChild(canvas);
      container.appendChild(box);
    });
  }

  // ---- the page ----

  const initial = JSON.parse(document.getElementById("initial-state").textContent);
  let state = { dims: initial.dims, layers: initial.layers.slice() };

  function setText(id, text) { document.getElementById(id).textContent = text; }

  function renderEditor() {
    const body = document.getElementById("layers-body");
    body.textContent = "";
    state.layers.forEach((text, i) => {
      const tr = document.createElement("tr");
      tr.className = "layer";
      const num = document.createElement("td");
      num.textContent = String(i + 1);
      tr.appendChild(num);
      splitLayer(text).forEach((value, f) => {
        const td = document.createElement("td");
        const input = document.createElement("input");
        input.value = value;
        input.size = 6;
        input.dataset.field = SHORT[f];
        input.title = FIELDS[f] + " (one integer, or one per axis as AxB)";
        input.addEventListener("input", () => {
          const fields = Array.from(tr.querySelectorAll("input")).map((e) => e.value);
          state.layers[i] = layerText(fields);
          update(false);
        });
        td.appendChild(input);
        tr.appendChild(td);
      });
      const actions = document.createElement("td");
      [["up", "\u2191", -1], ["down", "\u2193", 1]].forEach(([cls, label, step]) => {
        const b = document.createElement("button");
        b.className = cls;
        b.textContent = label;
        b.disabled = i + step < 0 || i + step >= state.layers.length;
        b.addEventListener("click", () => {
          const t = state.layers[i];
          state.layers[i] = state.layers[i + step];
          state.layers[i + step] = t;
          update(true);
        });
        actions.appendChild(b);
      });
      const remove = document.createElement("button");
      remove.className = "remove";
      remove.textContent = "remove";
      remove.disabled = state.layers.length === 1;
      remove.addEventListener("click", () => { state.layers.splice(i, 1); update(true); });
      actions.appendChild(remove);
      tr.appendChild(actions);
      body.appendChild(tr);
    });
    document.getElementById("dims").value = String(state.dims);
  }

  let renders = 0;
  function renderViews() {
    renders += 1;
    document.body.dataset.renders = String(renders);
    let result;
    try {
      result = overlap(state.layers, state.dims);
      setText("error", "");
    } catch (err) {
      setText("error", err.message);
      ["ratio", "period", "uneven", "max", "min", "holes"].forEach((id) => setText(id, "\u2014"));
      document.body.dataset.valid = "no";
      return;
    }
    document.body.dataset.valid = "yes";
    setText("ratio", result.ratioText);
    setText("period", result.periodText);
    setText("uneven", result.unevenText);
    setText("max", String(result.max));
    setText("min", String(result.min));
    setText("holes", result.min === 0n ? "yes" : "no");
    drawWindows(document.getElementById("windows"), result);
    drawBars(document.getElementById("bars"), result);
    drawHeat(document.getElementById("heat"), result, 300);
    const compare = document.getElementById("compare-body");
    compare.textContent = "";
    [["transposed convolution (this stack)", result]].concat(
      ["resize-conv", "sub-pixel", "hold"].map((kind) => [kind, replaced(result, kind)])
    ).forEach(([name, r]) => {
      const tr = document.createElement("tr");
      [name, r.ratioText, r.periodText, r.unevenText].forEach((t) => {
        const td = document.createElement("td");
        td.textContent = t;
        tr.appendChild(td);
      });
      compare.appendChild(tr);
    });
  }

  // `rebuild`: the rows changed (add, remove, reorder, fragment); a field edit keeps focus.
  function update(rebuild) {
    if (rebuild) renderEditor();
    const hash = writeFragment(state);
    if (location.hash !== hash) history.replaceState(null, "", hash);
    renderViews();
  }

  function fromFragment() { applyFragment(location.hash); }

  function applyFragment(hash) {
    const f = readFragment(hash);
    if (f.layers !== null && f.layers.length) state.layers = f.layers;
    if (f.dims !== null && [1, 2, 3].includes(f.dims)) state.dims = f.dims;
    else if (f.layers !== null) state.dims = overlapDims(state.layers);
    update(true);
  }

  function overlapDims(texts) {
    try {
      const native = new Set(texts.map((t) => parseLayer(t).dims).filter((n) => n > 1));
      return native.size === 1 ? [...native][0] : 2;
    } catch (err) { return 2; }
  }

  document.getElementById("add").addEventListener("click", () => {
    state.layers.push(state.layers[state.layers.length - 1] || "3:2");
    update(true);
  });
  document.getElementById("dims").addEventListener("change", (e) => {
    state.dims = Number(e.target.value);
    update(true);
  });
  window.addEventListener("hashchange", fromFragment);
  drawPhases(document.getElementById("phases"), initial.phases);
  fromFragment();

  // For tests and the console: the arithmetic, and a synchronous "open this fragment".
  window.checkerfreeExplore = {
    overlap: overlap,
    formatG: formatG,
    // Not through location: Chrome ignores history.replaceState after ~200 calls in a row.
    show: applyFragment,
    fragment: function () { return writeFragment(state); },
  };
})();
