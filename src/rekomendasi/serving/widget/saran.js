/* rekomendasi: <rekomendasi-saran token="..." k="5" lang="id"> — a learner's suggested trainings, for a
   learning platform's page. No framework, no cookies: the platform's server asks POST /v1/embed/tokens
   (with its key) for a token for one person and puts it in the element. Style it with CSS custom
   properties: --rk-font, --rk-color, --rk-muted, --rk-accent, --rk-accent-text, --rk-border, --rk-radius,
   --rk-background. Events: "rekomendasi-feedback" (detail: training_id, event) after a button's answer is
   saved, "rekomendasi-error" (detail: status, message). */
(function () {
  "use strict";
  var script = document.currentScript;
  var BASE = script && script.src ? new URL(script.src).origin : "";
  var WORDS = {
    id: { title: "Saran pelatihan", take: "Daftar", skip: "Tidak relevan", thanks: "Terima kasih, tanggapan Anda tersimpan.",
          loading: "Memuat saran…", none: "Belum ada saran pelatihan.", error: "Saran tidak dapat dimuat",
          expired: "Sesi saran sudah berakhir; muat ulang halaman.", jp: "JP", takeFor: "Daftar: ", skipFor: "Tidak relevan: " },
    en: { title: "Suggested trainings", take: "Sign up", skip: "Not relevant", thanks: "Thank you, your answer is saved.",
          loading: "Loading suggestions…", none: "No suggestions yet.", error: "Suggestions could not be loaded",
          expired: "The suggestions expired; reload the page.", jp: "JP", takeFor: "Sign up: ", skipFor: "Not relevant: " }
  };
  var CSS = ":host{display:block;font-family:var(--rk-font,system-ui,sans-serif);color:var(--rk-color,#1b1f24)}" +
    "section{background:var(--rk-background,transparent)}h2{font-size:1.1em;margin:0 0 .5em}" +
    "ol{list-style:none;margin:0;padding:0}li{border:1px solid var(--rk-border,#d0d5db);border-radius:var(--rk-radius,6px);padding:.75em;margin:0 0 .6em}" +
    "h3{font-size:1em;margin:0 0 .25em}.meta,.why{margin:.2em 0;color:var(--rk-muted,#4a525c);font-size:.9em}" +
    "button{font:inherit;border-radius:var(--rk-radius,6px);padding:.35em .8em;margin:.4em .5em 0 0;cursor:pointer;border:1px solid var(--rk-accent,#0b57a4)}" +
    ".take{background:var(--rk-accent,#0b57a4);color:var(--rk-accent-text,#fff)}.skip{background:transparent;color:var(--rk-accent,#0b57a4)}" +
    "button:focus-visible{outline:3px solid #f0a400;outline-offset:2px}button[disabled]{opacity:.6;cursor:default}" +
    ".status{font-size:.9em;min-height:1.2em}";

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  class RekomendasiSaran extends HTMLElement {
    static get observedAttributes() { return ["token", "k", "lang"]; }
    constructor() {
      super();
      this.root = this.attachShadow({ mode: "open" });
      if (this.root.adoptedStyleSheets !== undefined && typeof CSSStyleSheet === "function") {
        var sheet = new CSSStyleSheet(); sheet.replaceSync(CSS); this.root.adoptedStyleSheets = [sheet];
      } else { this.root.appendChild(el("style", {}, CSS)); }
      this.box = el("section", { part: "box" });
      this.root.appendChild(this.box);
    }
    connectedCallback() { this.load(); }
    attributeChangedCallback() { if (this.isConnected) { this.load(); } }
    get words() { return WORDS[this.getAttribute("lang") === "en" ? "en" : "id"]; }
    api(path, options) {
      var init = options || {};
      init.headers = Object.assign({ Authorization: "Bearer " + (this.getAttribute("token") || "") }, init.headers || {});
      init.credentials = "omit";
      return fetch((this.getAttribute("api") || BASE) + path, init);
    }
    load() {
      var w = this.words, self = this, k = parseInt(this.getAttribute("k") || "5", 10) || 5;
      this.box.replaceChildren(el("h2", { id: "rk-title" }, w.title), el("p", { role: "status", "class": "status" }, w.loading));
      this.box.setAttribute("aria-labelledby", "rk-title");
      this.api("/v1/embed/recommendations?k=" + Math.min(Math.max(k, 1), 20) + "&lang=" + (this.getAttribute("lang") === "en" ? "en" : "id"))
        .then(function (r) { return r.json().catch(function () { return {}; }).then(function (b) { return { r: r, b: b }; }); })
        .then(function (x) {
          if (!x.r.ok) { self.fail(x.r.status, x.r.status === 401 ? w.expired : (x.b.detail || w.error)); return; }
          self.render(x.b.suggestions || []);
        })
        .catch(function (e) { self.fail(0, w.error); });
    }
    fail(status, message) {
      var w = this.words;
      this.box.replaceChildren(el("h2", { id: "rk-title" }, w.title), el("p", { role: "alert", "class": "status" }, typeof message === "string" ? message : w.error));
      this.dispatchEvent(new CustomEvent("rekomendasi-error", { detail: { status: status, message: message }, bubbles: true, composed: true }));
    }
    render(items) {
      var w = this.words, self = this;
      var status = el("p", { role: "status", "aria-live": "polite", "class": "status" });
      var list = el("ol", { part: "list" });
      items.forEach(function (s) {
        var item = el("li", { part: "item" });
        item.appendChild(el("h3", {}, s.title));
        item.appendChild(el("p", { "class": "meta" }, [s.provider, s.modality, s.jp + " " + w.jp].filter(Boolean).join(" · ")));
        item.appendChild(el("p", { "class": "why" }, s.reason));
        [["take", "accepted", w.take, w.takeFor], ["skip", "rejected", w.skip, w.skipFor]].forEach(function (b) {
          var button = el("button", { type: "button", "class": b[0], part: "button " + b[0], "aria-label": b[3] + s.title }, b[2]);
          button.addEventListener("click", function () { self.answer(s.training_id, b[1], item, status); });
          item.appendChild(button);
        });
        list.appendChild(item);
      });
      this.box.replaceChildren(el("h2", { id: "rk-title" }, w.title), items.length ? list : el("p", {}, w.none), status);
    }
    answer(trainingId, event, item, status) {
      var w = this.words, self = this;
      item.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      this.api("/v1/embed/feedback", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ training_id: trainingId, event: event }) })
        .then(function (r) {
          if (!r.ok) { throw new Error(String(r.status)); }
          status.textContent = w.thanks;
          self.dispatchEvent(new CustomEvent("rekomendasi-feedback", { detail: { training_id: trainingId, event: event }, bubbles: true, composed: true }));
        })
        .catch(function () {
          item.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
          status.textContent = w.error;
        });
    }
  }
  if (!customElements.get("rekomendasi-saran")) { customElements.define("rekomendasi-saran", RekomendasiSaran); }
})();
