// A poll held in a town hall, made live: the page joins the town hall's room and redraws the
// results when a `tally` arrives, and votes go over the socket with a client id so that a
// retried vote counts once. Without JavaScript the plain form and a reload do the same.
(function () {
  "use strict";

  var root = document.getElementById("poll");
  if (!root || typeof window.io !== "function" || !root.dataset.townhallId) {
    return;
  }
  var messages = {};
  try { messages = JSON.parse(root.dataset.messages || "{}"); } catch (error) { messages = {}; }
  // The page's language: the server passes this script's messages, translated, in data-messages.
  function gettext(text) { return messages[text] || text; }

  var pollId = Number(root.dataset.pollId);
  var townhallId = Number(root.dataset.townhallId);
  var kind = root.dataset.kind;
  var labels = {};
  JSON.parse(root.dataset.options || "[]").forEach(function (option) {
    labels[option.id] = option.label;
  });
  var resultsBox = document.getElementById("poll-results");
  var tallyStatus = root.querySelector(".tally-status");
  var form = root.querySelector(".vote-form");
  var voteStatus = root.querySelector(".vote-status");
  var lastSeq = null;
  var lastAnnounced = 0;

  var socket = window.io("/townhall", { transports: ["websocket", "polling"] });

  socket.on("connect", function () {
    var payload = { townhall_id: townhallId };
    if (lastSeq !== null) {
      payload.since = lastSeq;
    }
    socket.emit("join", payload, function (ack) {
      if (!ack || !ack.ok) {
        return;
      }
      // After a reconnect the ack replays what was missed; the latest tally is what matters.
      (ack.events || []).forEach(function (missed) {
        if (missed.event === "tally") {
          onTally(missed.data);
        }
      });
      if (typeof ack.seq === "number") {
        lastSeq = Math.max(lastSeq || 0, ack.seq);
      }
    });
    root.dataset.connected = "true";
  });
  socket.on("disconnect", function () {
    root.dataset.connected = "false";
  });

  socket.on("tally", onTally);
  // Signed out, suspended or given another role: the server closed the connection; start again.
  socket.on("session_ended", function () { window.location.reload(); });

  function onTally(message) {
    if (!message || message.poll_id !== pollId || !message.results) {
      return;
    }
    if (typeof message.seq === "number") {
      lastSeq = Math.max(lastSeq || 0, message.seq);
    }
    if (resultsBox && root.dataset.live === "true") {
      render(message.results);
      announce(message.results);
    }
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  var WORDS = {
    vote: [gettext("vote"), gettext("votes")],
    ballot: [gettext("ballot"), gettext("ballots")],
    round: [gettext("round"), gettext("rounds")]
  };

  function plural(n, word) {
    var forms = WORDS[word] || [word, word + "s"];
    return n + " " + (n === 1 ? forms[0] : forms[1]);
  }

  function bar(label, value, percent) {
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
    return el("li", { "class": "bar" }, [
      el("span", { "class": "bar-label" }, [label]),
      svg,
      el("span", { "class": "bar-figure" }, [plural(value, "vote") + " (" + percent + "%)"])
    ]);
  }

  function render(results) {
    var parts = [el("p", { "class": "turnout" }, [
      el("strong", { "class": "ballot-count" }, [String(results.ballots)]),
      " " + (results.ballots === 1 ? gettext("ballot cast.") : gettext("ballots cast."))
    ])];
    if (results.kind === "ranked") {
      if (results.winner !== null) {
        parts.push(el("p", { "class": "winner" }, [
          gettext("Leading after") + " " + plural(results.rounds.length, "round") + ": ",
          el("strong", {}, [labels[results.winner] || ""])
        ]));
      }
      parts.push(el("h3", {}, [gettext("First preferences")]));
      parts.push(el("ul", { "class": "bars" }, results.options.map(function (item) {
        return bar(labels[item.id], item.first_preferences, item.percent);
      })));
      results.rounds.forEach(function (round) {
        var text = round.continuing_ballots + " " + gettext("continuing,") + " " +
          round.exhausted + " " + gettext("exhausted.");
        if (round.eliminated !== null) {
          text += " " + labels[round.eliminated] + " " + gettext("is eliminated.");
        }
        parts.push(el("section", { "class": "round" }, [
          el("h4", {}, [gettext("Round") + " " + round.round]),
          el("ul", { "class": "bars" }, round.counts.map(function (item) {
            return bar(labels[item.id], item.votes, item.percent);
          })),
          el("p", {}, [text])
        ]));
      });
    } else {
      parts.push(el("ul", { "class": "bars" }, results.options.map(function (item) {
        return bar(labels[item.id], item.votes, item.percent);
      })));
    }
    resultsBox.replaceChildren.apply(resultsBox, parts);
  }

  function announce(results) {
    // Screen readers hear the count at most every few seconds, not every push.
    var now = Date.now();
    if (tallyStatus && now - lastAnnounced > 5000) {
      lastAnnounced = now;
      tallyStatus.textContent = gettext("Results updated:") + " " + plural(results.ballots, "ballot") + ".";
    }
  }

  function newClientId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    return "c" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function readChoices() {
    if (kind === "ranked") {
      var ranked = [];
      var seen = {};
      var selects = form.querySelectorAll("select[data-option-id]");
      for (var i = 0; i < selects.length; i += 1) {
        var rank = selects[i].value;
        if (!rank) {
          continue;
        }
        if (seen[rank]) {
          return { error: gettext("Give each rank to one option only.") };
        }
        seen[rank] = true;
        ranked.push({ rank: Number(rank), id: Number(selects[i].dataset.optionId) });
      }
      ranked.sort(function (a, b) { return a.rank - b.rank; });
      return { choices: ranked.map(function (item) { return item.id; }) };
    }
    var marked = form.querySelectorAll("input[name=choice]:checked");
    return { choices: Array.prototype.map.call(marked, function (input) {
      return Number(input.value);
    }) };
  }

  function say(text, isError) {
    voteStatus.textContent = text;
    voteStatus.classList.toggle("error", Boolean(isError));
  }

  function sendVote(payload, attempt, button) {
    socket.timeout(5000).emit("vote", payload, function (err, ack) {
      if (err) {
        if (attempt < 3) {
          say(gettext("Still sending your vote…"));
          sendVote(payload, attempt + 1, button);
        } else {
          button.disabled = false;
          say(gettext("Your vote could not be sent. Check your connection and try again."), true);
        }
        return;
      }
      button.disabled = false;
      if (ack && ack.ok) {
        say((ack.replaced ? gettext("Your ballot is changed.") : gettext("Your vote is counted.")) + " " +
            gettext("Your receipt code is %s; keep it to check your ballot is in the count.")
              .replace("%s", ack.receipt));
        button.textContent = gettext("Change my vote");
      } else {
        say((ack && ack.message) || gettext("Your vote was not counted."), true);
      }
    });
  }

  if (form && voteStatus) {
    form.addEventListener("submit", function (event) {
      if (!socket.connected) {
        return; // the plain form post still works
      }
      event.preventDefault();
      var read = readChoices();
      if (read.error) {
        say(read.error, true);
        return;
      }
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      say(gettext("Sending your vote…"));
      sendVote({ poll_id: pollId, choices: read.choices, client_id: newClientId() }, 1, button);
    });
  }
}());
