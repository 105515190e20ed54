/*! avowal consent loader: loads /c.js once the page has shown its largest paint */
(function (d, w) {
  // The avowal server's public URL, from the tag's data-avowal attribute: the code stays the
  // same for every site, so its CSP hash does too.
  var tag = d.currentScript, base = tag && tag.getAttribute("data-avowal"), done = 0;
  function load() {
    if (done++ || !base) return;
    var s = d.createElement("script");
    s.src = base.replace(/\/+$/, "") + "/c.js";
    s.async = true;
    d.head.appendChild(s);
  }
  // After the load event, at the first largest-contentful-paint entry painted after it, or
  // 500 ms after it (a page painted in full before load, or a browser without the API).
  function after() {
    var t = performance.now();
    try {
      new PerformanceObserver(function (l) {
        if (l.getEntries().some(function (e) { return e.startTime >= t; })) setTimeout(load);
      }).observe({ type: "largest-contentful-paint", buffered: true });
    } catch (e) { /* no Largest Contentful Paint API: the timer below */ }
    setTimeout(load, 500);
  }
  d.readyState == "complete" ? after() : w.addEventListener("load", after);
})(document, window);
