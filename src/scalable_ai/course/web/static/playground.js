// The chat playground, progressively enhanced: without this file the form posts and the whole
// answer comes back as a page. With it, the answer streams in as the model writes it.
// The browser talks only to the platform: POST /playground/chat with the session cookie and
// the form's CSRF token; the platform answers with server-sent events (one JSON object per
// "data:" line): {"type": "token", "text"}, then {"type": "done", ttft_s, tokens_per_s, ...}
// or {"type": "error", "message"}. The page keeps the conversation and sends it each turn.
(function () {
  "use strict";
  var form = document.getElementById("playground-form");
  if (!form || !window.fetch || !window.TextDecoder || !window.AbortController) return;
  var transcript = document.getElementById("transcript");
  var stats = document.getElementById("playground-stats");
  var errorBox = document.getElementById("playground-error");
  var message = form.elements.message;
  var send = document.getElementById("send");
  var stop = document.getElementById("stop");
  var fresh = document.getElementById("new-conversation");
  var history = [];  // earlier turns, {role: "user"|"assistant", content}
  var controller = null;

  stop.hidden = false;
  fresh.hidden = transcript.children.length === 0;
  if (!transcript.children.length) transcript.textContent = "";  // so that :empty applies

  function addTurn(role, text) {
    var turn = document.createElement("article");
    turn.className = "turn turn-" + role;
    var who = document.createElement("h3");
    who.textContent = role === "user" ? "You" : "Model";
    var said = document.createElement("p");
    said.className = "said";
    said.textContent = text;
    turn.appendChild(who);
    turn.appendChild(said);
    transcript.appendChild(turn);
    return turn;
  }

  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = !text;
  }

  function seconds(value) { return value === null || value === undefined ? "—" : value.toFixed(2); }

  function describe(done) {
    var rate = done.tokens_per_s === null || done.tokens_per_s === undefined ? "—" : done.tokens_per_s.toFixed(1);
    var text = "First token after " + seconds(done.ttft_s) + " s · " + done.completion_tokens +
      " tokens · " + rate + " tokens/s";
    if (done.finish_reason === "length") text += " (stopped at the max tokens)";
    return text;
  }

  // Why a response is not a stream: the platform's JSON error, a sign-in page, or an error page.
  function explain(response) {
    if (response.redirected && response.url.indexOf("/sign-in") !== -1) {
      return Promise.resolve("Your session has ended: reload the page and sign in again.");
    }
    var type = response.headers.get("content-type") || "";
    if (type.indexOf("application/json") !== -1) {
      return response.json().then(function (body) {
        var error = body.error || {};
        return (error.field ? error.field + ": " : "") + (error.message || response.statusText);
      });
    }
    return response.text().then(function (html) {
      var page = new DOMParser().parseFromString(html, "text/html");
      var alert = page.querySelector("main [role=alert]");
      return alert ? alert.textContent.trim() : "The platform answered " + response.status + ".";
    });
  }

  function busy(on) {
    send.disabled = on;
    stop.disabled = !on;
    message.readOnly = on;
    if (on) transcript.setAttribute("aria-busy", "true"); else transcript.removeAttribute("aria-busy");
  }

  async function converse() {
    var text = message.value.trim();
    if (!text) { showError("message: write a message first"); message.focus(); return; }
    showError("");
    var data = new FormData(form);
    data.set("history", JSON.stringify(history));
    addTurn("user", text);
    var reply = addTurn("assistant", "");
    var said = reply.querySelector(".said");
    reply.setAttribute("aria-busy", "true");
    fresh.hidden = false;
    stats.textContent = "Waiting for the model…";
    busy(true);
    controller = new AbortController();
    var answer = "", finished = null;
    function handle(block) {
      block.split("\n").forEach(function (line) {
        if (line.indexOf("data: ") !== 0) return;
        var event = JSON.parse(line.slice(6));
        if (event.type === "token") {
          answer += event.text;
          said.textContent = answer;
          if (stats.textContent.indexOf("Waiting") === 0) stats.textContent = "Writing…";
        } else if (event.type === "done") {
          finished = event;
          stats.textContent = describe(event);
        } else if (event.type === "error") {
          throw new Error(event.message);
        }
      });
    }
    try {
      var response = await fetch(form.action, {
        method: "POST", body: data, credentials: "same-origin", signal: controller.signal,
        headers: { "Accept": "text/event-stream" }
      });
      var type = response.headers.get("content-type") || "";
      if (!response.ok || type.indexOf("text/event-stream") === -1) throw new Error(await explain(response));
      var reader = response.body.getReader(), decoder = new TextDecoder(), buffer = "";
      for (;;) {
        var part = await reader.read();
        if (part.done) break;
        buffer += decoder.decode(part.value, { stream: true });
        var blocks = buffer.split("\n\n");
        buffer = blocks.pop();
        blocks.forEach(handle);
      }
      if (!finished) throw new Error("the answer was cut off before it finished");
      history.push({ role: "user", content: text }, { role: "assistant", content: answer });
      message.value = "";
    } catch (error) {
      if (error.name === "AbortError") {
        stats.textContent = "Stopped.";
        if (answer) history.push({ role: "user", content: text }, { role: "assistant", content: answer });
        message.value = "";
      } else {
        stats.textContent = "";
        showError(error.message);
        if (!answer) said.textContent = "(no answer)";
      }
    } finally {
      reply.removeAttribute("aria-busy");
      controller = null;
      busy(false);
      message.focus();
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!controller) converse();
  });
  message.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  stop.addEventListener("click", function () { if (controller) controller.abort(); });
  fresh.addEventListener("click", function () {
    if (controller) controller.abort();
    history = [];
    transcript.textContent = "";
    stats.textContent = "";
    showError("");
    fresh.hidden = true;
    message.focus();
  });
})();
