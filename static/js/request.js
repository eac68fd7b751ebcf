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
  // The range the server accepts (the policy's, cut to the organisation's ceiling): a duration
  // outside it is refused, so the button does not name it.
  var least = parseInt(button.getAttribute("data-label-min"), 10) || 1;
  var most = parseInt(button.getAttribute("data-label-max"), 10) || 366 * 1440;

  // minutes reads a duration exactly as pam.ParseDuration does: whole numbers only, minutes
  // alone ("90") or days, hours and minutes in that order ("2d", "4h", "45m", "1h30m", "2d4h"),
  // any letter case, space around it trimmed as Go trims it, at most a year. It returns 0 for
  // anything the server refuses ("1.5h", "4.5m", "90s", "+4h"), so the button keeps its plain label.
  var year = 365 * 1440;
  var space = "[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]+";
  var edges = new RegExp("^" + space + "|" + space + "$", "g");
  function minutes(text) {
    var s = text.replace(edges, "").toLowerCase();
    if (/^[0-9]+$/.test(s)) return Number(s) <= year ? Number(s) : 0;
    var m = /^(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?$/.exec(s);
    if (!m) return 0;
    var total = Number(m[1] || 0) * 1440 + Number(m[2] || 0) * 60 + Number(m[3] || 0);
    return total <= year ? total : 0;
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
