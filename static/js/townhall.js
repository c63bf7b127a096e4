// Live town halls: keeps the live page, the moderator console and the projector up to date over
// Socket.IO. The server renders each page complete; this script only applies what changed since
// (the page's data-seq), so a reload always shows the same state.
(function () {
  "use strict";

  var root = document.getElementById("townhall");
  if (!root || typeof io === "undefined") { return; }

  var messages = {};
  try { messages = JSON.parse(root.dataset.messages || "{}"); } catch (error) { messages = {}; }
  // The page's language: the server passes this script's messages, translated, in data-messages.
  function gettext(text) { return messages[text] || text; }

  var townhallId = Number(root.dataset.townhallId);
  var view = root.dataset.view;
  var floor = Number(root.dataset.seq) || 0;   // events at or below this are already shown
  var lastSeq = floor;                          // highest number seen, sent as `since`
  var seen = {};                                // question id -> seq of the state shown
  var joined = false;
  var early = [];                               // events that arrived before the join ack
  var statusLine = document.getElementById("connection");
  var announcer = document.getElementById("announcer");
  // WebSocket first; where a proxy or network blocks it, long-polling carries the same events.
  // data-transports (comma-separated) narrows the choice, e.g. "polling" on a hostile network.
  var transports = (root.dataset.transports || "websocket,polling").split(",");
  var socket = io("/townhall", { transports: transports, tryAllTransports: true, reconnectionDelayMax: 5000 });

  function setState(state, text) {
    if (!statusLine) { return; }
    statusLine.dataset.state = state;
    statusLine.textContent = text;
  }

  function announce(text) {
    if (!announcer) { return; }
    announcer.textContent = "";
    window.setTimeout(function () { announcer.textContent = text; }, 50);
  }

  function showPresence(count) {
    var counter = document.getElementById("presence-count");
    if (!counter) { return; }
    counter.textContent = String(count);
    counter.parentElement.hidden = false;
  }

  setState("connecting", gettext("Connecting to live updates…"));

  // Joins on every connect, and again on `resync`: the server asks for it when its message queue
  // came back after an outage, during which this page may have missed events.
  function join() {
    joined = false;
    setState("syncing", gettext("Catching up…"));
    socket.emit("join", { townhall_id: townhallId, since: lastSeq, moderator: view === "moderate" },
      function (ack) {
        if (!ack || !ack.ok) {
          setState("error", (ack && ack.message) || gettext("Live updates are unavailable; reload the page."));
          return;
        }
        if (ack.snapshot) {
          applySnapshot(ack.snapshot, ack.seq);
        } else {
          ack.events.forEach(function (entry) { handle(entry.event, entry.data, true); });
        }
        lastSeq = Math.max(lastSeq, ack.seq);
        joined = true;
        var waiting = early;
        early = [];
        waiting.forEach(function (entry) { handle(entry[0], entry[1], false); });
        if (typeof ack.presence === "number") { showPresence(ack.presence); }
        setState("live", gettext("Up to date"));
      });
  }

  socket.on("connect", join);
  socket.on("resync", join);
  // The account signed out, was suspended or deleted, or its role changed (on this device or
  // another): the server closes the connection, and the page shows what the account may see now.
  socket.on("session_ended", function () {
    setState("ended", gettext("Your session has ended. Reloading…"));
    window.location.reload();
  });

  socket.on("disconnect", function () {
    setState("reconnecting", gettext("Connection lost. Reconnecting…"));
  });
  socket.io.on("reconnect_attempt", function () {
    setState("reconnecting", gettext("Reconnecting…"));
  });
  socket.on("presence", function (data) {
    if (data.townhall_id === townhallId) { showPresence(data.count); }
  });

  ["question", "queue", "townhall"].forEach(function (name) {
    socket.on(name, function (data) {
      if (!data || data.townhall_id !== townhallId) { return; }
      if (!joined) { early.push([name, data]); return; }
      handle(name, data, false);
    });
  });

  function handle(name, data, replayed) {
    if (data.seq <= floor) { return; }
    lastSeq = Math.max(lastSeq, data.seq);
    if (name === "townhall") { applyEdits(data); }
    if (view === "live") {
      if (name === "question") { applyQuestion(data.question, data.seq, replayed); }
      if (name === "townhall") { applyTownhall(data); }
    } else {
      refreshPart();
      if (view === "moderate" && name === "queue" && data.question.status === "pending" && !replayed) {
        announce(gettext("New question waiting:") + " " + data.question.text);
      }
    }
  }

  function applySnapshot(snapshot, seq) {
    floor = seq;
    seen = {};
    applyEdits(snapshot.townhall);
    if (view !== "live") { refreshPart(); return; }
    upvoted = {};
    snapshot.upvoted.forEach(function (id) { upvoted[id] = true; });
    var list = document.getElementById("question-list");
    list.textContent = "";
    snapshot.questions.forEach(function (q) { list.appendChild(questionItem(q)); });
    var mine = document.getElementById("mine-list");
    if (mine) {
      mine.textContent = "";
      snapshot.mine.forEach(function (q) { mine.appendChild(ownItem(q)); });
    }
    applyTownhall(snapshot.townhall);
    tidy();
  }

  // The live page ------------------------------------------------------------------------

  var order = root.dataset.order || "top";
  var signedIn = root.dataset.signedIn === "true";
  var userId = Number(root.dataset.userId) || null;
  var status = (document.querySelector("[data-status-badge]") || {}).textContent;
  var highlightedItem = document.querySelector("#question-list .question--highlighted");
  var highlightedId = highlightedItem ? Number(highlightedItem.dataset.id) : null;
  var upvoted = {};
  document.querySelectorAll("#question-list .upvote-form").forEach(function (form) {
    if (form.querySelector("button").getAttribute("aria-pressed") === "true") {
      upvoted[Number(form.dataset.questionId)] = true;
    }
  });

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function badge(text, kind) {
    return el("span", "badge" + (kind ? " badge--" + kind : ""), text);
  }

  function questionItem(q) {
    var item = el("li", "question");
    item.id = "q" + q.id;
    item.dataset.id = q.id;
    item.dataset.upvotes = q.upvotes;
    item.dataset.created = q.created_at;
    item.appendChild(el("p", "question-text", q.text));
    var meta = el("p", "question-meta");
    meta.appendChild(el("span", "question-author", q.author_name || gettext("Anonymous")));
    if (q.channel !== "online") { meta.append(" "); meta.appendChild(badge(gettext("Asked") + " " + (CHANNELS[q.channel] || q.channel_label))); }
    if (q.id === highlightedId) { meta.append(" "); meta.appendChild(badge(gettext("Now answering"), "warn")); }
    if (q.status === "answered") {
      meta.append(" ");
      meta.appendChild(badge(q.answer_mode === "live" ? gettext("Answered live") : gettext("Answered in writing"), "ok"));
    }
    var votes = el("span", "question-votes");
    votes.appendChild(el("span", "count", String(q.upvotes)));
    votes.append(" " + (q.upvotes === 1 ? gettext("upvote") : gettext("upvotes")));
    meta.append(" ");
    meta.appendChild(votes);
    item.appendChild(meta);
    if (q.answer_html) {
      // answer_html was produced by the server's sanitizer when the answer was stored.
      var answer = el("div", "question-answer");
      answer.innerHTML = q.answer_html;
      item.appendChild(answer);
    }
    if (q.status === "approved" && signedIn && status !== gettext("Ended") && !isOwn(q)) {
      item.appendChild(upvoteForm(q));
    }
    if (q.id === highlightedId) { item.classList.add("question--highlighted"); }
    return item;
  }

  function isOwn(q) {
    return Boolean(document.getElementById("mine" + q.id)) || ownIds[q.id] === true;
  }
  var ownIds = {};
  document.querySelectorAll("#question-list [data-own=true], #mine-list li").forEach(function (item) {
    ownIds[Number(item.dataset.id)] = true;
  });

  function upvoteForm(q) {
    var on = upvoted[q.id] === true;
    var form = el("form", "upvote-form inline");
    form.method = "post";
    form.action = root.dataset.upvoteUrl.replace(/\/0\/upvote$/, "/" + q.id + "/upvote");
    form.dataset.questionId = q.id;
    var csrf = el("input");
    csrf.type = "hidden"; csrf.name = "csrf_token"; csrf.value = root.dataset.csrf;
    var value = el("input");
    value.type = "hidden"; value.name = "value"; value.value = on ? "false" : "true";
    var button = el("button", "button button--secondary upvote", on ? gettext("Upvoted") : gettext("Upvote"));
    button.type = "submit";
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.appendChild(el("span", "visually-hidden", ": " + q.text.slice(0, 60)));
    form.append(csrf, value, button);
    return form;
  }

  // Channel labels in the reader's language: a broadcast carries only the English one.
  var CHANNELS = {
    phone: gettext("by phone"), in_person: gettext("in person"), email: gettext("by email"),
    paper: gettext("on paper")
  };

  var REASONS = {
    off_topic: gettext("Off topic for this town hall"), already_answered: gettext("Already answered"),
    offensive: gettext("Offensive or abusive"), personal_information: gettext("Contains personal information"),
    not_a_question: gettext("Not a question"), other: gettext("Other")
  };

  function ownItem(q) {
    var item = el("li", "question question--own");
    item.id = "mine" + q.id;
    item.dataset.id = q.id;
    item.appendChild(el("p", "question-text", q.text));
    var meta = el("p", "question-meta");
    if (q.status === "pending") {
      meta.appendChild(badge(gettext("Awaiting moderation"), "warn"));
    } else if (q.status === "rejected") {
      meta.appendChild(badge(gettext("Not accepted"), "danger"));
      meta.append(" " + gettext("Reason:") + " " + (REASONS[q.reject_reason] || q.reject_reason_label || gettext("Other")));
    } else if (q.status === "merged") {
      meta.appendChild(badge(gettext("Merged")));
      meta.append(" " + gettext("into a similar question; your question counts with it."));
    }
    if (q.anonymous) { meta.append(" "); meta.appendChild(badge(gettext("Anonymous"))); }
    item.appendChild(meta);
    return item;
  }

  function applyQuestion(q, seq, replayed) {
    if ((seen[q.id] || 0) >= seq) { return; }
    seen[q.id] = seq;
    var isAuthorView = Object.prototype.hasOwnProperty.call(q, "reject_reason");
    var list = document.getElementById("question-list");
    var existing = document.getElementById("q" + q.id);
    var mineList = document.getElementById("mine-list");
    var mineItem = document.getElementById("mine" + q.id);
    if (isAuthorView) { ownIds[q.id] = true; }
    if (q.status === "approved" || q.status === "answered") {
      if (mineItem) { mineItem.remove(); }
      var fresh = questionItem(q);
      if (existing) {
        keepFocus(existing, fresh);
      } else {
        list.appendChild(fresh);
        if (q.status === "approved" && !replayed) { announce(gettext("New question:") + " " + q.text); }
      }
    } else {
      if (existing) { existing.remove(); }
      if (isAuthorView && mineList) {
        var own = ownItem(q);
        if (mineItem) { mineItem.replaceWith(own); } else { mineList.prepend(own); }
        if (q.status === "rejected" && !replayed) { announce(gettext("Your question was not accepted.")); }
        if (q.status === "merged" && !replayed) { announce(gettext("Your question was merged into a similar one.")); }
      }
    }
    tidy();
  }

  function keepFocus(old, fresh) {
    var focused = old.contains(document.activeElement) ? document.activeElement : null;
    old.replaceWith(fresh);
    if (focused && focused.tagName === "BUTTON") {
      var again = fresh.querySelector("button");
      if (again) { again.focus(); }
    }
  }

  function applyTownhall(state) {
    var labels = { live: gettext("Live now"), scheduled: gettext("Scheduled"), ended: gettext("Ended") };
    var kinds = { live: "badge badge--ok", scheduled: "badge", ended: "badge badge--danger" };
    var badgeNode = document.querySelector("[data-status-badge]");
    if (badgeNode && labels[state.status]) {
      if (badgeNode.textContent !== labels[state.status]) { announce(gettext("The town hall is now:") + " " + labels[state.status] + "."); }
      badgeNode.textContent = labels[state.status];
      badgeNode.className = kinds[state.status];
    }
    status = labels[state.status];
    if (state.status === "ended") {
      document.querySelectorAll(".upvote-form").forEach(function (f) { f.remove(); });
      var askForm = document.getElementById("ask-form");
      if (askForm) { askForm.replaceWith(el("p", null, gettext("This town hall has ended; questions are closed."))); }
    }
    highlightedId = state.highlighted_id;
    var section = document.getElementById("now-answering");
    document.querySelectorAll("#question-list .question").forEach(function (item) {
      var on = Number(item.dataset.id) === highlightedId;
      item.classList.toggle("question--highlighted", on);
      var marker = item.querySelector(".badge--warn");
      if (on && !marker) {
        item.querySelector(".question-author").after(" ", badge(gettext("Now answering"), "warn"));
      } else if (!on && marker) {
        marker.remove();
      }
    });
    if (section) {
      var current = highlightedId && document.getElementById("q" + highlightedId);
      section.hidden = !current;
      if (current) {
        var text = current.querySelector(".question-text").textContent;
        document.getElementById("now-text").textContent = text;
        announce(gettext("Now answering:") + " " + text);
      }
    }
  }

  function tidy() {
    if (view !== "live") { return; }
    var list = document.getElementById("question-list");
    var items = Array.prototype.slice.call(list.children);
    items.sort(function (a, b) {
      var ua = Number(a.querySelector(".count").textContent);
      var ub = Number(b.querySelector(".count").textContent);
      if (order === "recent") { return Number(b.dataset.id) - Number(a.dataset.id); }
      return ub - ua || Number(a.dataset.id) - Number(b.dataset.id);
    });
    var changed = items.some(function (item, i) { return list.children[i] !== item; });
    if (changed) {
      var focused = document.activeElement;
      items.forEach(function (item) { list.appendChild(item); });
      if (focused && list.contains(focused)) { focused.focus(); }
    }
    document.getElementById("questions-empty").hidden = items.length > 0;
    var mine = document.getElementById("mine-list");
    if (mine) { document.getElementById("mine-section").hidden = mine.children.length === 0; }
  }

  function newClientId() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    return String(Date.now()) + Math.random().toString(16).slice(2);
  }

  function send(name, payload, done) {
    socket.timeout(15000).emit(name, payload, function (err, ack) {
      if (err) { done({ ok: false, message: gettext("No answer from the server; please try again.") }); return; }
      done(ack || { ok: false, message: gettext("No answer from the server.") });
    });
  }

  var askForm = document.getElementById("ask-form");
  if (askForm) {
    var clientField = askForm.querySelector("input[name=client_id]");
    if (clientField && !clientField.value) { clientField.value = newClientId(); }
    askForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = askForm.querySelector("textarea[name=text]");
      var anonymous = askForm.querySelector("input[name=anonymous]");
      var message = document.getElementById("ask-message");
      var button = askForm.querySelector("button[type=submit]");
      button.disabled = true;
      message.textContent = gettext("Sending…");
      send("ask", {
        townhall_id: townhallId, text: text.value,
        anonymous: Boolean(anonymous && anonymous.checked), client_id: clientField.value
      }, function (ack) {
        button.disabled = false;
        if (!ack.ok) {
          message.textContent = ack.message;
          message.className = "form-message error";
          return;
        }
        message.className = "form-message";
        message.textContent = gettext("Thank you. Your question is awaiting moderation.");
        clientField.value = newClientId();
        text.value = "";
        if (anonymous) { anonymous.checked = false; }
        if (!document.getElementById("mine" + ack.question.id) && !document.getElementById("q" + ack.question.id)) {
          ownIds[ack.question.id] = true;
          document.getElementById("mine-list").prepend(ownItem(ack.question));
          tidy();
        }
      });
    });
  }

  root.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.classList.contains("upvote-form")) {
      event.preventDefault();
      var id = Number(form.dataset.questionId);
      var value = form.querySelector("input[name=value]").value === "true";
      send("upvote", { question_id: id, value: value }, function (ack) {
        if (!ack.ok) { announce(ack.message); return; }
        upvoted[id] = ack.value;
        var item = document.getElementById("q" + id);
        if (item) {
          var button = item.querySelector(".upvote");
          button.setAttribute("aria-pressed", ack.value ? "true" : "false");
          button.firstChild.textContent = ack.value ? gettext("Upvoted") : gettext("Upvote");
          item.querySelector("input[name=value]").value = ack.value ? "false" : "true";
          item.querySelector(".count").textContent = String(ack.upvotes);
          tidy();
        }
        announce(ack.value ? gettext("Upvoted.") : gettext("Upvote taken back."));
      });
    } else if (form.classList.contains("mod-form")) {
      event.preventDefault();
      moderate(form);
    } else if (form.id === "enter-form") {
      event.preventDefault();
      enterQuestion(form);
    }
  });

  // Edits and the head count --------------------------------------------------------------
  // Every `townhall` event carries the title, the times and the in-room head count; an edit
  // also names what changed (`edited`) and brings a changed description's HTML.

  var shownTitle = null;

  function formatMoment(iso, withDate) {
    var options = withDate ? { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" }
      : { timeStyle: "short", timeZone: "UTC" };
    try { return new Intl.DateTimeFormat(document.documentElement.lang || undefined, options).format(new Date(iso)); }
    catch (error) { return iso; }
  }

  function applyEdits(state) {
    if (!state) { return; }
    var heading = document.querySelector("[data-townhall-title]");
    if (heading && state.title) {
      // The console's heading wraps the title in a translated phrase: only the title changes.
      shownTitle = shownTitle || heading.dataset.title || heading.textContent;
      if (state.title !== shownTitle) {
        heading.textContent = heading.textContent.replace(shownTitle, state.title);
        document.title = document.title.replace(shownTitle, state.title);
        shownTitle = state.title;
        heading.dataset.title = state.title;
      }
    }
    var starts = document.querySelector("[data-when] [data-starts]");
    var ends = document.querySelector("[data-when] [data-ends]");
    if (starts && state.starts_at && starts.getAttribute("datetime") !== state.starts_at) {
      starts.setAttribute("datetime", state.starts_at);
      starts.textContent = formatMoment(state.starts_at, true);
    }
    if (ends && state.ends_at && ends.getAttribute("datetime") !== state.ends_at) {
      ends.setAttribute("datetime", state.ends_at);
      ends.textContent = gettext("%(ends_at)s UTC").replace("%(ends_at)s", formatMoment(state.ends_at, false));
    }
    var description = document.getElementById("townhall-description");
    if (description && typeof state.description_html === "string") {
      // description_html was produced by the server's sanitizer when the description was stored.
      description.innerHTML = state.description_html;
      description.hidden = state.description_html === "";
    }
    if (view === "live" && "livestream_url" in state) { applyLivestream(state.livestream_url || "", state.title); }
    if (state.edited && state.edited.length) { announce(gettext("The town hall's details were updated.")); }
    var inRoom = document.getElementById("in-room");
    if (inRoom && typeof state.in_room === "number") {
      document.getElementById("in-room-count").textContent = state.in_room.toLocaleString(document.documentElement.lang || undefined);
      inRoom.hidden = false;
    }
  }

  // The server accepts only players from the allow-listed video hosts (and CSP says the same).
  function applyLivestream(url, title) {
    var stream = document.getElementById("livestream");
    var frame = stream && stream.querySelector("iframe");
    if (frame && frame.getAttribute("src") === url) { return; }
    if (!url) { if (stream) { stream.remove(); } return; }
    if (frame) { frame.src = url; return; }
    stream = el("div", "livestream");
    stream.id = "livestream";
    frame = el("iframe");
    frame.src = url;
    frame.title = gettext("Livestream of %(title)s").replace("%(title)s", title || "");
    frame.allow = "fullscreen; picture-in-picture";
    frame.referrerPolicy = "strict-origin-when-cross-origin";
    stream.appendChild(frame);
    document.getElementById("townhall-description").after(stream);
  }

  var headCountForm = document.getElementById("head-count-form");
  if (headCountForm) {
    headCountForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var raw = headCountForm.querySelector("input[name=count]").value.trim();
      send("head_count", { townhall_id: townhallId, count: /^-?[0-9]+$/.test(raw) ? Number(raw) : raw }, function (ack) {
        if (!ack.ok) { consoleMessage(ack.message, true); return; }
        consoleMessage(gettext("Head count entered:") + " " + ack.in_room, false);
      });
    });
  }

  // The moderator console and the projector -----------------------------------------------

  var partTimer = null;
  var partWanted = false;

  function busy(part) {
    var active = document.activeElement;
    if (active && part.contains(active) && /^(TEXTAREA|INPUT|SELECT)$/.test(active.tagName)) { return true; }
    return Boolean(part.querySelector("details[open]"));
  }

  function refreshPart() {
    var part = document.getElementById(view === "moderate" ? "console-live" : "projector-live");
    if (!part || !root.dataset.partUrl) { return; }
    if (busy(part)) { partWanted = true; return; }
    window.clearTimeout(partTimer);
    partTimer = window.setTimeout(function () {
      fetch(root.dataset.partUrl, { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
        .then(function (html) {
          if (busy(part)) { partWanted = true; return; }
          var focusedId = document.activeElement && part.contains(document.activeElement) ? document.activeElement.id : null;
          part.innerHTML = html;
          if (focusedId) {
            var again = document.getElementById(focusedId);
            (again || part.querySelector("h2")).focus();
          }
        })
        .catch(function () { setState("error", gettext("Could not refresh; reload the page.")); });
    }, 120);
  }

  root.addEventListener("focusout", function () {
    window.setTimeout(function () { if (partWanted) { partWanted = false; refreshPart(); } }, 0);
  });
  root.addEventListener("toggle", function () {
    if (partWanted) { partWanted = false; refreshPart(); }
  }, true);

  function consoleMessage(text, failed) {
    var message = document.getElementById("console-message");
    if (!message) { return; }
    message.className = "form-message" + (failed ? " error" : "");
    message.textContent = text;
  }

  function moderate(form) {
    var data = new FormData(form);
    var payload = { question_id: Number(form.dataset.questionId), action: data.get("action") };
    if (data.get("reason")) { payload.reason = data.get("reason"); }
    if (data.get("into_id")) { payload.into_id = Number(data.get("into_id")); }
    if (data.get("answer")) { payload.answer = data.get("answer"); }
    send("moderate", payload, function (ack) {
      if (!ack.ok) { consoleMessage(ack.message, true); return; }
      consoleMessage(gettext("Question") + " " + payload.question_id + ": " + gettext("done") + " (" + payload.action + ").", false);
      var details = form.closest("details");
      if (details) { details.open = false; }
      document.activeElement.blur();
      refreshPart();
    });
  }

  function enterQuestion(form) {
    var data = new FormData(form);
    send("enter_question", {
      townhall_id: townhallId, text: data.get("text"), channel: data.get("channel"),
      name: data.get("name") || null
    }, function (ack) {
      if (!ack.ok) { consoleMessage(ack.message, true); return; }
      consoleMessage(gettext("The question is entered and public."), false);
      form.reset();
    });
  }
}());
