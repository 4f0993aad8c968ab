// Fills a form in again with what was typed before the session expired
// (forbear.web.forms): the server embeds {"action", "fields"} as JSON in the page.
(function () {
  "use strict";
  var data = document.getElementById("restored-form");
  if (!data) { return; }
  var stashed;
  try { stashed = JSON.parse(data.textContent); } catch (e) { return; }
  var target = null;
  var all = document.querySelectorAll("form[method=post], form[method=POST]");
  for (var i = 0; i < all.length; i++) {
    var action = new URL(all[i].getAttribute("action") || "", window.location.href).pathname;
    if (action === stashed.action) { target = all[i]; break; }
  }
  if (!target) { return; }
  var fields = stashed.fields || {};
  Object.keys(fields).forEach(function (name) {
    if (name === "csrf_token") { return; }
    var inputs = target.querySelectorAll("[name='" + CSS.escape(name) + "']");
    for (var j = 0; j < inputs.length; j++) {
      var input = inputs[j];
      if (input.type === "radio" || input.type === "checkbox") {
        input.checked = input.value === fields[name];
      } else if (input.type !== "hidden" && input.type !== "password" && input.type !== "file") {
        input.value = fields[name];
      }
    }
  });
  var first = target.querySelector("input:not([type=hidden]), textarea, select");
  target.scrollIntoView({ block: "center" });
  if (first) { first.focus(); }
})();
