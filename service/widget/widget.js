/*
 * Syllabus chat widget. A course page embeds it with one tag:
 *
 *   <script src="https://HOST/widget.js" data-api="https://HOST" async></script>
 *
 * Plain JavaScript: no dependencies, no build step. The widget lives in a shadow
 * root, so its styles and the page's do not meet. Everything that comes from the
 * service (answers, titles, snippets) is inserted as text, never parsed as HTML.
 */
(() => {
  "use strict";

  // A page that includes the tag twice still gets one widget.
  const MOUNTED = Symbol.for("syllabus-chat");
  const script = document.currentScript || document.querySelector('script[src$="/widget.js"]');
  if (!script || window[MOUNTED]) return;
  window[MOUNTED] = true;

  const HISTORY_TURNS = 10; // question-answer pairs: the API accepts 20 messages
  const TURN_CHARS = 8000;
  const QUESTION_CHARS = 2000;
  const DEFAULT_ACCENT = "#1d4ed8";
  const SVG = "http://www.w3.org/2000/svg";
  const CHAT_ICON = ["M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12z"];
  const SEND_ICON = ["M5 12h14", "M13 6l6 6-6 6"];
  const UNREACHABLE = "Could not reach the course assistant. Check your connection and try again.";
  const INTERRUPTED = "The answer was interrupted before it finished.";
  const NOTE = "Answers come only from the course materials: check the sources.";
  const GARBLED = "Something went wrong while reading the answer. Please try again.";
  // While an answer is still coming: a draft taken from the notes, then the generated text.
  const STAGES = { draft: "From the notes · writing a fuller answer…", writing: "Writing…" };

  function readConfig(tag) {
    const data = tag.dataset;
    const src = new URL(tag.src, location.href);
    const api = new URL(data.api || src.origin, location.href).href;
    return {
      api: api.replace(/\/+$/, ""),
      styles: new URL("widget.css", src).href,
      katex: new URL("widget/katex/", src).href,
      title: data.title || "Ask the course",
      // What the page does not set, the course's own settings may (GET /v1/course).
      ownTitle: Boolean(data.title),
      ownGreeting: data.greeting !== undefined,
      collection: data.collection || null,
      left: data.position === "bottom-left",
      accent: data.accent && CSS.supports("color", data.accent) ? data.accent : DEFAULT_ACCENT,
      greeting:
        data.greeting ??
        "Ask a question about the course materials. Answers quote the passages they come from.",
      placeholder: data.placeholder || "Ask a question…",
      showSources: data.showSources !== "false",
      scope: scopeOf(data.scope),
      scopeLabel: data.scopeLabel || null,
    };
  }

  function scopeOf(attribute) {
    // data-scope: "page" (the documents published at this page, as the service maps them),
    // or the API's scope object as JSON, e.g. {"source_prefix": "week3/"}.
    if (!attribute) return null;
    if (attribute === "page") return { page: location.href.split("#")[0] };
    try {
      const scope = JSON.parse(attribute);
      if (scope && typeof scope === "object" && !Array.isArray(scope)) return scope;
    } catch {
      // Reported below.
    }
    console.warn("syllabus: data-scope is not a JSON object; asking the whole course");
    return null;
  }

  function scopeName(config) {
    // What the panel says it is asking about.
    if (config.scopeLabel) return config.scopeLabel;
    if (typeof config.scope.page === "string") return "this page";
    const { documents, source_prefix: prefix, heading_prefix: heading } = config.scope;
    const parts = [];
    if (Array.isArray(heading) && heading.length) parts.push(heading.map(String).join(" › "));
    if (Array.isArray(documents) && documents.length) parts.push(documents.map(String).join(", "));
    if (typeof prefix === "string") parts.push(prefix);
    return parts.join(" · ") || "part of the course";
  }

  /* DOM helpers: children are appended as nodes or text, never as markup. */

  function h(tag, attributes = {}, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (typeof value === "function") element.addEventListener(name.slice(2), value);
      else if (value === true) element.setAttribute(name, "");
      else if (value !== false && value != null) element.setAttribute(name, String(value));
    }
    element.append(...children.filter((child) => child != null && child !== false));
    return element;
  }

  function icon(paths) {
    const svg = document.createElementNS(SVG, "svg");
    const attributes = {
      viewBox: "0 0 24 24",
      fill: "none",
      stroke: "currentColor",
      "stroke-width": "2",
      "stroke-linecap": "round",
      "stroke-linejoin": "round",
      "aria-hidden": "true",
      focusable: "false",
    };
    for (const [name, value] of Object.entries(attributes)) svg.setAttribute(name, value);
    for (const d of paths) {
      const path = document.createElementNS(SVG, "path");
      path.setAttribute("d", d);
      svg.append(path);
    }
    return svg;
  }

  /* Colours: text on the accent is white or near-black, whichever reads better. */

  function luminance(hex) {
    const channels = [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
    const linear = (c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
    const [r, g, b] = channels.map(linear);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }

  function textOn(accent) {
    const context = document.createElement("canvas").getContext("2d");
    if (!context) return "#ffffff";
    context.fillStyle = accent;
    const hex = /^#([0-9a-f]{6})$/i.exec(context.fillStyle);
    if (!hex) return "#ffffff";
    const light = luminance(hex[1]);
    return 1.05 / (light + 0.05) >= (light + 0.05) / 0.0556 ? "#ffffff" : "#111111";
  }

  /* Server-sent events from a fetch body: "event: NAME\ndata: JSON\n\n" frames. */

  function parseFrame(frame) {
    let event = "message";
    const data = [];
    for (const line of frame.split("\n")) {
      const colon = line.indexOf(":");
      if (colon === 0) continue;
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    return data.length ? { event, data: JSON.parse(data.join("\n")) } : null;
  }

  async function readEvents(body, onEvent) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        // A "\r" at the end of a chunk may be the first half of "\r\n": keep it for later.
        buffer = (buffer + value).replace(/\r\n|\r(?!$)/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const parsed = parseFrame(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (parsed) onEvent(parsed.event, parsed.data);
        }
      }
    } finally {
      // Stops the download when onEvent throws (an `error` event) or the caller gives up.
      reader.cancel().catch(() => {});
    }
  }

  /* Errors: every failure becomes a sentence a learner can act on. */

  class Problem extends Error {
    constructor(message, wait = false) {
      super(message);
      this.wait = wait;
    }
  }

  function sentence(text) {
    return /[.!?]$/.test(text) ? text : `${text}.`;
  }

  function busy(retryAfter) {
    const seconds = Number.parseInt(retryAfter ?? "", 10);
    const pause =
      seconds > 0 && seconds <= 600 ? `${seconds} second${seconds === 1 ? "" : "s"}` : "a moment";
    const message = `The assistant is busy right now. Please wait ${pause} and try again.`;
    return new Problem(message, true);
  }

  function fromErrorBody(error, fallback) {
    // The service's one error body: {"error": {"code": ..., "message": ...}}.
    if (error && error.code === "overloaded") return busy(null);
    const message = error && typeof error.message === "string" ? error.message : fallback;
    return new Problem(sentence(`The assistant could not answer: ${message}`));
  }

  async function failure(response) {
    if (response.status === 429 || response.status === 503) {
      return busy(response.headers.get("Retry-After"));
    }
    let body = null;
    try {
      body = await response.json();
    } catch {
      // Not the service's JSON error body (a proxy's error page, say).
    }
    return fromErrorBody(body && body.error, `the server answered ${response.status}`);
  }

  function describe(error) {
    if (error instanceof Problem) return { text: error.message, wait: error.wait };
    // fetch and stream reads fail with a TypeError when the network does.
    return { text: error instanceof TypeError ? UNREACHABLE : GARBLED, wait: false };
  }

  /* Formulas and basic Markdown, built as nodes: no service text is parsed as HTML. */

  // Formulas as the service finds them (ingest/sentences.py, math_spans): $$…$$, \[…\] and
  // \(…\), and $…$ whose $ opens before a non-space and closes after one, not before a
  // digit ("$5 and $6" hold none), none across a blank line. An unclosed one is text.
  const DELIMITER = /\\\$|\$\$|\\[[\]()]|\$|\n[ \t]*\n|\n/g;
  const CLOSER = { $$: "$$", "\\[": "\\]", "\\(": "\\)", $: "$" };
  const SPACE = /\s/;

  function mathSpans(text) {
    const spans = [];
    let opened = "";
    let start = 0;
    for (const match of text.matchAll(DELIMITER)) {
      const [token] = match;
      const at = match.index;
      const after = text.charAt(at + token.length);
      if (token === "\\$") continue;
      if (token[0] === "\n") {
        if (token.split("\n").length > 2 || opened === "$") opened = "";
      } else if (!opened) {
        if (Object.hasOwn(CLOSER, token) && (token !== "$" || (after && !SPACE.test(after)))) {
          opened = token;
          start = at;
        }
      } else if (
        token === CLOSER[opened] &&
        (token !== "$" || (!SPACE.test(text[at - 1]) && !/\d/.test(after)))
      ) {
        spans.push({ start, end: at + token.length, display: opened !== "$" && opened !== "\\(" });
        opened = "";
      } else if (opened === "$" && token === "$" && after && !SPACE.test(after)) {
        start = at; // "$5 for $x$": the first was a price
      }
    }
    return spans;
  }

  // KaTeX, once loaded, renders formulas; until then, or for a formula it refuses, the
  // source stays as text. Nothing it is given may link, load or run anything (trust off),
  // and a formula too long or too deeply nested is not given to it at all.
  const MATH_CHARS = 2000;
  const MATH_DEPTH = 40;
  const rendered = new Map();

  function nesting(tex) {
    let depth = 0;
    let deepest = 0;
    for (const c of tex) {
      if (c === "{") deepest = Math.max(deepest, ++depth);
      else if (c === "}") depth -= 1;
    }
    return deepest;
  }

  function formula(source, tex, display) {
    const katex = window.katex;
    if (!katex || typeof katex.render !== "function") return document.createTextNode(source);
    const key = `${display ? "D" : "I"}${tex}`;
    if (!rendered.has(key)) {
      const node = h(display ? "div" : "span", { class: display ? "math display" : "math" });
      if (tex.length > MATH_CHARS || nesting(tex) > MATH_DEPTH) {
        node.classList.add("math-error");
        node.title = "This formula is too large to show";
        node.textContent = source.length > 120 ? `${source.slice(0, 120)}…` : source;
      } else {
        try {
          katex.render(tex, node, {
            displayMode: display,
            throwOnError: false,
            trust: false,
            strict: "ignore",
            maxExpand: 100,
            maxSize: 20,
            output: "htmlAndMathml",
          });
        } catch {
          node.classList.add("math-error");
          node.textContent = source;
        }
      }
      if (rendered.size > 500) rendered.clear();
      rendered.set(key, node);
    }
    return rendered.get(key).cloneNode(true);
  }

  function withMath(text, rest) {
    // ``rest`` renders what lies between formulas.
    const nodes = [];
    let last = 0;
    for (const { start, end, display } of mathSpans(text)) {
      nodes.push(...rest(text.slice(last, start)));
      const source = text.slice(start, end);
      const cut = source.startsWith("$$") ? 2 : source[0] === "$" ? 1 : 2;
      nodes.push(formula(source, source.slice(cut, -cut), display));
      last = end;
    }
    nodes.push(...rest(text.slice(last)));
    return nodes;
  }

  const EMPHASIS = /\*\*([^*\n]+?)\*\*|(?<![\w*\\])\*(?![\s*])([^*\n]+?)(?<!\s)\*(?![\w*])|(?<![\w\\])_(?![\s_])([^_\n]+?)(?<!\s)_(?!\w)/g;

  function emphasised(text, plain) {
    const nodes = [];
    let last = 0;
    for (const match of text.matchAll(EMPHASIS)) {
      nodes.push(...plain(text.slice(last, match.index)));
      const [, strong, em1, em2] = match;
      nodes.push(strong ? h("strong", {}, ...plain(strong)) : h("em", {}, ...plain(em1 ?? em2)));
      last = match.index + match[0].length;
    }
    nodes.push(...plain(text.slice(last)));
    return nodes;
  }

  function lines(text, plain) {
    // Line breaks inside a paragraph are kept.
    return text.split("\n").flatMap((line, i) => (i ? [h("br"), ...plain(line)] : plain(line)));
  }

  function inline(text, plain) {
    // Code spans first (a `$PATH` in them is code), then formulas, then emphasis.
    const nodes = [];
    const parts = text.split(/(`[^`\n]+`)/);
    parts.forEach((part, i) => {
      if (i % 2) nodes.push(h("code", {}, part.slice(1, -1)));
      else nodes.push(...withMath(part, (between) => lines(between, (t) => emphasised(t, plain))));
    });
    return nodes;
  }

  const FENCE = /^\s*```/;
  const ITEM = /^\s*([-*+]|\d+[.)])\s+(.*)$/;

  function rich(text, plain = (t) => (t ? [t] : [])) {
    // ``plain`` turns the plainest text into nodes (the answer's [n] become markers).
    const blocks = [];
    let paragraph = [];
    let list = null;
    const flush = () => {
      if (paragraph.length) blocks.push(h("p", {}, ...inline(paragraph.join("\n"), plain)));
      paragraph = [];
    };
    const all = String(text).split("\n");
    for (let i = 0; i < all.length; i += 1) {
      const line = all[i];
      if (FENCE.test(line)) {
        flush();
        list = null;
        const code = [];
        while (i + 1 < all.length && !FENCE.test(all[i + 1])) code.push(all[(i += 1)]);
        i += 1; // the closing fence (or the end)
        blocks.push(h("pre", {}, h("code", {}, code.join("\n"))));
        continue;
      }
      const item = ITEM.exec(line);
      if (item && !mathOpen(paragraph)) {
        flush();
        const tag = /\d/.test(item[1]) ? "ol" : "ul";
        if (!list || list.tagName.toLowerCase() !== tag) {
          list = h(tag, tag === "ol" ? { start: Number.parseInt(item[1], 10) || 1 } : {});
          blocks.push(list);
        }
        list.append(h("li", {}, ...inline(item[2], plain)));
      } else if (!line.trim()) {
        flush();
        list = null;
      } else if (list && /^\s+\S/.test(line) && !paragraph.length) {
        list.lastChild.append(" ", ...inline(line.trim(), plain));
      } else {
        list = null;
        paragraph.push(line);
      }
    }
    flush();
    return blocks;
  }

  function mathOpen(paragraph) {
    // Inside an unclosed $$ or \[ a line that looks like a list item is part of the formula.
    const text = paragraph.join("\n");
    const count = (pattern) => (text.match(pattern) || []).length;
    return count(/\$\$/g) % 2 === 1 || count(/\\\[/g) > count(/\\\]/g);
  }

  /* Sources */

  function webAddress(source) {
    try {
      const url = new URL(source);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch {
      return null;
    }
  }

  function sectionOf(cite) {
    const path = (cite.heading_path || []).map(String).filter(Boolean);
    if (path[0] === String(cite.title)) path.shift();
    return path;
  }

  function chipLines(cite) {
    const section = sectionOf(cite);
    const place = [section[section.length - 1], cite.page == null ? null : `page ${cite.page}`];
    return [String(cite.title), place.filter(Boolean).join(", ")];
  }

  function sourceDetail(cite) {
    const meta = [...sectionOf(cite)];
    if (cite.page != null) meta.push(`page ${cite.page}`);
    meta.push(String(cite.source));
    // The document's public place when the service knows it, else a source that is a URL.
    const url = (typeof cite.url === "string" && webAddress(cite.url)) || webAddress(String(cite.source));
    return [
      h("p", { class: "source-title" }, `[${cite.n}] ${cite.title}`),
      h("p", { class: "source-meta" }, meta.join(" · ")),
      h("blockquote", { class: "snippet rich" }, ...rich(String(cite.snippet ?? ""))),
      url && h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, "Open the source"),
    ];
  }

  /* One question and its answer in the conversation. */

  let views = 0;

  class TurnView {
    constructor(widget, turn) {
      this.widget = widget;
      this.turn = turn;
      this.id = `syllabus-turn-${++views}`;
      this.bot = h("div", { class: "msg bot" });
      this.element = h(
        "div",
        { class: "turn" },
        h("p", { class: "msg user" }, h("span", { class: "sr-only" }, "You: "), turn.question),
        this.bot,
      );
      this.openSource = null;
      this.render();
    }

    render() {
      const { turn } = this;
      this.element.dataset.status = turn.status;
      this.element.dataset.mode = turn.mode || "";
      this.bot.className = "msg bot";
      if (turn.status === "error") this.renderError();
      else if (turn.status === "done" && turn.mode === "abstained") this.renderAbstained();
      else if (turn.status === "done") this.renderAnswer(turn.citations, turn.citations);
      else if (turn.answer || turn.stage) this.renderAnswer(turn.retrieved, this.cited());
      else this.bot.replaceChildren(this.typing());
    }

    cited() {
      // While the answer streams, chips show what the draft and the text so far cite.
      const { answer, drafted, retrieved } = this.turn;
      const marked = [...String(answer).matchAll(/\[(\d+)\]/g)].map((match) => Number(match[1]));
      const cited = new Set([...drafted, ...marked]);
      return retrieved.filter((cite) => cited.has(Number(cite.n)));
    }

    typing() {
      return h(
        "span",
        { class: "typing" },
        h("span", { class: "sr-only" }, "Answering…"),
        h("span", { "aria-hidden": "true" }),
        h("span", { "aria-hidden": "true" }),
        h("span", { "aria-hidden": "true" }),
      );
    }

    renderAnswer(citations, chipped) {
      const { showSources } = this.widget.config;
      const shown = showSources ? citations : [];
      const byNumber = new Map(shown.map((cite) => [Number(cite.n), cite]));
      // A finished answer sets off the sentences its passages do not back.
      const unbacked = this.turn.status === "done" ? this.turn.unsupported : [];
      const text = flagSentences(this.turn.answer, unbacked);
      const answer = h("div", { class: "answer rich" }, ...rich(text, this.flagged(this.marked(byNumber))));
      // A formula inside a sentence set off is set off with it.
      for (const math of answer.querySelectorAll(".unsupported + .math")) {
        if (math.nextElementSibling?.classList.contains("unsupported")) math.classList.add("unsupported");
      }
      const quoted = this.turn.status === "done" && this.turn.quotes.length > 0;
      const quotes = quoted ? this.quoteBlock(byNumber) : null;
      // A source the learner opened stays open while the answer is redrawn.
      const open = shown.find((cite) => cite.n === this.openSource) || null;
      const stage = STAGES[this.turn.stage];
      this.detail = h("div", { class: "source", id: `${this.id}-source`, hidden: true });
      this.chips = showSources && chipped.length ? this.chipList(chipped) : null;
      const status = stage && h("p", { class: "status", role: "status" }, stage);
      const rating = this.turn.status === "done" && this.turn.answerId ? this.ratingRow() : null;
      // replaceChildren, unlike h, would insert a missing part as the text "null".
      const guided =
        this.turn.status === "done" && this.turn.guided
          ? h("p", { class: "guided" }, "A hint, not the solution: try the next step yourself.")
          : null;
      const parts = [status, guided, answer, quotes, this.chips, this.detail, rating];
      this.bot.replaceChildren(...parts.filter(Boolean));
      this.reveal(open);
    }

    marked(byNumber) {
      // Plain answer text with its [n] as source markers.
      return (text) =>
        text.split(/(\[\d+\])/).flatMap((part) => {
          const cite = byNumber.get(Number(/^\[(\d+)\]$/.exec(part)?.[1]));
          return cite ? [this.marker(cite)] : part ? [part] : [];
        });
    }

    flagged(plain) {
      // Text between FLAG_OPEN and FLAG_CLOSE, across formulas and emphasis, is set off,
      // and a tag after it says why; the callbacks come in reading order.
      let inside = false;
      return (text) =>
        text.split(FLAGS).flatMap((part) => {
          if (part === FLAG_OPEN || part === FLAG_CLOSE) {
            inside = part === FLAG_OPEN;
            return inside ? [] : [unbackedTag()];
          }
          const nodes = plain(part);
          return inside && nodes.length ? [h("span", { class: "unsupported" }, ...nodes)] : nodes;
        });
    }

    quoteBlock(byNumber) {
      // Beneath a generated answer: the passages' own words it was written from, each
      // with the marker of the passage it comes from.
      const texts = this.turn.quotes.map(({ text, citation }) => {
        const cite = byNumber.get(citation);
        const blocks = rich(text);
        if (cite && blocks.length) blocks[blocks.length - 1].append(this.marker(cite));
        return h("div", { class: "quote-text rich" }, ...blocks);
      });
      const label = h("span", { class: "quote-label" }, "In the notes");
      return h("blockquote", { class: "quote" }, label, ...texts);
    }

    marker(cite) {
      // Mouse users click the marker; keyboard users reach the same source by its chip.
      return h(
        "button",
        {
          class: "ref",
          type: "button",
          tabindex: "-1",
          title: String(cite.title),
          "aria-label": `Source ${cite.n}`,
          onclick: () => this.show(cite),
        },
        String(cite.n),
      );
    }

    chipList(citations) {
      const list = h("ul", { class: "chips", "aria-label": "Sources" });
      for (const cite of citations) {
        const [title, place] = chipLines(cite);
        const chip = h(
          "button",
          {
            class: "chip",
            type: "button",
            "aria-expanded": "false",
            "aria-controls": this.detail.id,
            "data-n": String(cite.n),
            title: place ? `${title}: ${place}` : title,
            onclick: () => this.show(cite, true),
          },
          h("span", { class: "sr-only" }, "Source "),
          h("span", { class: "ref" }, String(cite.n)),
          h(
            "span",
            { class: "label" },
            h("span", { class: "label-title" }, title),
            place && h("span", { class: "label-place" }, place),
          ),
        );
        list.append(h("li", {}, chip));
      }
      return list;
    }

    show(cite, toggle = false) {
      const closing = toggle && this.openSource === cite.n;
      this.reveal(closing ? null : cite);
      if (!closing) this.detail.scrollIntoView({ block: "nearest" });
    }

    reveal(cite) {
      this.openSource = cite ? cite.n : null;
      this.detail.hidden = !cite;
      if (cite) this.detail.replaceChildren(...sourceDetail(cite).filter(Boolean));
      for (const chip of this.chips ? this.chips.querySelectorAll(".chip") : []) {
        chip.setAttribute("aria-expanded", String(chip.dataset.n === String(this.openSource)));
      }
    }

    ratingRow() {
      // "Did this help?" Yes / No; after No, an optional comment. One rating per answer.
      const { turn } = this;
      if (turn.rating && turn.rating.sent) {
        const thanks = turn.rating.helpful ? "Thanks for the feedback." : "Thanks: noted.";
        return h("p", { class: "rating done", role: "status" }, thanks);
      }
      const choose = (helpful) => {
        turn.rating = { helpful, sent: false, failed: null };
        if (helpful) this.widget.rate(turn, null);
        else this.render();
      };
      const pressed = (helpful) => String(turn.rating ? turn.rating.helpful === helpful : false);
      const row = h(
        "div",
        { class: "rating" },
        h("span", { class: "rating-ask" }, "Did this help?"),
        h(
          "button",
          { type: "button", class: "rate-yes", "aria-pressed": pressed(true), onclick: () => choose(true) },
          "Yes",
        ),
        h(
          "button",
          { type: "button", class: "rate-no", "aria-pressed": pressed(false), onclick: () => choose(false) },
          "No",
        ),
      );
      if (turn.rating && turn.rating.failed) {
        row.append(h("span", { class: "rating-error", role: "alert" }, turn.rating.failed));
      }
      if (!turn.rating || turn.rating.helpful) return row;
      const comment = h("input", {
        type: "text",
        maxlength: "500",
        placeholder: "What was missing? (optional)",
        "aria-label": "What was missing? (optional)",
      });
      const form = h(
        "form",
        {
          class: "rating-comment",
          onsubmit: (event) => {
            event.preventDefault();
            this.widget.rate(turn, comment.value.trim() || null);
          },
        },
        comment,
        h("button", { type: "submit" }, "Send"),
      );
      return h("div", {}, row, form);
    }

    renderAbstained() {
      this.bot.classList.add("abstained");
      this.bot.replaceChildren(
        h("strong", {}, this.turn.answer),  // the service's one phrase for it
        h("span", { class: "hint" }, "Try rephrasing it, or ask about a topic from the course."),
      );
    }

    renderError() {
      const { problem } = this.turn;
      this.bot.classList.add("error");
      this.bot.replaceChildren(
        h("span", { role: "alert" }, problem.text),
        h("br"),
        h(
          "button",
          { type: "button", class: "retry", onclick: () => this.widget.retry(this.turn) },
          "Try again",
        ),
      );
    }
  }

  /* Sentences of an answer that its passages do not back (the service's grounding). */

  const FLAG_OPEN = "\uE000";
  const FLAG_CLOSE = "\uE001";
  const FLAGS = /([\uE000\uE001])/;
  const UNBACKED = "The cited notes do not say this: check it against the sources.";

  function unsupportedOf(grounding) {
    // The texts of the unsupported sentences, in the answer's order.
    const sentences = grounding && Array.isArray(grounding.sentences) ? grounding.sentences : [];
    return sentences
      .filter((s) => s && s.supported === false && typeof s.text === "string" && s.text.trim())
      .map((s) => s.text);
  }

  function flagSentences(answer, sentences) {
    // ``answer`` with each of its ``sentences`` between FLAG_OPEN and FLAG_CLOSE; a list
    // item's marker stays outside, so the line still reads as an item.
    let text = String(answer).replace(/[\uE000\uE001]/g, "");
    let from = 0;
    for (const sentence of sentences) {
      const at = text.indexOf(sentence, from);
      if (at < 0) continue;
      const start = at + (/^\s*(?:[-*+]|\d+[.)])\s+/.exec(sentence)?.[0].length ?? 0);
      const end = at + sentence.length;
      text = `${text.slice(0, start)}${FLAG_OPEN}${text.slice(start, end)}${FLAG_CLOSE}${text.slice(end)}`;
      from = end + 2;
    }
    return text;
  }

  function unbackedTag() {
    return h("span", { class: "unsupported-tag", title: UNBACKED }, "not in the notes");
  }

  /* The widget: launcher, panel, conversation, and its storage for the session. */

  function unanswered() {
    return {
      answer: "",
      mode: null,
      citations: [],
      status: "pending",
      problem: null,
      retrieved: [],
      drafted: [],
      stage: null,
      quotes: [],
      unsupported: [],
      guided: false,
      answerId: null,
      rating: null,
    };
  }

  function quotesOf(value) {
    // The notes' own words beneath a generated answer: [{ text, citation }].
    if (!Array.isArray(value)) return [];
    return value
      .filter((quote) => quote && typeof quote.text === "string")
      .map((quote) => ({ text: quote.text, citation: Number(quote.citation) }));
  }

  function textsOf(value) {
    return Array.isArray(value) ? value.filter((text) => typeof text === "string") : [];
  }

  function restored(turn) {
    // An answer still pending when the learner left the page never arrived.
    const done = turn.status === "done";
    const problem = turn.problem && typeof turn.problem.text === "string" ? turn.problem : null;
    return {
      question: turn.question,
      answer: String(turn.answer ?? ""),
      mode: done ? turn.mode : null,
      citations: Array.isArray(turn.citations) ? turn.citations : [],
      status: done ? "done" : "error",
      problem: done ? null : problem || { text: INTERRUPTED, wait: false },
      quotes: done ? quotesOf(turn.quotes) : [],
      unsupported: done ? textsOf(turn.unsupported) : [],
      guided: done && turn.guided === true,
      answerId: done && typeof turn.answerId === "string" ? turn.answerId : null,
      rating: done && turn.rating && turn.rating.sent ? { ...turn.rating, failed: null } : null,
    };
  }

  class ChatWidget {
    constructor(config) {
      this.config = config;
      this.key = `syllabus-chat:${config.api}|${config.collection ?? ""}`;
      this.state = this.restore();
      this.views = new Map();
      this.request = null;
    }

    restore() {
      let saved = null;
      try {
        saved = JSON.parse(sessionStorage.getItem(this.key) || "null");
      } catch {
        // Storage disabled or unreadable: start a fresh conversation.
      }
      const turns = saved && Array.isArray(saved.turns) ? saved.turns : [];
      return {
        open: Boolean(saved && saved.open),
        scoped: !(saved && saved.scoped === false), // a scope stays on unless widened
        turns: turns.filter((turn) => turn && typeof turn.question === "string").map(restored),
      };
    }

    save() {
      // Only finished answers are kept: a turn still answering comes back as interrupted.
      const turns = this.state.turns.map((turn) => ({
        question: turn.question,
        answer: turn.status === "done" ? turn.answer : "",
        mode: turn.mode,
        citations: turn.citations,
        status: turn.status,
        problem: turn.problem,
        quotes: turn.status === "done" ? turn.quotes : [],
        unsupported: turn.status === "done" ? turn.unsupported : [],
        guided: turn.status === "done" && turn.guided === true,
        answerId: turn.status === "done" ? turn.answerId : null,
        rating: turn.rating,
      }));
      try {
        sessionStorage.setItem(this.key, JSON.stringify({ open: this.state.open, scoped: this.state.scoped, turns }));
      } catch {
        // Full or disabled storage: the conversation lasts as long as the page.
      }
    }

    mount() {
      const host = document.createElement("syllabus-chat");
      host.style.setProperty("all", "initial", "important");
      const shadow = host.attachShadow({ mode: "open" });
      const styles = h("link", { rel: "stylesheet", href: this.config.styles });
      this.root = this.build();
      const reveal = () => {
        this.root.hidden = false;
        if (this.state.open) this.open(false);
      };
      styles.addEventListener("load", reveal, { once: true });
      styles.addEventListener("error", reveal, { once: true });
      const formulas = h("link", { rel: "stylesheet", href: `${this.config.katex}katex.min.css` });
      shadow.append(styles, formulas, this.root);
      document.body.append(host);
      this.loadKatex();
      this.loadCourse();
    }

    async loadCourse() {
      // The course's title and greeting, where the page's tag does not set them.
      const { api, collection, ownTitle, ownGreeting } = this.config;
      if (ownTitle && ownGreeting) return;
      const query = collection ? `?collection=${encodeURIComponent(collection)}` : "";
      let course = null;
      try {
        const response = await fetch(`${api}/v1/course${query}`, { headers: { Accept: "application/json" } });
        if (response.ok) course = await response.json();
      } catch {
        return; // Unreachable: the widget's own words stay.
      }
      if (!course || typeof course !== "object") return;
      if (!ownTitle && typeof course.title === "string" && course.title) {
        this.config.title = course.title;
        this.launcherTitle.textContent = course.title;
        this.panelTitle.textContent = course.title;
      }
      if (!ownGreeting && typeof course.greeting === "string" && course.greeting) {
        this.greeting.textContent = course.greeting;
        this.greeting.hidden = false;
      }
    }

    loadKatex() {
      // Formulas show as their source until KaTeX arrives, then every answer is redrawn.
      // A shadow root ignores @font-face: the page gets KaTeX's font rules, nothing else.
      const redraw = () => {
        for (const view of this.views.values()) view.render();
      };
      const base = this.config.katex;
      document.head.append(h("link", { rel: "stylesheet", href: `${base}fonts.css` }));
      if (window.katex) return;
      const loader = h("script", { src: `${base}katex.min.js`, async: true });
      loader.addEventListener("load", redraw, { once: true });
      document.head.append(loader);
    }

    build() {
      const { config } = this;
      this.launcher = h(
        "button",
        {
          class: "launcher",
          type: "button",
          "aria-expanded": "false",
          "aria-controls": "syllabus-panel",
          onclick: () => this.open(true),
        },
        icon(CHAT_ICON),
        (this.launcherTitle = h("span", {}, config.title)),
      );
      this.log = h("div", {
        class: "log",
        role: "log",
        tabindex: "0",
        "aria-label": "Conversation",
      });
      this.greeting = h("p", { class: "msg bot greeting" }, config.greeting || "");
      this.greeting.hidden = !config.greeting;
      this.log.append(this.greeting);
      for (const turn of this.state.turns) this.addView(turn);
      this.panel = h(
        "section",
        {
          class: "panel",
          id: "syllabus-panel",
          role: "dialog",
          "aria-labelledby": "syllabus-title",
          hidden: true,
          onkeydown: (event) => this.onKey(event),
        },
        this.header(),
        this.scopeBar(),
        this.log,
        this.composer(),
        h("p", { class: "note" }, NOTE),
      );
      const root = h("div", { class: config.left ? "root left" : "root", hidden: true });
      root.style.setProperty("--accent", config.accent);
      root.style.setProperty("--on-accent", textOn(config.accent));
      root.append(this.launcher, this.panel);
      return root;
    }

    header() {
      return h(
        "div",
        { class: "head" },
        (this.panelTitle = h("h2", { id: "syllabus-title" }, this.config.title)),
        h(
          "button",
          { type: "button", class: "new", onclick: () => this.reset() },
          "New conversation",
        ),
        h(
          "button",
          {
            type: "button",
            class: "close",
            "aria-label": "Close chat",
            onclick: () => this.close(),
          },
          "×",
        ),
      );
    }

    scopeBar() {
      // With data-scope the panel says what it asks about; one click widens it.
      if (!this.config.scope) return null;
      this.scopeText = h("span", { class: "scope-text" });
      this.scopeButton = h("button", {
        type: "button",
        class: "scope-toggle",
        onclick: () => this.setScoped(!this.state.scoped),
      });
      this.scopeLine = h("p", { class: "scope" }, this.scopeText, this.scopeButton);
      this.setScoped(this.state.scoped);
      return this.scopeLine;
    }

    setScoped(scoped) {
      this.state.scoped = scoped;
      const name = scopeName(this.config);
      this.scopeLine.dataset.scoped = String(scoped);
      this.scopeText.textContent = scoped ? `Asking about: ${name}` : "Asking the whole course";
      this.scopeButton.textContent = scoped ? "Ask the whole course" : `Only ${name}`;
      this.save();
    }

    composer() {
      this.input = h("textarea", {
        id: "syllabus-question",
        rows: "1",
        maxlength: String(QUESTION_CHARS),
        placeholder: this.config.placeholder,
        autocomplete: "off",
        enterkeyhint: "send",
        oninput: () => this.fit(),
        onkeydown: (event) => {
          if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
            event.preventDefault();
            this.submit();
          }
        },
      });
      this.send = h(
        "button",
        { class: "send", type: "submit", "aria-label": "Send question" },
        icon(SEND_ICON),
      );
      return h(
        "form",
        {
          class: "composer",
          onsubmit: (event) => {
            event.preventDefault();
            this.submit();
          },
        },
        h("label", { class: "sr-only", for: "syllabus-question" }, "Your question"),
        this.input,
        this.send,
      );
    }

    fit() {
      this.input.style.height = "auto";
      this.input.style.height = `${Math.min(this.input.scrollHeight + 2, 120)}px`;
    }

    onKey(event) {
      if (event.key === "Escape") {
        event.preventDefault();
        this.close();
      }
    }

    open(focus) {
      this.panel.hidden = false;
      this.launcher.hidden = true;
      this.launcher.setAttribute("aria-expanded", "true");
      this.state.open = true;
      this.save();
      this.scrollToEnd();
      if (focus) this.input.focus();
    }

    close() {
      this.panel.hidden = true;
      this.launcher.hidden = false;
      this.launcher.setAttribute("aria-expanded", "false");
      this.state.open = false;
      this.save();
      this.launcher.focus();
    }

    reset() {
      if (this.request) this.request.abort();
      this.request = null;
      this.setBusy(false);
      for (const view of this.views.values()) view.element.remove();
      this.views.clear();
      this.state.turns = [];
      this.save();
      this.input.focus();
    }

    addView(turn) {
      const view = new TurnView(this, turn);
      this.views.set(turn, view);
      this.log.append(view.element);
      return view;
    }

    scrollToEnd() {
      this.log.scrollTop = this.log.scrollHeight;
    }

    setBusy(busy) {
      this.busy = busy;
      this.send.disabled = busy;
      this.log.setAttribute("aria-busy", String(busy));
    }

    submit() {
      const question = this.input.value.trim();
      if (!question || this.busy) return;
      this.input.value = "";
      this.fit();
      this.input.focus();
      const turn = { question, ...unanswered() };
      this.state.turns.push(turn);
      this.addView(turn);
      this.ask(turn);
    }

    retry(turn) {
      if (this.busy) return;
      this.input.focus();
      this.ask(turn);
    }

    requestBody(turn) {
      const turns = this.state.turns;
      const earlier = turns.slice(0, turns.indexOf(turn)).filter((t) => t.status === "done");
      const history = earlier.slice(-HISTORY_TURNS).flatMap((t) => [
        { role: "user", content: t.question.slice(0, TURN_CHARS) },
        { role: "assistant", content: t.answer.slice(0, TURN_CHARS) },
      ]);
      const body = { question: turn.question, history, stream: true };
      if (this.config.collection) body.collection = this.config.collection;
      if (this.config.scope && this.state.scoped) body.scope = this.config.scope;
      return body;
    }

    async ask(turn) {
      const controller = new AbortController();
      const view = this.views.get(turn);
      this.request = controller;
      this.setBusy(true);
      Object.assign(turn, unanswered());
      this.save();
      view.render();
      this.scrollToEnd();
      try {
        const response = await fetch(`${this.config.api}/v1/ask`, {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
          body: JSON.stringify(this.requestBody(turn)),
          signal: controller.signal,
        });
        if (!response.ok) throw await failure(response);
        await readEvents(response.body, (event, data) => this.onEvent(turn, view, event, data));
        if (turn.status !== "done") throw new Problem(INTERRUPTED);
      } catch (error) {
        if (controller.signal.aborted) return;
        turn.status = "error";
        turn.problem = describe(error);
        view.render();
      } finally {
        if (this.request === controller) {
          this.request = null;
          this.setBusy(false);
          this.save();
          this.scrollToEnd();
        }
      }
    }

    async rate(turn, comment) {
      const view = this.views.get(turn);
      const body = { answer_id: turn.answerId, helpful: turn.rating.helpful };
      if (comment) body.comment = comment.slice(0, 500);
      if (this.config.collection) body.collection = this.config.collection;
      try {
        const response = await fetch(`${this.config.api}/v1/feedback`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(body),
        });
        if (!response.ok) throw await failure(response);
        turn.rating = { helpful: turn.rating.helpful, sent: true, failed: null };
        this.save();
      } catch (error) {
        turn.rating = { ...turn.rating, failed: describe(error).text };
      }
      if (view) view.render();
    }

    onEvent(turn, view, event, data) {
      if (event === "citations") {
        turn.retrieved = Array.isArray(data.citations) ? data.citations : [];
      } else if (event === "draft") {
        // An answer taken straight from the notes, shown until the generated one starts.
        turn.answer = String(data.text ?? "");
        turn.drafted = Array.isArray(data.citations) ? data.citations.map(Number) : [];
        turn.stage = "draft";
        view.render();
        this.scrollToEnd();
      } else if (event === "token") {
        if (turn.stage === "draft") {
          // The generated answer's first token replaces the draft.
          turn.answer = "";
          turn.stage = "writing";
        }
        turn.answer += String(data.text ?? "");
        view.render();
        this.scrollToEnd();
      } else if (event === "done") {
        // The verified answer; it replaces the streamed text when they differ.
        turn.answer = String(data.answer ?? "");
        turn.mode = data.mode;
        turn.citations = Array.isArray(data.citations) ? data.citations : [];
        turn.quotes = quotesOf(data.quotes);
        turn.unsupported = unsupportedOf(data.grounding);
        turn.guided = data.guided === true;
        turn.answerId = typeof data.answer_id === "string" ? data.answer_id : null;
        turn.status = "done";
        turn.stage = null;
        view.render();
      } else if (event === "error") {
        throw fromErrorBody(data.error, "answering failed");
      }
    }
  }

  const widget = new ChatWidget(readConfig(script));
  if (document.body) widget.mount();
  else document.addEventListener("DOMContentLoaded", () => widget.mount(), { once: true });
})();
