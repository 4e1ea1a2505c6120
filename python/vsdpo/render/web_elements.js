// The in-page walk of the web renderer (vsdpo.render.web): every visible element box and text
// run of the loaded page, in document coordinates (CSS px, origin at the page's top-left).
//
// Called as page.evaluate(source, args) with
//   args.prepare: first stop animations and hide the caret, as the capture expects
//   args.prepareOnly: only that, then return {scrollHeight} (rendering without tracing)
//   args.rules:  {styleTagId: [[ruleId, normalisedSelector], ...]} from vsdpo.render.web_source
//   args.maxElements, args.coverTest
// Elements carry the data-vsdpo-id of the tag that made them ("tag"); text runs carry the tag
// that holds the text node and the number of that text node among the tag's non-blank text
// nodes ("textIndex"), which the Python side turns into source lines. Text runs also carry, for
// the Design2Code metric, meta.d2c = [block, document rank of the text node] and, on the node's
// first visible line, meta.raw = the node's text as written (vsdpo.metrics.design2code).
async (argsJson) => {
  const args = JSON.parse(argsJson);
  if (args.prepare) {
    // as Playwright's screenshot(animations="disabled", caret="hide"), before anything is
    // measured, so boxes and pixels show the same moment
    for (const a of document.getAnimations()) {
      if (!a.effect || a.playbackRate === 0) continue;
      try {
        if (Number.isFinite(a.effect.getComputedTiming().endTime)) a.finish(); else a.cancel();
      } catch (e) { /* an animation that cannot be finished paints as it is */ }
    }
    // only a focused editable element shows a caret (a style for all would restyle the page)
    const focused = document.activeElement;
    if (focused && (focused.isContentEditable || /^(INPUT|TEXTAREA)$/.test(focused.tagName))) {
      const caret = document.createElement("style");
      caret.textContent = "* { caret-color: transparent !important; }";
      document.documentElement.appendChild(caret);
    }
    await document.fonts.ready;
  }
  const pageHeight = () =>
    Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0);
  if (args.prepareOnly) return JSON.stringify({ scrollHeight: pageHeight() });
  const ID = "data-vsdpo-id";
  const SKIP = new Set(["HEAD", "SCRIPT", "STYLE", "TEMPLATE", "NOSCRIPT", "META", "LINK", "TITLE", "BASE"]);
  const REPLACED = new Set(["IMG", "SVG", "CANVAS", "VIDEO", "PICTURE", "IFRAME", "OBJECT", "EMBED", "svg"]);
  const LAYOUT_PROPS = [
    "width", "height", "min-", "max-", "margin", "padding", "top", "left", "right", "bottom",
    "inset", "position", "display", "float", "clear", "flex", "grid", "align-", "justify-",
    "place-", "gap", "row-gap", "column", "order", "font", "line-height", "letter-spacing",
    "word-spacing", "white-space", "text-overflow", "text-indent", "text-align", "overflow",
    "color", "background", "opacity", "visibility", "z-index", "transform", "translate", "scale",
    "rotate", "border", "box-sizing", "vertical-align", "table-layout", "word-break",
    "overflow-wrap", "-webkit-line-clamp", "clip", "object-fit", "zoom", "writing-mode",
    "direction", "aspect-ratio", "contain",
  ];
  const clock = [performance.now()];
  const sx = window.scrollX, sy = window.scrollY;
  const vw = window.innerWidth, vh = window.innerHeight;
  // the root's overflow (the body's, when the root's is visible) belongs to the viewport: it
  // scrolls the page instead of clipping a box, and only a hidden x axis cuts content off (at
  // the viewport's right edge; the full-page capture shows everything below the fold)
  const rootStyle = getComputedStyle(document.documentElement);
  const bodyOverflowIsViewports = rootStyle.overflowX === "visible" && rootStyle.overflowY === "visible";
  const viewportOverflow = (el) =>
    el === document.documentElement || (el === document.body && bodyOverflowIsViewports);

  const normalise = (s) =>
    s.toLowerCase().replace(/["']/g, "").replace(/::/g, ":").replace(/\s*([>+~,()])\s*/g, "$1")
      .replace(/\s+/g, " ").trim();

  // -- 1. CSS rules: which elements each (layout / colour) rule of a <style> block matches ------
  const matched = new Map(); // Element -> [ruleId]
  let rulesSeen = 0, rulesLinedUp = 0;
  const flatten = (list, out, active) => {
    for (const r of list) {
      if (r instanceof CSSStyleRule) out.push([r, active]);
      else if (r instanceof CSSMediaRule) flatten(r.cssRules, out, active && window.matchMedia(r.media.mediaText).matches);
      else if (typeof CSSSupportsRule !== "undefined" && r instanceof CSSSupportsRule) flatten(r.cssRules, out, active && CSS.supports(r.conditionText));
      else if (r.cssRules && !(r instanceof CSSKeyframesRule)) flatten(r.cssRules, out, active);
    }
    return out;
  };
  const relevant = (style) => {
    for (let k = 0; k < style.length; k++) {
      const p = style[k];
      for (const q of LAYOUT_PROPS) if (p.startsWith(q)) return true;
    }
    return false;
  };
  for (const sheet of Array.from(document.styleSheets)) {
    const owner = sheet.ownerNode;
    if (!owner || !owner.getAttribute) continue;
    const parsed = args.rules[owner.getAttribute(ID)];
    if (!parsed) continue;
    let list;
    try { list = flatten(sheet.cssRules, [], true); } catch (e) { continue; }
    rulesSeen += list.length;
    // line the CSSOM rules up with the parsed ones: by position when the counts agree,
    // otherwise by selector in order (the CSSOM drops invalid rules)
    const ids = new Array(list.length).fill(null);
    if (list.length === parsed.length) list.forEach((_, k) => { ids[k] = parsed[k][0]; });
    else {
      let cursor = 0;
      list.forEach(([r], k) => {
        const want = normalise(r.selectorText);
        for (let j = cursor; j < parsed.length; j++) {
          if (parsed[j][1] === want) { ids[k] = parsed[j][0]; cursor = j + 1; break; }
        }
      });
    }
    list.forEach(([r, active], k) => {
      if (ids[k] === null) return;
      rulesLinedUp++;
      if (!active || !relevant(r.style)) return;
      let els;
      try { els = document.querySelectorAll(r.selectorText); } catch (e) { return; }
      for (const el of els) {
        let m = matched.get(el);
        if (!m) { m = []; matched.set(el, m); }
        m.push(ids[k]);
      }
    });
  }

  clock.push(performance.now());
  // -- helpers ----------------------------------------------------------------------------------
  const rgba = (s) => {
    const m = /rgba?\(([^)]+)\)/.exec(s || "");
    if (!m) return null;
    const p = m[1].split(/[\s,/]+/).filter(Boolean).map(parseFloat);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const bgCache = new Map();
  // the colour behind an element's content: its own background composited over its ancestors'
  const effectiveBackground = (el) => {
    if (!el || el.nodeType !== 1) return [255, 255, 255];
    if (bgCache.has(el)) return bgCache.get(el);
    const own = rgba(getComputedStyle(el).backgroundColor) || [0, 0, 0, 0];
    let out;
    if (own[3] >= 1) out = own.slice(0, 3);
    else {
      const below = effectiveBackground(el.parentElement);
      out = below.map((c, i) => Math.round(own[3] * own[i] + (1 - own[3]) * c));
    }
    bgCache.set(el, out);
    return out;
  };
  const box = (r) => [r.left + sx, r.top + sy, r.right + sx, r.bottom + sy];
  const intersect = (a, b) => (!a ? b : !b ? a :
    [Math.max(a[0], b[0]), Math.max(a[1], b[1]), Math.min(a[2], b[2]), Math.min(a[3], b[3])]);
  const area = (b) => Math.max(0, b[2] - b[0]) * Math.max(0, b[3] - b[1]);
  const tagId = (el) => { const v = el.getAttribute && el.getAttribute(ID); return v === null || v === undefined ? null : +v; };
  const painted = (cs, replaced) => {
    if (replaced) return true;
    const bg = rgba(cs.backgroundColor);
    if (bg && bg[3] > 0.05) return true;
    if (cs.backgroundImage && cs.backgroundImage !== "none") return true;
    for (const side of ["Top", "Right", "Bottom", "Left"]) {
      if (parseFloat(cs["border" + side + "Width"]) > 0 && cs["border" + side + "Style"] !== "none" &&
          cs["border" + side + "Style"] !== "hidden") return true;
    }
    return false;
  };
  const setsSize = (el, cs, prop) => {
    if (el.style && el.style[prop] && el.style[prop] !== "auto") return true;
    for (const rid of matched.get(el) || []) {
      const r = ruleById.get(rid);
      const v = r && r.style.getPropertyValue(prop);
      if (v && v !== "auto" && !v.endsWith("%")) return true;
    }
    return false;
  };
  const ruleById = new Map();
  for (const sheet of Array.from(document.styleSheets)) {
    const owner = sheet.ownerNode;
    const parsed = owner && owner.getAttribute ? args.rules[owner.getAttribute(ID)] : null;
    if (!parsed) continue;
    try {
      const list = flatten(sheet.cssRules, [], true);
      if (list.length === parsed.length) list.forEach(([r], k) => ruleById.set(parsed[k][0], r));
    } catch (e) { /* cross-origin sheets cannot be read */ }
  }

  // -- 2. the walk --------------------------------------------------------------------------------
  const elements = [];
  const nodeOfElement = []; // emitted index -> DOM element
  const emittedOf = new Map(); // DOM element -> nearest emitted ancestor-or-self index
  const texts = []; // [run, ownerElement]
  const noPointer = []; // elements the hit-test must see although they ignore the pointer
  const tagRules = {}; // tag id -> matched rule ids (elements that hold text or are emitted)
  let truncated = false;

  // Design2Code's text blocks (metrics.md 2.3): the text of a node belongs to the nearest
  // ancestor-or-self that is one of its colour-pool tags; a nearer element whose inline style
  // declares a concrete colour (not background-color) takes the text out of every block
  const D2C_POOL = new Set(["p", "h1", "h2", "h3", "h4", "h5", "h6", "div", "span", "a", "b",
    "li", "table", "td", "th", "button", "footer", "header", "figcaption"]);
  const d2cOwners = new Map(); // Element -> block number, or -1 (no block)
  const inlineColour = (el) => {
    const style = el.getAttribute && el.getAttribute("style");
    if (!style) return false;
    const decls = style.split(";").filter((d) => d.includes("color") && !d.includes("background-color"));
    if (!decls.length) return false;
    const v = (decls[decls.length - 1].split(":")[1] || "").trim().replace(" !important", "").toLowerCase();
    if (v.startsWith("#")) return true;
    if (v.startsWith("rgb")) return /^rgb\(\s*\d+\s*,\s*\d+\s*,\s*\d+\s*\)$/.test(v);
    return /^[a-z]+$/.test(v) && CSS.supports("color", v) &&
      !["inherit", "initial", "unset", "revert", "currentcolor", "transparent"].includes(v);
  };
  const d2cOwner = (el) => {
    if (!el || el.nodeType !== 1 || el === document.documentElement) return -1;
    if (d2cOwners.has(el)) return d2cOwners.get(el);
    let owner;
    if (D2C_POOL.has(el.tagName.toLowerCase())) owner = d2cOwners.size;
    else if (inlineColour(el) || el === document.body) owner = -1;
    else owner = d2cOwner(el.parentElement);
    d2cOwners.set(el, owner);
    return owner;
  };
  const textOrder = new Map(); // non-blank text node -> its rank in document order
  if (document.body) {
    const tw = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = tw.nextNode(); n; n = tw.nextNode()) if (n.data.trim()) textOrder.set(n, textOrder.size);
  }

  const recordRules = (el) => {
    const id = tagId(el);
    const m = matched.get(el);
    if (id !== null && m && !(id in tagRules)) tagRules[id] = m;
  };

  const textRuns = (el, cs, ctx, chain) => {
    let index = -1;
    const color = rgba(cs.color) || [0, 0, 0, 1];
    const fontSize = parseFloat(cs.fontSize) || 0;
    const lh = parseFloat(cs.lineHeight);
    const background = effectiveBackground(el);
    for (const node of el.childNodes) {
      if (node.nodeType !== 3 || !node.data.trim()) continue;
      index++;
      if (cs.visibility !== "visible") continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      const lines = [];
      for (const r of range.getClientRects()) {
        if (r.width < 0.5 || r.height < 0.5) continue;
        const last = lines[lines.length - 1];
        if (last && Math.abs(last.top - r.top) < 1 && Math.abs(last.bottom - r.bottom) < 1) {
          last.left = Math.min(last.left, r.left); last.right = Math.max(last.right, r.right);
        } else lines.push({ left: r.left, right: r.right, top: r.top, bottom: r.bottom });
      }
      if (!lines.length) continue;
      const block = d2cOwner(el);
      const order = textOrder.has(node) ? textOrder.get(node) : -1;
      let first = true;
      // the text of each line, split in proportion to the lines' widths (then at a space)
      const words = node.data.replace(/\s+/g, " ").trim();
      const total = lines.reduce((s, l) => s + (l.right - l.left), 0) || 1;
      let cut = 0, acc = 0;
      lines.forEach((l, k) => {
        acc += l.right - l.left;
        let end = k === lines.length - 1 ? words.length : Math.round(words.length * acc / total);
        const space = words.indexOf(" ", end);
        if (k < lines.length - 1 && space >= 0 && space - end < 12) end = space;
        let b = box(l);
        // glyph boxes are taller than the line box when line-height < ~1.15: use the line box,
        // which is what layout stacks (consecutive lines of a heading must not "overlap")
        if (lh > 0 && b[3] - b[1] > lh) {
          const c = (b[1] + b[3]) / 2;
          b = [b[0], c - lh / 2, b[2], c + lh / 2];
        }
        const clip = ctx.contentClip;
        if (clip) {
          const visible = area(intersect(b, clip));
          // wholly hidden text is hidden on purpose as often as not (screen-reader text, a
          // collapsed menu, the next slide, a line-clamped title): only text that shows in
          // part can be seen to be cut off
          if (visible < 0.02 * area(b)) { cut = end; return; }
        }
        if (b[2] < 0 || b[0] > Math.max(document.documentElement.scrollWidth, vw) + 1000) { cut = end; return; }
        texts.push([{
          kind: "text",
          bbox: b,
          parent: ctx.parentId,
          text: words.slice(cut, end).trim() || words,
          color: color.slice(0, 3).map(Math.round),
          background,
          font_size: fontSize,
          tag: tagId(el),
          textIndex: index,
          chain,
          meta: {
            alpha: +(color[3] * ctx.opacity).toFixed(3),
            weight: cs.fontWeight,
            clip_on: !!clip,
            clip_box: clip || null,
            line: k,
            family: ctx.parentId,
            d2c: [block, order],
            // the node's text as written (whitespace kept), on its first visible line only
            raw: first ? node.data : undefined,
          },
        }, el]);
        first = false;
        cut = end;
      });
    }
  };

  const walk = (el, ctx) => {
    if (SKIP.has(el.tagName) || elements.length >= args.maxElements) {
      if (elements.length >= args.maxElements) truncated = true;
      return;
    }
    const cs = getComputedStyle(el);
    if (cs.display === "none") return;
    if (cs.pointerEvents === "none") noPointer.push(el);
    recordRules(el);
    const opacity = ctx.opacity * (parseFloat(cs.opacity) || 0);
    const position = cs.position;
    // which clip applies to this element: an absolutely positioned one escapes clips between it
    // and its containing block; a fixed one escapes them all
    const ownClip = position === "absolute" ? ctx.absClip : position === "fixed" ? null : ctx.contentClip;
    const r = el.getBoundingClientRect();
    const b = box(r);
    const replaced = REPLACED.has(el.tagName) || el instanceof SVGSVGElement;
    const inline = (cs.display === "inline" || cs.display === "contents") && !replaced;
    let id = ctx.parentId;
    if (!inline && cs.visibility === "visible" && area(b) > 0) {
      id = elements.length;
      const clips = cs.overflowX !== "visible" || cs.overflowY !== "visible" ||
        (cs.clipPath && cs.clipPath !== "none");
      const cls = (el.getAttribute("class") || "").trim().split(/\s+/)[0];
      const elid = el.getAttribute("id");
      const name = "<" + el.tagName.toLowerCase() + (elid ? "#" + elid : cls ? "." + cls : "") + ">";
      elements.push({
        kind: replaced ? "image" : "container",
        bbox: b,
        parent: ctx.parentId,
        color: null,
        background: (rgba(cs.backgroundColor) || [0, 0, 0, 0])[3] >= 1 ? effectiveBackground(el) : null,
        font_size: parseFloat(cs.fontSize) || null,
        name,
        tag: tagId(el),
        meta: {
          alpha: +opacity.toFixed(3),
          tag: el.tagName.toLowerCase(),
          display: cs.display,
          position,
          z_index: cs.zIndex,
          painted: painted(cs, replaced),
          // how much it hides what lies under it: background alpha (1 for images)
          fill: replaced || (cs.backgroundImage && cs.backgroundImage !== "none") ? 1 :
            (rgba(cs.backgroundColor) || [0, 0, 0, 0])[3],
          clips,
          overflow: [cs.overflowX, cs.overflowY],
          clip_on: !!ownClip,
          clip_box: ownClip || null,
          scroll_overflow: !replaced && (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1),
          scroll_size: [el.scrollWidth, el.scrollHeight],
          client_size: [el.clientWidth, el.clientHeight],
          fixed_width: setsSize(el, cs, "width"),
          fixed_height: setsSize(el, cs, "height"),
        },
      });
      nodeOfElement.push(el);
    }
    emittedOf.set(el, id);
    // the clip for this element's content: its own overflow clips its padding box
    let contentClip = ownClip;
    const clipsContent = !inline && (cs.overflowX !== "visible" || cs.overflowY !== "visible");
    if (clipsContent && viewportOverflow(el)) {
      if (cs.overflowX === "hidden" || cs.overflowX === "clip") contentClip = intersect(ownClip, [-1e6, -1e6, vw, 1e6]);
    } else if (clipsContent) {
      const bl = parseFloat(cs.borderLeftWidth) || 0, bt = parseFloat(cs.borderTopWidth) || 0;
      const padding = [b[0] + bl, b[1] + bt, b[0] + bl + el.clientWidth, b[1] + bt + el.clientHeight];
      contentClip = intersect(ownClip, padding);
    }
    const positioned = position !== "static";
    const child = {
      parentId: id,
      opacity,
      contentClip,
      absClip: positioned ? contentClip : ctx.absClip,
    };
    const chain = inline ? ctx.chain.concat([tagId(el)]) : [tagId(el)];
    if (replaced) return;
    textRuns(el, cs, child, chain.filter((t) => t !== null));
    child.chain = chain;
    for (const c of el.children) walk(c, child);
  };

  const root = document.documentElement;
  walk(root, { parentId: null, opacity: 1, contentClip: null, absClip: null, chain: [] });

  clock.push(performance.now());
  // text runs get ids after the boxes
  for (const [run] of texts) elements.push(run);

  // -- 3. which text is covered by another element (hit-testing, band by band) ----------------
  const fixedCache = new Map();
  const isFixed = (el) => {
    if (!el || el.nodeType !== 1) return false;
    if (fixedCache.has(el)) return fixedCache.get(el);
    const p = getComputedStyle(el).position;
    const v = p === "fixed" || p === "sticky" || isFixed(el.parentElement);
    fixedCache.set(el, v);
    return v;
  };
  const emittedFor = (el) => {
    while (el && !emittedOf.has(el)) el = el.parentElement;
    return el ? emittedOf.get(el) : null;
  };
  const GRID = [];
  for (const g of [0.25, 0.5, 0.75]) for (const f of [0.2, 0.5, 0.8]) GRID.push([f, g]);
  if (args.coverTest && texts.length) {
    // hit-test in paint order: elements that ignore the pointer (a floating label) still paint.
    // Only those are changed, and back afterwards (a style for all would restyle the page twice)
    const saved = noPointer.map((el) => {
      const old = [el.style.getPropertyValue("pointer-events"), el.style.getPropertyPriority("pointer-events")];
      el.style.setProperty("pointer-events", "auto", "important");
      return old;
    });
    const order = texts.map((t, k) => k).sort((a, b) => texts[a][0].bbox[1] - texts[b][0].bbox[1]);
    let next = 0;
    let guard = 0;
    while (next < order.length && guard++ < 200) {
      const [run0] = texts[order[next]];
      const cy0 = (run0.bbox[1] + run0.bbox[3]) / 2;
      window.scrollTo(0, Math.max(0, cy0 - 2));
      const top = window.scrollY, bottom = top + vh;
      let moved = false;
      while (next < order.length) {
        const [run, owner] = texts[order[next]];
        const cy = (run.bbox[1] + run.bbox[3]) / 2;
        if (cy >= bottom) break;
        next++;
        moved = true;
        if (cy < top || isFixed(owner)) continue;  // fixed text moves with the scroll
        let hits = 0, fixedHits = 0, tested = 0, by = null, fixedBy = null;
        const ownBox = emittedFor(owner);
        // a 3 x 3 grid of points over the run: a box over the lower third of a line hides it
        for (const [f, g] of GRID) {
          const x = run.bbox[0] + f * (run.bbox[2] - run.bbox[0]) - window.scrollX;
          const y = run.bbox[1] + g * (run.bbox[3] - run.bbox[1]) - top;
          if (x < 0 || x >= vw || y < 0 || y >= vh) continue;
          tested++;
          // down the paint order to the text itself. A fixed banner or header sits over whatever
          // scrolls under it, by design, and this test's scrolling puts text under it that the
          // capture shows clear: look beneath it (it only counts when nothing else covers)
          let fixedHit = null, hit = null;
          for (const el of document.elementsFromPoint(x, y)) {
            // the text's own element, its ancestors and its inline content are the text; a box
            // of its own inside it (a positioned child) can cover it
            if (el.contains(owner) || (owner.contains(el) && emittedFor(el) === ownBox)) break;
            if (isFixed(el)) { if (fixedHit === null) fixedHit = el; continue; }
            hit = el;
            break;
          }
          const cover = hit ? emittedFor(hit) : null;
          if (cover !== null && cover !== undefined) { hits++; by = cover; continue; }
          const fixedCover = fixedHit ? emittedFor(fixedHit) : null;
          if (fixedCover !== null && fixedCover !== undefined) { fixedHits++; fixedBy = fixedCover; }
        }
        if (hits && tested) {
          run.meta.covered_by = by;
          run.meta.covered_fraction = hits / tested;
        } else if (fixedHits && tested) {
          run.meta.covered_by = fixedBy;
          run.meta.covered_fraction = fixedHits / tested;
          run.meta.covered_by_fixed = true;
        }
      }
      if (!moved) next++;
    }
    window.scrollTo(sx, sy);
    noPointer.forEach((el, k) => {
      if (saved[k][0]) el.style.setProperty("pointer-events", saved[k][0], saved[k][1]);
      else el.style.removeProperty("pointer-events");
    });
  }

  // one JSON string: Playwright's structured serialisation of a large object costs far more
  return JSON.stringify({
    elements,
    tagRules,
    rulesSeen,
    rulesLinedUp,
    truncated,
    phaseMs: clock.concat([performance.now()]).map((v, k, a) => k ? +(v - a[k - 1]).toFixed(1) : 0).slice(1),
    scrollWidth: root.scrollWidth,
    // "hidden" / "clip": the page cannot scroll sideways, whatever its scrollWidth
    viewportOverflowX: (bodyOverflowIsViewports && document.body ? getComputedStyle(document.body) : rootStyle).overflowX,
    scrollHeight: pageHeight(),
    viewport: [vw, vh],
  });
}
