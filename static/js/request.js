// The request form's submit button names the duration being typed ("Request 2 h"), as the
// server does when it draws the form; without this script the button keeps the server's label.
(function () {
  "use strict";
  var input = document.getElementById("f-duration");
  var button = document.querySelector("[data-testid=submit-request]");
  if (!input || !button) return;
  var prefix = button.getAttribute("data-label-prefix") || "";
  var suffix = button.getAttribute("data-label-suffix") || "";
  var fallback = button.getAttribute("data-label-fallback") || button.textContent;
  // The policy's range: a duration outside it is refused, so the button does not name it.
  var least = parseInt(button.getAttribute("data-label-min"), 10) || 1;
  var most = parseInt(button.getAttribute("data-label-max"), 10) || 366 * 1440;

  // minutes reads what pam.ParseDuration reads: plain minutes ("90"), or parts such as
  // "2d", "1h30m", "1.5h", "45m"; it returns 0 for anything else.
  function minutes(text) {
    var s = text.trim().toLowerCase();
    if (/^\d+$/.test(s)) return parseInt(s, 10);
    var re = /(\d+(?:\.\d+)?)(d|h|m)/g, total = 0, used = 0, m;
    while ((m = re.exec(s)) !== null) {
      if (m.index !== used) return 0;
      used = re.lastIndex;
      total += parseFloat(m[1]) * { d: 1440, h: 60, m: 1 }[m[2]];
    }
    return used === s.length && used > 0 ? Math.round(total) : 0;
  }

  // words writes minutes as pam.FormatDuration does: "1 d 2 h 30 min".
  function words(n) {
    var d = Math.floor(n / 1440), h = Math.floor((n % 1440) / 60), min = n % 60, parts = [];
    if (d) parts.push(d + " d");
    if (h) parts.push(h + " h");
    if (min) parts.push(min + " min");
    return parts.join(" ");
  }

  function update() {
    var n = minutes(input.value);
    button.textContent = n >= least && n <= most ? prefix + words(n) + suffix : fallback;
  }
  input.addEventListener("input", update);
  update();
})();
