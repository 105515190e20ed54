/*! avowal consent banner: /c.js wraps this file as (function(C){...})(config) */
"use strict";
const w = window, d = document, n = navigator, L = location;
// The order of cookie.CHOOSABLE (src/avowal/consent/cookie.py): the cookie value lists them so.
const ORDER = ["functional", "analytics", "advertising", "performance"];
const NEC = "strictly_necessary";
const SEL = 'script[type="text/plain"][data-category],iframe[data-src][data-category],img[data-src][data-category]';
const NAME = C.cookie.name;
const GPC = C.gpc && n.globalPrivacyControl === true;
const cats = C.categories || [];
const choosable = cats.filter(c => !c.required).map(c => c.key);
const fns = [];
const revoked = {};
let granted = [];
let state = null; // {id, version, granted} of the consent cookie, or of this page's choice
let root, panel, lastFocus, reprompted;

const safe = f => function () { try { return f.apply(this, arguments); } catch (e) { /* never throw into the host page */ } };
const esc = s => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
const hex = k => Array.from(crypto.getRandomValues(new Uint8Array(k)), b => (b + 256).toString(16).slice(1)).join("");

// The consent cookie: v1.<consent id>.<banner version>.<granted, joined by "-", or "none">
function raw() {
  const m = d.cookie.match(RegExp("(?:^|;\\s*)" + esc(NAME) + "=([^;]*)"));
  return m ? m[1].replace(/"/g, "") : null;
}
// A fifth part "p" marks a choice not yet recorded on the server (sent again on the next page).
function parse(v) {
  const p = (v || "").split(".");
  if (p.length < 4 || p.length > 5 || p[0] != "v1" || !/^[0-9a-f]{32}$/.test(p[1]) || !/^[0-9a-f]{12}$/.test(p[2]) || (p[4] && p[4] != "p")) return null;
  const g = p[3] == "none" ? [] : p[3].split("-");
  return g.every(k => k == NEC || ORDER.includes(k)) ? { id: p[1], version: p[2], granted: g.filter(k => k != NEC), pending: !!p[4] } : null;
}
const format = (id, g) => "v1." + id + "." + C.version + "." + (ORDER.filter(k => g.includes(k)).join("-") || "none") + ".p";
function store(value, age) {
  const c = C.cookie;
  d.cookie = NAME + "=" + value + "; path=" + (c.path || "/") + (age != null ? "; max-age=" + age : "") +
    "; SameSite=Lax" + (L.protocol == "https:" ? "; Secure" : "") + (c.domain ? "; domain=" + c.domain : "");
}

// Google Consent Mode v2, through gtag when the page defines it.
function gtag() { typeof w.gtag == "function" ? w.gtag.apply(w, arguments) : (w.dataLayer = w.dataLayer || []).push(arguments); }
function signal(kind, g) {
  if (!C.consent_mode) return;
  const s = k => g.includes(k) ? "granted" : "denied", a = s("advertising");
  gtag("consent", kind, { ad_storage: a, analytics_storage: s("analytics"), ad_user_data: a, ad_personalization: a });
}

// Blocked elements run (scripts) or load (frames, images) once their category is granted.
const allowed = k => k == NEC || (granted.includes(k) && !revoked[k]);
function run(e) {
  if (e.avowalRan || !allowed(e.getAttribute("data-category"))) return;
  e.avowalRan = 1;
  if (e.tagName == "SCRIPT") {
    const s = d.createElement("script");
    for (const a of e.attributes) if (a.name != "type") s.setAttribute(a.name, a.value);
    s.type = e.getAttribute("data-type") || "text/javascript";
    if (s.src) s.async = false; else s.text = e.text;
    e.parentNode.insertBefore(s, e.nextSibling);
  } else e.src = e.getAttribute("data-src");
}
const scan = safe(x => { if (x.matches && x.matches(SEL)) run(x); if (x.querySelectorAll) x.querySelectorAll(SEL).forEach(run); });

// Withdrawal: expire the category's declared cookies where they may have been set.
function wipe(key) {
  const cat = cats.find(c => c.key == key);
  const names = d.cookie.split(/;\s*/).map(s => s.split("=")[0]);
  (cat ? cat.cookies : []).forEach(c => {
    const re = RegExp("^" + c.name.split("*").map(esc).join(".*") + "$");
    names.filter(x => x && re.test(x)).forEach(x => {
      [c.domain, L.hostname, ""].forEach(dm => [c.path || "/", "/"].forEach(p => {
        d.cookie = x + "=; max-age=0; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=" + p + (dm ? "; domain=" + dm : "");
      }));
    });
  });
}

const apply = safe(g => {
  granted.filter(k => !g.includes(k)).forEach(k => { revoked[k] = 1; wipe(k); });
  granted = g.slice();
  signal("update", granted);
  scan(d);
  fns.forEach(f => safe(f)(granted.slice()));
});

// Record a choice on the server and return what it granted (Sec-GPC may have turned some off).
// Without an answer the choice is kept in the cookie with a local id, marked pending, and sent on
// the next page. A refusal (a misconfigured site) keeps it for this page only, and says so.
async function record(body) {
  let r, j;
  try {
    r = await fetch(C.endpoint, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), keepalive: true });
    j = r.status == 201 && await r.json();
  } catch (e) { /* offline */ }
  if (r && r.status == 409) return reprompted || (reprompted = 1, show()), null;
  if (r && !j && r.status < 500) return console.warn("avowal: the consent server refused this choice (" + r.status + ")"), body.granted;
  const s = j && parse(j.value);
  if (s) state = s;
  if (n.cookieEnabled !== false) s ? store(j.value, j.max_age) : store(format(state.id, body.granted), C.cookie.days ? C.cookie.days * 86400 : null);
  return s ? s.granted : body.granted;
}

const lang = () => {
  const t = C.texts || {};
  const l = [d.documentElement.lang, ...(n.languages || []), n.language].map(x => (x || "").slice(0, 2).toLowerCase()).find(x => t[x]);
  return l || C.default_language;
};

async function choose(g, method) {
  g = g.filter(k => choosable.includes(k) && !(GPC && k == "advertising"));
  const known = state && state.id;
  state = { id: known || hex(16), version: C.version, granted: g };
  if (method != "gpc") hide();
  const body = { consent_id: known || null, version: C.version, granted: g, method: method, language: lang(), path: L.pathname };
  const got = await record(body).catch(() => g);
  if (got) apply(got);
}

// The dialog.
function h(tag, attrs, ...kids) {
  const e = d.createElement(tag);
  for (const a in attrs || {}) a == "text" ? e.textContent = attrs[a] : e.setAttribute(a, attrs[a]);
  kids.forEach(k => k != null && e.append(k));
  return e;
}
function view(settings) {
  panel.hidden = !settings;
  root.querySelector("[data-avowal-consent=customise]").hidden = settings;
  root.querySelector("[data-avowal-consent=save]").hidden = !settings;
  (settings ? panel.querySelector("input:not([disabled])") || panel : root.querySelector("[data-avowal-consent=customise]")).focus();
}
function build() {
  const code = lang(), T = C.texts[code], id = "avowal-consent";
  const button = (k, t) => h("button", { type: "button", class: "avc-" + (k == "customise" || k == "save" ? "l" : "b"), "data-avowal-consent": k, text: t });
  const change = C.change;
  root = h("div", { class: "avc", id: id, role: "dialog", "aria-modal": "false", "aria-labelledby": id + "-t", "aria-describedby": id + "-d", lang: code, tabindex: "-1", hidden: "" },
    h("button", { type: "button", class: "avc-x", "aria-label": T.close, text: "\u00d7" }),
    h("h2", { id: id + "-t", text: T.title }),
    h("p", { id: id + "-d" }, T.intro + " ", T.refusal_consequence ? T.refusal_consequence + " " : null, h("a", { href: C.privacy_url, text: T.privacy_link })),
    GPC ? h("p", { class: "avc-n", text: T.gpc_note }) : null,
    change ? h("p", { class: "avc-n" }, (T.change_notice || "{date}").replace("{date}", change.effective) + (change.summary ? " " + change.summary : "") + " ",
      h("a", { href: change.url, text: T.change_link || T.privacy_link })) : null,
    panel = h("div", { class: "avc-s", hidden: "" }, ...cats.map(c => {
      const t = T.categories[c.key] || { label: c.key, description: "" };
      const box = h("input", { type: "checkbox", role: "switch", name: c.key });
      if (c.required || GPC && c.key == "advertising") box.disabled = true;
      return h("div", { class: "avc-k" },
        h("label", null, box, " " + t.label, c.required ? h("span", { text: " \u00b7 " + T.always_on }) : null),
        h("p", { text: t.description }),
        c.cookies.length ? h("details", null, h("summary", { text: T.cookies_heading }),
          h("ul", null, ...c.cookies.map(k => h("li", null, h("code", { text: k.name }), " " + [k.provider, k.lifetime, k.description].filter(Boolean).join(" \u00b7 "))))) : null);
    })),
    h("div", { class: "avc-a" }, button("accept-all", T.accept_all), button("reject-all", T.reject_all), button("customise", T.customise), button("save", T.save)));
  root.addEventListener("click", safe(e => {
    const k = e.target.closest("button");
    const a = k && (k.getAttribute("data-avowal-consent") || "x");
    if (a == "accept-all") choose(choosable, "banner");
    else if (a == "reject-all") choose([], "banner");
    else if (a == "customise") view(1);
    else if (a == "save") choose(Array.from(panel.querySelectorAll("input:checked"), i => i.name), "settings");
    else if (a == "x") hide();
  }));
  root.addEventListener("keydown", safe(e => {
    if (e.key != "Escape") return;
    if (!panel.hidden) view(0); else if (state && state.version == C.version) hide();
  }));
  if (C.css) d.head.append(h("style", { text: C.css }));
  d.body.append(root);
}
function show() {
  if (!root) build();
  if (!root.contains(d.activeElement)) lastFocus = d.activeElement;
  if (root.hidden) {
    const g = state ? state.granted : [];
    panel.querySelectorAll("input").forEach(i => {
      i.checked = cats.find(x => x.key == i.name).required || (!(GPC && i.name == "advertising") && g.includes(i.name));
    });
    root.querySelector(".avc-x").hidden = !(state && state.version == C.version);
    root.hidden = false;
    view(0);
  }
  root.focus({ preventScroll: true });
}
function hide() {
  if (!root || root.hidden) return;
  const back = root.contains(d.activeElement);
  root.hidden = true;
  if (back && lastFocus && lastFocus.focus && d.contains(lastFocus) && lastFocus != d.body) lastFocus.focus();
}

let api = w.avowal || function () { (api.q = api.q || []).push(arguments); };
// The analytics tracker (a.js) replaces window.avowal with itself: the consent API moves along.
try { Object.defineProperty(w, "avowal", { configurable: true, get: () => api, set: v => { v && !v.consent && (v.consent = api.consent); api = v; } }); } catch (e) { w.avowal = api; }
api.consent = {
  open: safe(() => d.body ? show() : d.addEventListener("DOMContentLoaded", api.consent.open)),
  get: () => granted.slice(),
  on: safe(f => { typeof f == "function" && fns.push(f); }),
};

safe(() => {
  signal("default", []);
  // Nothing to choose (no refusable cookie, or the policy offers no choice): no banner, and what
  // the policy declares runs, since it cannot be refused.
  let ask = !!C.choice;
  const s = ask && parse(raw());
  if (!ask && (granted = choosable.slice()).length) signal("update", granted);
  if (s) {
    state = s;
    if (s.version == C.version) {
      ask = false;
      granted = s.granted.slice();
      if (granted.length) signal("update", granted);
    }
  }
  if (C.choice && GPC && (ask || granted.includes("advertising"))) choose(ask ? [] : granted, "gpc");
  else if (s && s.pending && !ask) record({ consent_id: s.id, version: s.version, granted: s.granted, method: "banner", language: lang(), path: L.pathname });
  new MutationObserver(safe(ms => ms.forEach(m => m.addedNodes.forEach(scan)))).observe(d.documentElement, { childList: true, subtree: true });
  const ready = safe(() => {
    scan(d);
    d.addEventListener("click", safe(e => {
      const t = e.target.closest && e.target.closest("[data-avowal-consent-open]");
      if (t) { e.preventDefault(); api.consent.open(); }
    }));
    // Shown once the page has loaded and painted, so that the banner never delays the page's
    // own largest paint; nothing unconsented runs in the meantime.
    const later = () => setTimeout(() => (w.requestIdleCallback || setTimeout)(safe(() => root || show()), { timeout: 1000 }));
    if (ask) d.readyState == "complete" ? later() : w.addEventListener("load", later);
  });
  d.readyState == "loading" ? d.addEventListener("DOMContentLoaded", ready) : ready();
})();
