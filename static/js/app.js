// Elevate's own script: small improvements on pages that work without it.
(function () {
  "use strict";
  // Keep the signed-in user's time zone from the browser, once, if they never chose one.
  var body = document.body;
  var stored = body.getAttribute("data-tz");
  var csrf = body.getAttribute("data-csrf");
  if (!stored || !csrf || stored !== "UTC" || !window.Intl || !window.fetch) return;
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone || zone === "UTC" || zone === "Etc/UTC") return;
  try {
    if (sessionStorage.getItem("elevate-tz-sent") === zone) return;
    sessionStorage.setItem("elevate-tz-sent", zone);
  } catch (e) { /* private mode: send once per page */ }
  var form = new URLSearchParams();
  form.set("time_zone", zone);
  form.set("auto", "1");
  fetch("/profile/timezone", {
    method: "POST", credentials: "same-origin",
    headers: { "X-CSRF-Token": csrf, "Content-Type": "application/x-www-form-urlencoded" },
    body: form.toString()
  });
})();
// After an inline decision htmx swaps in the card with its result line (marked data-focus):
// move the focus there, so a keyboard or screen-reader user hears the outcome and goes on from
// the card, not from the top of the page.
document.addEventListener("htmx:afterSettle", function () {
  "use strict";
  var line = document.querySelector("[data-focus]");
  if (!line) return;
  line.removeAttribute("data-focus");
  line.focus();
});
// A long form marked data-phone-closed (the audit trail's unused filters) starts folded on a
// phone, so the list comes first; without this script it stays open.
(function () {
  "use strict";
  if (!window.matchMedia || !window.matchMedia("(max-width: 639px)").matches) return;
  document.querySelectorAll("details[data-phone-closed]").forEach(function (d) { d.open = false; });
})();
// Opening an inbox line's card names the line after its request ("line-<id>"), so the answer
// to an inline decision can redraw the line's cells out of band. Lines never opened carry no
// id, which keeps the inbox's first page small.
document.addEventListener("htmx:beforeRequest", function (e) {
  "use strict";
  var link = e.target;
  if (!link.matches || !link.matches(".tbl-inbox a[hx-get]")) return;
  var line = link.closest("tr");
  var id = (link.getAttribute("href") || "").split("/").pop();
  if (line && id) line.id = "line-" + id;
});
// A form sent back with problems opens at its first one: that field takes the focus, which also
// scrolls it into view, unless the page already placed the focus elsewhere.
(function () {
  "use strict";
  var first = document.querySelector("form [aria-invalid='true']");
  if (!first || document.querySelector("[autofocus]") || (document.activeElement && document.activeElement !== document.body)) return;
  first.focus();
})();
