// The portal chat without reloading (progressive enhancement of the plain form; the page
// works the same without this script). Posts the message to the assistant API with the
// portal session's CSRF token and appends the replies and quick replies.
(function () {
  "use strict";
  var form = document.getElementById("chat-form");
  var log = document.getElementById("chat-log");
  if (!form || !log || !window.fetch) { return; }
  var text = document.getElementById("chat-text");
  var conversation = document.getElementById("chat-conversation");
  var options = document.getElementById("chat-options");
  var error = document.getElementById("chat-error");
  var joined = document.getElementById("chat-agent-joined");
  var handed = document.getElementById("chat-handed-over");
  var csrf = form.querySelector("input[name=csrf_token]").value;
  var busy = false;

  function append(role, who, body) {
    var item = document.createElement("li");
    item.className = "turn turn-" + role;
    var name = document.createElement("span");
    name.className = "who";
    name.textContent = who;
    var para = document.createElement("p");
    para.textContent = body;  // text, never HTML
    item.appendChild(name);
    item.appendChild(para);
    log.appendChild(item);
    item.scrollIntoView({ block: "end" });
  }

  function showOptions(list) {
    while (options.firstChild) { options.removeChild(options.firstChild); }
    (list || []).forEach(function (option) {
      var button = document.createElement("button");
      button.type = "submit";
      button.name = "option";
      button.value = option.value;
      button.className = "chat-option";
      button.textContent = option.label;
      options.appendChild(button);
    });
  }

  function fail(message) {
    error.textContent = message || form.dataset.failed;
    error.hidden = false;
  }

  // While a person is asked for or answering, the transcript is read again now and then
  // so that the agent's replies appear without a reload.
  var watching = null;
  function names(role) {
    if (role === "borrower") { return log.dataset.you; }
    if (role === "agent") { return log.dataset.agent; }
    return log.dataset.bot;
  }
  function refresh() {
    if (busy || !conversation.value) { return; }
    fetch("/api/v1/assistant/conversations/" + encodeURIComponent(conversation.value), {
      credentials: "same-origin"
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (data) {
      if (!data || busy) { return; }
      while (log.firstChild) { log.removeChild(log.firstChild); }
      data.turns.forEach(function (turn) {
        if (turn.text !== null) { append(turn.role, names(turn.role), turn.text); }
        if (turn.role === "agent") { joined.hidden = false; handed.hidden = true; }
      });
    }).catch(function () { /* the next round tries again */ });
  }
  function watch() {
    if (watching === null) { watching = window.setInterval(refresh, 10000); }
  }
  if (!joined.hidden || !handed.hidden) { watch(); }

  form.addEventListener("submit", function (event) {
    var submitter = event.submitter;
    var message = submitter && submitter.name === "option" ? submitter.value : text.value;
    event.preventDefault();
    if (busy) { return; }
    error.hidden = true;
    if (!message.trim()) { fail(form.dataset.empty); return; }
    var shown = submitter && submitter.name === "option" ? submitter.textContent : message;
    var body = { text: message, language: form.dataset.lang };
    if (conversation.value) { body.conversation_id = parseInt(conversation.value, 10); }
    busy = true;
    form.setAttribute("aria-busy", "true");
    fetch(form.dataset.api, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    }).then(function (result) {
      if (!result.ok) {
        fail(result.data && result.data.error ? result.data.error.message : null);
        return;
      }
      var out = result.data;
      var greeting = document.getElementById("chat-greeting");
      if (greeting) { greeting.parentNode.removeChild(greeting); }
      append("borrower", log.dataset.you, shown);
      text.value = "";
      conversation.value = String(out.conversation_id);
      out.replies.forEach(function (reply) {
        append("assistant", log.dataset.bot, reply);
      });
      showOptions(out.options);
      joined.hidden = !out.agent_joined;
      handed.hidden = !(out.handed_over && !out.agent_joined);
      if (out.handed_over || out.agent_joined) { watch(); }
    }).catch(function () {
      fail(null);
    }).then(function () {
      busy = false;
      form.removeAttribute("aria-busy");
      text.focus();
    });
  });
})();
