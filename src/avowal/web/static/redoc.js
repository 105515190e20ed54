// Starts ReDoc on /redoc from the packaged bundle: no CDN, no inline script, no web fonts.
(function () {
  "use strict";
  var root = document.getElementById("redoc");
  Redoc.init(root.dataset.openapi, { disableSearch: false, hideDownloadButton: false }, root);
})();
