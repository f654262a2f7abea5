// A phishing simulation's landing page: tell Bastion a person (not a link scanner) is here.
// The first pointer movement, key, touch or scroll sends one POST to the address in the
// page's data-human-signal attribute; nothing about the interaction itself is sent.
(function () {
  "use strict";
  var holder = document.querySelector("[data-human-signal]");
  if (!holder) { return; }
  var url = holder.getAttribute("data-human-signal");
  var kinds = ["pointermove", "pointerdown", "keydown", "touchstart", "wheel", "scroll"];
  var sent = false;
  function signal() {
    if (sent) { return; }
    sent = true;
    kinds.forEach(function (kind) { window.removeEventListener(kind, signal, true); });
    fetch(url, { method: "POST", credentials: "omit", keepalive: true }).catch(function () {});
  }
  kinds.forEach(function (kind) { window.addEventListener(kind, signal, { capture: true, passive: true }); });
})();
