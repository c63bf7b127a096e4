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

  // `poll` and `tally`: the town hall's polls (the "Polls inside the town hall" section below).
  ["question", "queue", "townhall", "poll", "tally"].forEach(function (name) {
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
      if (name === "poll") { applyPoll(data.poll, null, replayed); }
      if (name === "tally") { applyTally(data); }
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
    if (snapshot.polls) { applyPollSnapshot(snapshot.polls); }
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
    if (q.status === "approved" && signedIn && status !== gettext("Ended") && status !== gettext("Cancelled") && !isOwn(q)) {
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
      if (q.reject_explanation) { meta.append(" " + gettext("The moderator explains:") + " " + q.reject_explanation); }
    } else if (q.status === "merged") {
      meta.appendChild(badge(gettext("Merged")));
      if (q.merged_into_text && q.merged_into_id) {
        meta.append(" " + gettext("into") + " ");
        var joined = el("a", "", q.merged_into_text);
        joined.href = "#q" + q.merged_into_id;
        meta.appendChild(joined);
        meta.append(gettext("; your question counts with it."));
      } else {
        meta.append(" " + gettext("into a similar question; your question counts with it."));
      }
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
    if (state.called_off) { labels.ended = gettext("Cancelled"); }
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

  // "Already asked?" ---------------------------------------------------------------------
  // While a resident writes a question, the public questions that look like it (socket
  // `similar`, once typing pauses), each with its upvote button: the upvote-form handler below
  // sends it, and showSimilarUpvote keeps the suggestion's button in step. Asking is never
  // blocked here; the form without scripts shows the same list after a first submit.

  var SIMILAR_DELAY = 300;   // ms of quiet typing before asking
  var SIMILAR_MIN = 10;      // characters before anything is worth comparing
  var similarTimer = null;
  var similarAsked = 0;      // number of the latest look-up: older answers are dropped

  function watchSimilar(form) {
    var text = form.querySelector("textarea[name=text]");
    if (!text || !document.getElementById("similar")) { return; }
    var maxLength = Number(form.dataset.maxLength) || 0;
    text.addEventListener("input", function () {
      window.clearTimeout(similarTimer);
      similarTimer = window.setTimeout(function () { lookUpSimilar(text.value, maxLength); }, SIMILAR_DELAY);
    });
    form.addEventListener("submit", function () {
      window.clearTimeout(similarTimer);
      similarAsked += 1;
      showSimilar([]);
    });
  }

  function lookUpSimilar(value, maxLength) {
    similarAsked += 1;
    var asked = similarAsked;
    var text = value.trim();
    if (text.length < SIMILAR_MIN || (maxLength && text.length > maxLength)) { showSimilar([]); return; }
    send("similar", { townhall_id: townhallId, text: text }, function (ack) {
      if (asked !== similarAsked) { return; }
      showSimilar(ack.ok ? ack.questions : []);
    });
  }

  function showSimilar(questions) {
    var section = document.getElementById("similar");
    var list = document.getElementById("similar-list");
    if (!section || !list) { return; }
    var anyway = document.getElementById("ask-anyway-form");
    if (anyway) { anyway.remove(); }
    var before = Array.prototype.map.call(list.children, function (item) { return item.dataset.id; }).join(",");
    var focused = list.contains(document.activeElement);
    list.textContent = "";
    questions.forEach(function (q) { list.appendChild(similarItem(q)); });
    section.hidden = questions.length === 0;
    var after = questions.map(function (q) { return String(q.id); }).join(",");
    if (questions.length && after !== before && !focused) {
      announce(gettext("Already asked?") + " " + questions.length + " " + gettext("similar questions are shown below the form."));
    }
  }

  function similarItem(q) {
    var item = el("li", "question question--similar");
    item.id = "similar-q" + q.id;
    item.dataset.id = q.id;
    item.appendChild(el("p", "question-text", q.text));
    var meta = el("p", "question-meta");
    if (q.status === "answered") { meta.appendChild(badge(gettext("Answered"), "ok")); meta.append(" "); }
    var votes = el("span", "question-votes");
    votes.appendChild(el("span", "count", String(q.upvotes)));
    votes.append(" " + (q.upvotes === 1 ? gettext("upvote") : gettext("upvotes")));
    meta.appendChild(votes);
    item.appendChild(meta);
    if (q.status === "approved" && status !== gettext("Ended") && status !== gettext("Cancelled") && !isOwn(q)) {
      item.appendChild(upvoteForm(q));
    }
    return item;
  }

  function showSimilarUpvote(id, ack) {
    var item = document.getElementById("similar-q" + id);
    if (!item) { return; }
    var button = item.querySelector(".upvote");
    if (button) {
      button.setAttribute("aria-pressed", ack.value ? "true" : "false");
      button.firstChild.textContent = ack.value ? gettext("Upvoted") : gettext("Upvote");
      item.querySelector("input[name=value]").value = ack.value ? "false" : "true";
    }
    item.querySelector(".count").textContent = String(ack.upvotes);
  }

  if (askForm) { watchSimilar(askForm); }

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
        showSimilarUpvote(id, ack);
        announce(ack.value ? gettext("Upvoted.") : gettext("Upvote taken back."));
      });
    } else if (form.classList.contains("mod-form")) {
      event.preventDefault();
      moderate(form);
    } else if (form.id === "enter-form") {
      event.preventDefault();
      enterQuestion(form);
    } else if (form.classList.contains("poll-vote-form")) {
      if (!socket.connected) { return; }   // the plain form post still works
      event.preventDefault();
      votePoll(form);
    } else if (form.classList.contains("poll-control-form")) {
      // On the live page (officials) the plain post reloads the panel with the page.
      if (!socket.connected || view !== "moderate") { return; }
      event.preventDefault();
      controlPoll(form);
    }
  });

  // Edits and the head count --------------------------------------------------------------
  // Every `townhall` event carries the title, the times and the in-room head count; an edit
  // also names what changed (`edited`) and brings a changed description's HTML.

  var shownTitle = null;

  // Times are shown in the site's zone (SITE_TIMEZONE, on <html data-time-zone>), with its name.
  function formatMoment(iso, withDate) {
    var zone = document.documentElement.dataset.timeZone || "UTC";
    var options = { hour: "numeric", minute: "2-digit", timeZone: zone, timeZoneName: "short" };
    if (withDate) { options.year = "numeric"; options.month = "short"; options.day = "numeric"; }
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
      ends.textContent = formatMoment(state.ends_at, false);
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
      var correction = headCountForm.querySelector("input[name=correction]");
      send("head_count", { townhall_id: townhallId, count: /^-?[0-9]+$/.test(raw) ? Number(raw) : raw,
                           correction: Boolean(correction && correction.checked) }, function (ack) {
        if (!ack.ok) { consoleMessage(ack.message, true); return; }
        if (correction) { correction.checked = false; }
        consoleMessage(gettext("Head count entered:") + " " + ack.in_room, false);
      });
    });
  }

  // The moderator console and the projector -----------------------------------------------

  var partTimer = null;

  // The changing part is fetched again on every change, also while a panel is open or a field
  // is being typed in: what was open, typed, chosen and focused is carried into the new copy by
  // id (the console's ids are unique), so the lists never go stale and nothing typed is lost.
  function partState(part) {
    var state = { open: [], fields: [], focus: null };
    part.querySelectorAll("details[open][id]").forEach(function (d) { state.open.push(d.id); });
    part.querySelectorAll("input[id], textarea[id], select[id]").forEach(function (field) {
      if (field.type === "hidden") { return; }
      state.fields.push({ id: field.id, value: field.value, checked: field.checked });
    });
    var active = document.activeElement;
    if (active && active !== part && part.contains(active)) {
      state.focus = { id: active.id, start: active.selectionStart, end: active.selectionEnd };
    }
    return state;
  }

  function restorePart(part, state) {
    state.open.forEach(function (id) {
      var details = document.getElementById(id);
      if (details && part.contains(details)) { details.open = true; }
    });
    state.fields.forEach(function (saved) {
      var field = document.getElementById(saved.id);
      if (!field || !part.contains(field)) { return; }
      if (field.type === "checkbox" || field.type === "radio") { field.checked = saved.checked; return; }
      if (field.tagName === "SELECT" && !field.querySelector('option[value="' + CSS.escape(saved.value) + '"]')) { return; }
      field.value = saved.value;
    });
    showMergeFinders(part);
    if (state.focus) {
      var again = state.focus.id && document.getElementById(state.focus.id);
      if (again && part.contains(again)) {
        again.focus();
        if (typeof state.focus.start === "number" && again.setSelectionRange) {
          try { again.setSelectionRange(state.focus.start, state.focus.end); } catch (e) { /* not a text field */ }
        }
      } else {
        (part.querySelector("h2") || part).focus();
      }
    }
  }

  function refreshPart() {
    var part = document.getElementById(view === "moderate" ? "console-live" : "projector-live");
    if (!part || !root.dataset.partUrl) { return; }
    window.clearTimeout(partTimer);
    partTimer = window.setTimeout(function () {
      fetch(root.dataset.partUrl, { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
        .then(function (html) {
          var state = partState(part);
          part.innerHTML = html;
          restorePart(part, state);
        })
        .catch(function () { setState("error", gettext("Could not refresh; reload the page.")); });
    }, 120);
  }

  // The merge picker: a search field (shown with scripts) narrows the list of questions.
  function filterMergePicker(input) {
    var select = document.getElementById(input.dataset.for);
    if (!select) { return; }
    var words = input.value.trim().toLowerCase();
    var first = null;
    select.querySelectorAll("option").forEach(function (option) {
      if (!option.value) { return; }
      var shown = !words || option.textContent.toLowerCase().indexOf(words) !== -1;
      option.hidden = !shown;
      if (shown && !first) { first = option; }
    });
    var chosen = select.selectedOptions[0];
    if (words && (!chosen || chosen.hidden || !chosen.value)) { select.value = first ? first.value : ""; }
  }

  function showMergeFinders(scope) {
    scope.querySelectorAll(".merge-find").forEach(function (p) { p.hidden = false; });
    scope.querySelectorAll(".merge-find-input").forEach(function (input) {
      if (input.value) { filterMergePicker(input); }
    });
  }

  root.addEventListener("input", function (event) {
    if (event.target.classList && event.target.classList.contains("merge-find-input")) {
      filterMergePicker(event.target);
    }
  });
  if (view === "moderate") { showMergeFinders(root); }

  function consoleMessage(text, failed) {
    var message = document.getElementById("console-message");
    if (!message) { return; }
    message.className = "form-message" + (failed ? " error" : "");
    message.textContent = text;
  }

  var DONE = {
    approve: gettext("approved"), reject: gettext("rejected"), merge: gettext("merged"),
    answer: gettext("marked answered"), highlight: gettext("highlight changed")
  };

  function moderate(form) {
    var data = new FormData(form);
    var payload = { question_id: Number(form.dataset.questionId), action: data.get("action") };
    if (data.get("reason")) { payload.reason = data.get("reason"); }
    if (data.get("into_id")) { payload.into_id = Number(data.get("into_id")); }
    if (data.get("answer")) { payload.answer = data.get("answer"); }
    if (data.get("explanation")) { payload.explanation = data.get("explanation"); }
    send("moderate", payload, function (ack) {
      // Refused or not: show what is true now, not what the page showed when it was sent.
      if (!ack.ok) { consoleMessage(ack.message, true); refreshPart(); return; }
      consoleMessage(gettext("Question") + " " + payload.question_id + ": " + (DONE[payload.action] || gettext("done")) + ".", false);
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
  // Polls inside the town hall ------------------------------------------------------------
  // The live page draws the open polls with their ballot and the final results of the ones
  // closed during the meeting, from the snapshot and the room's `poll` and `tally` events; the
  // markup is the server's (templates/townhall/_polls.html). Votes go over the socket (`vote`),
  // and the console's buttons over `poll_control`; without a connection the forms post.

  var pollSection = document.getElementById("townhall-polls");
  var POLL_NOTICES = {
    after_close: gettext("Results are shown once the poll closes."),
    hidden: gettext("Results are shown once an official releases them after the poll closes.")
  };
  var CONTROL_DONE = {
    open: gettext("The poll is open for voting."), close: gettext("The poll is closed."),
    release: gettext("The results are public.")
  };

  function pollLabels(card) {
    var labels = {};
    try {
      JSON.parse(card.dataset.options || "[]").forEach(function (pair) { labels[pair[0]] = pair[1]; });
    } catch (error) { labels = {}; }
    return labels;
  }

  function pollBar(label, value, percent) {
    var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("class", "bar-track poll-bar");
    svg.setAttribute("viewBox", "0 0 100 10");
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var rect = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    rect.setAttribute("class", "bar-fill");
    rect.setAttribute("height", "10");
    rect.setAttribute("width", String(percent));
    svg.appendChild(rect);
    var item = el("li", "bar");
    item.append(el("span", "bar-label", label), svg,
      el("span", "bar-figure", value + " " + (value === 1 ? gettext("vote") : gettext("votes")) + " (" + percent + "%)"));
    return item;
  }

  function pollResults(box, poll, labels) {
    var closed = poll.status === "closed";
    var parts = [el("h4", null, closed ? gettext("Final result") : gettext("Results so far"))];
    var results = poll.results;
    if (!results) {
      parts.push(el("p", "poll-notice", POLL_NOTICES[poll.results_mode] || gettext(poll.results_notice || "")));
    } else {
      var turnout = el("p", "turnout");
      turnout.append(el("strong", "ballot-count", String(results.ballots)),
        " " + (results.ballots === 1 ? gettext("ballot cast.") : gettext("ballots cast.")));
      parts.push(turnout);
      if (results.kind === "ranked" && results.winner !== null && results.winner !== undefined) {
        var winner = el("p", "winner", (closed ? gettext("Winner:") : gettext("Leading:")) + " ");
        winner.appendChild(el("strong", null, labels[results.winner] || ""));
        parts.push(winner);
      }
      var bars = el("ul", "bars");
      results.options.forEach(function (item) {
        bars.appendChild(pollBar(labels[item.id] || "", results.kind === "ranked" ? item.first_preferences : item.votes, item.percent));
      });
      parts.push(bars);
    }
    box.replaceChildren.apply(box, parts);
  }

  function pollKindText(poll) {
    if (poll.kind === "single") { return gettext("Choose one option"); }
    if (poll.kind === "multiple") {
      return poll.max_choices ? gettext("Choose up to %s options").replace("%s", poll.max_choices) : gettext("Choose any options you approve of");
    }
    return gettext("Rank the options: 1 for your first choice") + (poll.max_choices ? " " + gettext("(up to %s)").replace("%s", poll.max_choices) : "");
  }

  function pollForm(poll, receipt) {
    var form = el("form", "vote-form poll-vote-form");
    form.method = "post";
    form.noValidate = true;
    form.action = pollSection.dataset.voteUrl.replace(/\/0$/, "/" + poll.id);
    form.dataset.pollId = poll.id;
    [["csrf_token", root.dataset.csrf], ["next", pollSection.dataset.next]].forEach(function (pair) {
      var input = el("input");
      input.type = "hidden"; input.name = pair[0]; input.value = pair[1];
      form.appendChild(input);
    });
    var fieldset = el("fieldset");
    fieldset.appendChild(el("legend", null, pollKindText(poll)));
    poll.options.forEach(function (option) {
      if (poll.kind === "ranked") {
        var row = el("div", "rank-row");
        var label = el("label", null, option.label);
        label.htmlFor = "rank-" + option.id;
        var select = el("select");
        select.id = "rank-" + option.id; select.name = "rank-" + option.id;
        select.dataset.optionId = option.id;
        var none = el("option", null, gettext("Not ranked"));
        none.value = "";
        select.appendChild(none);
        for (var n = 1; n <= (poll.max_choices || poll.options.length); n += 1) {
          var choice = el("option", null, String(n));
          choice.value = String(n);
          select.appendChild(choice);
        }
        row.append(label, select);
        fieldset.appendChild(row);
      } else {
        var check = el("label", "check");
        var input = el("input");
        input.type = poll.kind === "single" ? "radio" : "checkbox";
        input.name = "choice"; input.value = String(option.id);
        check.append(input, " " + option.label);
        fieldset.appendChild(check);
      }
    });
    var button = el("button", "button", receipt ? gettext("Change my vote") : gettext("Cast my vote"));
    button.type = "submit";
    var statusText = el("p", "vote-status");
    statusText.setAttribute("role", "status");
    form.append(fieldset, button, statusText);
    return form;
  }

  function pollCard(poll, receipt) {
    var card = el("article", "card townhall-poll");
    card.id = "poll-" + poll.id;
    card.dataset.pollId = poll.id;
    card.dataset.status = poll.status;
    card.dataset.kind = poll.kind;
    card.dataset.options = JSON.stringify(poll.options.map(function (o) { return [o.id, o.label]; }));
    if (receipt) { card.dataset.receipt = receipt; }
    card.setAttribute("aria-labelledby", "poll-" + poll.id + "-question");
    var heading = el("h3", null, poll.question);
    heading.id = "poll-" + poll.id + "-question";
    var meta = el("p", "poll-meta");
    var page = el("a", null, gettext("The poll's page"));
    page.href = pollSection.dataset.pollUrl.replace(/\/0$/, "/" + poll.id);
    meta.append(poll.status === "open" ? badge(gettext("Open"), "ok") : badge(gettext("Closed")), " ", page);
    var receiptLine = el("p", "poll-receipt", gettext("Your ballot is in the count. Your receipt code:") + " ");
    receiptLine.appendChild(el("strong", "receipt", receipt || ""));
    receiptLine.hidden = !receipt;
    // What a receipt proves and reveals in this poll: the same words as the page's.
    var secrecy = el("p", "poll-secrecy muted", poll.ballot_secrecy === "secret"
      ? gettext("A receipt proves its ballot is in the count and reveals nothing of how it was cast, here or in the published ballots. Only the voter, signed in, sees their choices on the poll's page.")
      : gettext("A receipt proves its ballot is in the count and, through the published ballots, shows how it was cast: anyone who holds the code can see that vote. Keep it to yourself."));
    secrecy.dataset.secrecy = poll.ballot_secrecy;
    card.append(heading, meta, receiptLine, secrecy);
    if (poll.status === "open") {
      if (signedIn) {
        card.appendChild(pollForm(poll, receipt));
      } else {
        var signIn = el("p");
        var link = el("a", null, gettext("Sign in"));
        link.href = pollSection.dataset.signInUrl;
        signIn.append(link, " " + gettext("to vote."));
        card.appendChild(signIn);
      }
    } else {
      card.appendChild(el("p", null, gettext("Voting has closed.")));
    }
    var box = el("div", "poll-results");
    box.id = "poll-" + poll.id + "-results";
    pollResults(box, poll, pollLabels(card));
    card.appendChild(box);
    return card;
  }

  function applyPoll(poll, receipt, replayed) {
    if (!pollSection || !poll) { return; }
    var list = document.getElementById("poll-cards");
    var existing = document.getElementById("poll-" + poll.id);
    receipt = receipt || (existing && existing.dataset.receipt) || null;
    if (poll.status !== "open" && poll.status !== "closed") { if (existing) { existing.remove(); } return; }
    if (existing && existing.dataset.status === poll.status) {
      // Same state (a release, or a replay): only the results change; a half-filled ballot stays.
      pollResults(existing.querySelector(".poll-results"), poll, pollLabels(existing));
      return;
    }
    var fresh = pollCard(poll, receipt);
    if (existing) {
      existing.replaceWith(fresh);
    } else if (poll.status === "open") {
      list.prepend(fresh);
    } else {
      list.appendChild(fresh);
    }
    pollSection.hidden = false;
    if (!replayed) {
      announce((poll.status === "open" ? gettext("A poll is open:") : gettext("The poll has closed:")) + " " + poll.question);
    }
  }

  function applyTally(data) {
    var card = document.getElementById("poll-" + data.poll_id);
    if (!card || !data.results) { return; }
    pollResults(card.querySelector(".poll-results"), {
      status: data.status === "closed" ? "closed" : card.dataset.status, results: data.results
    }, pollLabels(card));
  }

  function applyPollSnapshot(polls) {
    if (!pollSection) { return; }
    var wanted = {};
    polls.forEach(function (poll) { wanted[poll.id] = true; });
    document.querySelectorAll("#poll-cards .townhall-poll").forEach(function (card) {
      if (!wanted[Number(card.dataset.pollId)]) { card.remove(); }
    });
    polls.forEach(function (poll) { applyPoll(poll, poll.receipt, true); });
    pollSection.hidden = polls.length === 0;
  }

  function readBallot(form) {
    var selects = form.querySelectorAll("select[data-option-id]");
    if (selects.length) {
      var ranked = [];
      var taken = {};
      for (var i = 0; i < selects.length; i += 1) {
        var rank = selects[i].value;
        if (!rank) { continue; }
        if (taken[rank]) { return { error: gettext("Give each rank to one option only.") }; }
        taken[rank] = true;
        ranked.push({ rank: Number(rank), id: Number(selects[i].dataset.optionId) });
      }
      ranked.sort(function (a, b) { return a.rank - b.rank; });
      return { choices: ranked.map(function (item) { return item.id; }) };
    }
    return { choices: Array.prototype.map.call(form.querySelectorAll("input[name=choice]:checked"),
      function (input) { return Number(input.value); }) };
  }

  function votePoll(form) {
    var card = form.closest(".townhall-poll");
    var line = form.querySelector(".vote-status");
    var button = form.querySelector("button[type=submit]");
    var read = readBallot(form);
    function say(text, failed) { line.textContent = text; line.classList.toggle("error", Boolean(failed)); }
    if (read.error) { say(read.error, true); return; }
    button.disabled = true;
    say(gettext("Sending your vote…"));
    send("vote", { poll_id: Number(form.dataset.pollId), choices: read.choices, client_id: newClientId() }, function (ack) {
      button.disabled = false;
      if (!ack.ok) { say(ack.message || gettext("Your vote was not counted."), true); return; }
      say((ack.replaced ? gettext("Your ballot is changed.") : gettext("Your vote is counted.")) + " " +
        gettext("Your receipt code is %s; keep it to check your ballot is in the count.").replace("%s", ack.receipt));
      card.dataset.receipt = ack.receipt;
      var receiptLine = card.querySelector(".poll-receipt");
      receiptLine.querySelector(".receipt").textContent = ack.receipt;
      receiptLine.hidden = false;
      button.textContent = gettext("Change my vote");
    });
  }

  function controlPoll(form) {
    var action = form.dataset.action;
    send("poll_control", { poll_id: Number(form.dataset.pollId), action: action, townhall_id: townhallId }, function (ack) {
      if (!ack.ok) { consoleMessage(ack.message, true); refreshPart(); return; }
      consoleMessage(CONTROL_DONE[action] || gettext("done"), false);
      refreshPart();
    });
  }
}());
