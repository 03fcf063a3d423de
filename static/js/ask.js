// Ask CoinPilot: post a question, read the answer as newline-delimited JSON events (fetch + ReadableStream),
// show the text as it streams, then the sources as links and the unverified numbers marked.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("ask-data").textContent);
  const list = document.getElementById("ask-messages");
  const form = document.getElementById("ask-form");
  const input = document.getElementById("ask-question");
  const send = document.getElementById("ask-send");

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // The text with each unverified number wrapped in <mark class="unverified">.
  function renderText(node, text, unverified) {
    node.textContent = "";
    let at = 0;
    (unverified || []).slice().sort((a, b) => a.start - b.start).forEach((u) => {
      if (u.start < at) return;
      node.appendChild(document.createTextNode(text.slice(at, u.start)));
      const mark = el("mark", "unverified", text.slice(u.start, u.end));
      mark.title = gettext("unverified: not found in the data this answer used");
      mark.appendChild(el("sup", "unverified-tag", gettext("unverified")));
      node.appendChild(mark);
      at = u.end;
    });
    node.appendChild(document.createTextNode(text.slice(at)));
  }

  function renderMessage(m, box) {
    box = box || el("div");
    box.className = "ask-msg ask-" + m.role + (m.status && m.status !== "ok" ? " ask-status-" + m.status : "");
    box.dataset.id = m.id;
    box.textContent = "";
    const body = el("div", "ask-text");
    renderText(body, m.text, m.role === "assistant" ? m.unverified : []);
    box.appendChild(body);
    if (m.role === "assistant") {
      if (m.tool_calls && m.tool_calls.length) {
        const calls = m.tool_calls.map((c) => c.error ? interpolate(gettext("%(tool)s (error)"), {tool: c.name}, true) :
          interpolate(ngettext("%(tool)s (%(n)s row)", "%(tool)s (%(n)s rows)", c.rows), {tool: c.name, n: window.CP.number(c.rows)}, true));
        box.appendChild(el("div", "ask-tools muted", interpolate(gettext("Looked up: %(calls)s"), {calls: calls.join(", ")}, true)));
      }
      if (m.sources && m.sources.length) {
        const sources = el("div", "ask-sources");
        sources.appendChild(el("span", "muted", gettext("Sources:") + " "));
        m.sources.forEach((s) => { const a = el("a", "", s.label); a.href = s.url; sources.appendChild(a); });
        box.appendChild(sources);
      }
    }
    if (m.at) box.appendChild(el("div", "ask-at muted", m.at));
    return box;
  }

  function add(m) { const box = renderMessage(m); list.appendChild(box); box.scrollIntoView({block: "end"}); return box; }

  data.messages.forEach(add);

  // What the assistant is looking up while the answer streams.
  function toolStatus(event) {
    if (event.state !== "finished") return interpolate(gettext("Looking up %(tool)s ..."), {tool: event.name}, true);
    if (event.error) return interpolate(gettext("Looked up %(tool)s: error"), {tool: event.name}, true);
    return interpolate(ngettext("Looked up %(tool)s: %(n)s row", "Looked up %(tool)s: %(n)s rows", event.rows),
                       {tool: event.name, n: window.CP.number(event.rows)}, true);
  }

  async function ask(question) {
    add({role: "user", text: question});
    const box = add({role: "assistant", text: ""});
    box.classList.add("ask-streaming");
    const body = box.querySelector(".ask-text");
    const status = el("div", "ask-tools muted");
    box.appendChild(status);
    let text = "";
    const handle = (event) => {
      if (event.type === "delta") { text += event.text; body.textContent = text; }
      else if (event.type === "tool") { status.textContent = toolStatus(event); }
      else if (event.type === "done") { renderMessage(event.message, box); }
    };
    const response = await fetch(data.urls.question, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: {"X-CSRFToken": form.querySelector("[name=csrfmiddlewaretoken]").value},
    });
    const type = response.headers.get("Content-Type") || "";
    if (!response.ok || !response.body || !type.startsWith("application/x-ndjson")) {
      const why = response.redirected ? gettext("your session has ended; reload the page and log in") : "HTTP " + response.status;
      const refused = type.startsWith("application/json") ? (await response.json()).error : "";  // e.g. a 400 saying why
      const text = refused || interpolate(gettext("The question was not answered (%(why)s)."), {why: why}, true);
      renderMessage({role: "assistant", status: "error", text: text}, box);
      return;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, {stream: true});
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (line) handle(JSON.parse(line));
      }
    }
    box.classList.remove("ask-streaming");
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const question = input.value.trim();
    if (!question) return;
    send.disabled = true;
    ask(question).catch((err) => add({role: "assistant", status: "error", text: interpolate(gettext("Connection lost: %(error)s"), {error: String(err)}, true)}))
      .finally(() => { input.value = ""; send.disabled = false; input.focus(); });
  });
  input.addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); } });
})();
