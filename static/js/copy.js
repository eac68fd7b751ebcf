// Copy buttons: a button with data-copy="ID" copies the text of the element with that id.
// The buttons are hidden until this script runs, so pages without JavaScript show none.
(function () {
  "use strict";
  var buttons = document.querySelectorAll("button[data-copy]");
  for (var i = 0; i < buttons.length; i++) buttons[i].hidden = false;

  function fallback(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    return ok;
  }

  function done(button, ok) {
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    // Selected text stays selected on failure, so the person can copy it by hand.
    button.textContent = ok ? "Copied" : "Select and copy by hand";
    var status = document.getElementById(button.getAttribute("aria-describedby") || "");
    if (status) status.textContent = ok ? "Copied to the clipboard." : "Could not copy; the text is selected.";
    setTimeout(function () { button.textContent = label; }, 2000);
  }

  document.addEventListener("click", function (ev) {
    var button = ev.target.closest ? ev.target.closest("button[data-copy]") : null;
    if (!button) return;
    var el = document.getElementById(button.getAttribute("data-copy"));
    if (!el) return;
    var text = el.textContent.trim();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(button, true); }, function () { done(button, fallback(el)); });
    } else {
      done(button, fallback(el));
    }
  });
})();
