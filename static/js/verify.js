// Verify the decision chain in the page: the README's algorithm (the same rules, in the same
// order, with the same messages as `participation verify`) for the records and then for the
// commitment updates chain of a version 2 export, over the export downloaded from the site,
// hashed with the browser's own SHA-256 (Web Crypto). No library: the JSON is parsed here
// so that whole numbers stay exact and a fraction is refused as the command refuses it, and the
// canonical JSON is written here byte for byte as Python's
// json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False) writes it.
// Web Crypto needs a secure context (https, or http on 127.0.0.1 / localhost); elsewhere the
// page says so and points to the command. Without JavaScript the buttons stay hidden.
(function () {
  "use strict";

  var GENESIS = "0000000000000000000000000000000000000000000000000000000000000000";
  var FORMAT = "participation-decision-chain";
  // Version 2 adds the "updates" chain (progress on commitments); version 1 files have none.
  var READABLE_VERSIONS = [1, 2];
  var UPDATE_STATUSES = ["on_track", "delayed", "done", "dropped"];
  var CLOSING_STATUSES = ["done", "dropped"]; // after one of these, a commitment takes no more
  var MAX_SAFE = BigInt("9007199254740991");
  var MAX_DEPTH = 900; // Python's parser gives up near its recursion limit of 1000

  function Unreadable(message) { this.message = message; }
  function NotCanonical(message) { this.message = message; }

  // ---- JSON as Python's json.loads reads it: integers exact (BigInt), objects as Maps ----

  function parseJSON(text) {
    var at = 0;
    var depth = 0;

    function fail(what) { throw new Unreadable("not valid JSON: " + what + " at character " + at); }
    function space() {
      while (at < text.length) {
        var c = text.charCodeAt(at);
        if (c === 32 || c === 9 || c === 10 || c === 13) { at += 1; } else { break; }
      }
    }
    function value() {
      space();
      if (at >= text.length) { fail("Expecting value"); }
      var c = text[at];
      if (c === "{") { return object(); }
      if (c === "[") { return array(); }
      if (c === "\"") { return string(); }
      if (text.startsWith("true", at)) { at += 4; return true; }
      if (text.startsWith("false", at)) { at += 5; return false; }
      if (text.startsWith("null", at)) { at += 4; return null; }
      var constant = /^(NaN|-?Infinity)/.exec(text.slice(at, at + 9));
      if (constant) { throw new Unreadable(constant[1] + " is not JSON"); }
      return number();
    }
    function nest() {
      depth += 1;
      if (depth > MAX_DEPTH) { throw new Unreadable("nests JSON too deeply to be an export"); }
    }
    function object() {
      nest();
      var result = new Map();
      at += 1;
      space();
      if (text[at] === "}") { at += 1; depth -= 1; return result; }
      for (;;) {
        space();
        if (text[at] !== "\"") { fail("Expecting property name enclosed in double quotes"); }
        var key = string();
        space();
        if (text[at] !== ":") { fail("Expecting ':' delimiter"); }
        at += 1;
        result.set(key, value()); // a repeated key keeps its first place and its last value
        space();
        if (text[at] === ",") { at += 1; continue; }
        if (text[at] === "}") { at += 1; depth -= 1; return result; }
        fail("Expecting ',' delimiter");
      }
    }
    function array() {
      nest();
      var result = [];
      at += 1;
      space();
      if (text[at] === "]") { at += 1; depth -= 1; return result; }
      for (;;) {
        result.push(value());
        space();
        if (text[at] === ",") { at += 1; continue; }
        if (text[at] === "]") { at += 1; depth -= 1; return result; }
        fail("Expecting ',' delimiter");
      }
    }
    var ESCAPES = { "\"": "\"", "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
    function string() {
      at += 1;
      var out = "";
      for (;;) {
        if (at >= text.length) { fail("Unterminated string"); }
        var c = text[at];
        if (c === "\"") { at += 1; return out; }
        if (text.charCodeAt(at) < 32) { fail("Invalid control character"); }
        if (c !== "\\") { out += c; at += 1; continue; }
        var e = text[at + 1];
        if (e === "u") {
          var hex = text.slice(at + 2, at + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) { fail("Invalid \\uXXXX escape"); }
          out += String.fromCharCode(parseInt(hex, 16));
          at += 6;
        } else if (Object.prototype.hasOwnProperty.call(ESCAPES, e)) {
          out += ESCAPES[e];
          at += 2;
        } else {
          fail("Invalid \\escape");
        }
      }
    }
    function number() {
      var NUMBER = /(-?(?:0|[1-9][0-9]*))(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;
      NUMBER.lastIndex = at;
      var match = NUMBER.exec(text);
      if (!match) { fail("Expecting value"); }
      at += match[0].length;
      if (match[2] || match[3]) {
        throw new Unreadable("the number " + match[0] + " is not a whole number; records hold none");
      }
      if (match[1].replace("-", "").length > 4300) {
        throw new Unreadable("an integer has more than 4300 digits");
      }
      return BigInt(match[1]);
    }

    var result = value();
    space();
    if (at !== text.length) { fail("Extra data"); }
    return result;
  }

  // ---- Python's view of these values: equality, truth, str() and repr() ----

  function isInt(v) { return typeof v === "bigint"; }
  function isMap(v) { return v instanceof Map; }
  function numeric(v) {
    if (typeof v === "bigint") { return v; }
    if (typeof v === "boolean") { return v ? BigInt(1) : BigInt(0); } // True == 1 in Python
    return null;
  }
  function sameNumber(v, n) { var x = numeric(v); return x !== null && x === BigInt(n); }
  function truthy(v) {
    if (v === null || v === undefined || v === false) { return false; }
    if (typeof v === "bigint") { return v !== BigInt(0); }
    if (typeof v === "string" || Array.isArray(v)) { return v.length > 0; }
    if (isMap(v)) { return v.size > 0; }
    return true;
  }
  function get(map, key) { return map.has(key) ? map.get(key) : null; }

  var UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;
  function reprString(s) {
    var quote = s.indexOf("'") >= 0 && s.indexOf("\"") < 0 ? "\"" : "'";
    var out = quote;
    for (var i = 0; i < s.length;) {
      var cp = s.codePointAt(i);
      var ch = String.fromCodePoint(cp);
      i += ch.length;
      if (ch === "\\" || ch === quote) { out += "\\" + ch; }
      else if (ch === "\n") { out += "\\n"; }
      else if (ch === "\r") { out += "\\r"; }
      else if (ch === "\t") { out += "\\t"; }
      else if (ch !== " " && UNPRINTABLE.test(ch)) {
        var hex = cp.toString(16);
        if (cp < 0x100) { out += "\\x" + hex.padStart(2, "0"); }
        else if (cp < 0x10000) { out += "\\u" + hex.padStart(4, "0"); }
        else { out += "\\U" + hex.padStart(8, "0"); }
      } else { out += ch; }
    }
    return out + quote;
  }
  function repr(v) {
    if (v === null || v === undefined) { return "None"; }
    if (v === true) { return "True"; }
    if (v === false) { return "False"; }
    if (typeof v === "bigint") { return v.toString(); }
    if (typeof v === "string") { return reprString(v); }
    if (Array.isArray(v)) { return "[" + v.map(repr).join(", ") + "]"; }
    var parts = [];
    v.forEach(function (item, key) { parts.push(reprString(key) + ": " + repr(item)); });
    return "{" + parts.join(", ") + "}";
  }
  function str(v) { return typeof v === "string" ? v : repr(v); }
  // Iterating a value as Python's `for x in value` does; null when Python would raise.
  function items(v) {
    if (Array.isArray(v)) { return v; }
    if (typeof v === "string") { return Array.from(v); }
    if (isMap(v)) { return Array.from(v.keys()); }
    return null;
  }
  function hashable(v) {
    if (typeof v === "bigint" || typeof v === "boolean") { return "i" + numeric(v).toString(); }
    if (typeof v === "string") { return "s" + v; }
    if (v === null || v === undefined) { return "n"; }
    return null; // lists and objects: Python cannot look them up
  }

  // ---- Canonical JSON, as chain.py writes it ----

  function checkCanonical(v, path) {
    if (typeof v === "bigint") {
      if (v > MAX_SAFE || v < -MAX_SAFE) {
        throw new NotCanonical(path + ": integer " + v.toString() + " is outside +/-(2**53 - 1)");
      }
    } else if (Array.isArray(v)) {
      v.forEach(function (item, index) { checkCanonical(item, path + "[" + index + "]"); });
    } else if (isMap(v)) {
      v.forEach(function (item, key) { checkCanonical(item, path + "." + key); });
    }
  }
  function byCodePoint(a, b) {
    var i = 0;
    var j = 0;
    while (i < a.length && j < b.length) {
      var x = a.codePointAt(i);
      var y = b.codePointAt(j);
      if (x !== y) { return x < y ? -1 : 1; }
      i += x > 0xffff ? 2 : 1;
      j += y > 0xffff ? 2 : 1;
    }
    if (i < a.length) { return 1; }
    return j < b.length ? -1 : 0;
  }
  var NAMED = { "\"": "\\\"", "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t" };
  function quote(s) {
    return "\"" + s.replace(/["\\\u0000-\u001f]/g, function (c) {
      return NAMED[c] || "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0");
    }) + "\"";
  }
  function write(v) {
    if (v === null) { return "null"; }
    if (v === true) { return "true"; }
    if (v === false) { return "false"; }
    if (typeof v === "bigint") { return v.toString(); }
    if (typeof v === "string") { return quote(v); }
    if (Array.isArray(v)) { return "[" + v.map(write).join(",") + "]"; }
    var keys = Array.from(v.keys()).sort(byCodePoint);
    return "{" + keys.map(function (key) { return quote(key) + ":" + write(v.get(key)); }).join(",") + "}";
  }
  function canonicalJSON(v) {
    checkCanonical(v, "$");
    var text = write(v);
    // UTF-8 cannot encode a lone surrogate (a \ud800 escape without its pair): Python refuses it.
    var position = 0;
    for (var i = 0; i < text.length; position += 1) {
      var cp = text.codePointAt(i);
      if (cp >= 0xd800 && cp <= 0xdfff) {
        var end = position;
        var k = i + 1;
        while (k < text.length) {
          var next = text.codePointAt(k);
          if (next < 0xd800 || next > 0xdfff) { break; }
          end += 1;
          k += 1;
        }
        throw new NotCanonical(end === position
          ? "'utf-8' codec can't encode character " + reprString(String.fromCharCode(cp)) +
            " in position " + position + ": surrogates not allowed"
          : "'utf-8' codec can't encode characters in position " + position + "-" + end +
            ": surrogates not allowed");
      }
      i += cp > 0xffff ? 2 : 1;
    }
    return text;
  }

  function sha256hex(text) {
    return window.crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)).then(function (buffer) {
      return Array.from(new Uint8Array(buffer), function (b) { return b.toString(16).padStart(2, "0"); }).join("");
    });
  }
  function isHash(v) { return typeof v === "string" && /^[0-9a-f]{64}$/.test(v); }

  // ---- The export and the chain, as verify.py checks them ----

  function loadExport(bytes) {
    var text;
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch (error) {
      throw new Unreadable("not UTF-8 text");
    }
    var data;
    try {
      data = parseJSON(text);
    } catch (error) {
      if (error instanceof Unreadable) { throw error; }
      throw new Unreadable("nests JSON too deeply to be an export");
    }
    if (!isMap(data) || !Array.isArray(get(data, "records"))) {
      throw new Unreadable("not a decision-chain export (no \"records\" list)");
    }
    var format = data.has("format") ? data.get("format") : FORMAT;
    if (format !== FORMAT) {
      throw new Unreadable("has format " + repr(format) + ", not " + repr(FORMAT));
    }
    var version = data.has("version") ? data.get("version") : BigInt(1);
    if (!READABLE_VERSIONS.some(function (readable) { return sameNumber(version, readable); })) {
      throw new Unreadable("has version " + repr(version) + "; this verifier reads versions " +
        READABLE_VERSIONS.join(", "));
    }
    if (data.has("updates") && !Array.isArray(data.get("updates"))) {
      throw new Unreadable("\"updates\" is not a list");
    }
    return data;
  }

  function checkEntry(entry, position, prevHash) {
    if (!isMap(entry)) { return Promise.resolve([position, "the entry is not a JSON object"]); }
    var missing = ["seq", "prev_hash", "hash", "record"].filter(function (key) { return !entry.has(key); });
    if (missing.length) { return Promise.resolve([position, "the entry lacks " + missing.join(", ")]); }
    var seq = entry.get("seq");
    var record = entry.get("record");
    if (!isInt(seq) || seq !== BigInt(position)) {
      return Promise.resolve([position, "position " + position + " holds seq " + repr(seq) +
        ", expected " + position + ": a record is missing, added or out of order"]);
    }
    if (!isMap(record) || !sameNumber(get(record, "seq"), position)) {
      return Promise.resolve([position, "the record's own seq does not match the entry's seq"]);
    }
    var hash = entry.get("hash");
    var stated = entry.get("prev_hash");
    if (!isHash(hash) || !isHash(stated)) {
      return Promise.resolve([position, "hash and prev_hash must be 64 lower-case hex characters"]);
    }
    var canonical;
    try {
      canonical = canonicalJSON(record);
    } catch (error) {
      if (!(error instanceof NotCanonical)) { throw error; }
      return Promise.resolve([position, "the record is not canonical JSON: " + error.message]);
    }
    return sha256hex(stated + canonical).then(function (own) {
      if (stated !== prevHash) {
        if (own === hash && position > 1) {
          return [position - 1, "its hash " + prevHash + " is not the one record " + position +
            " was chained to (" + stated + "); record " + (position - 1) +
            " was altered after it was published"];
        }
        return [position, "prev_hash " + stated + " does not match the previous record's hash " + prevHash];
      }
      if (own !== hash) {
        return [position, "its content hashes to " + own + ", not to the stated hash " + hash +
          ": the record was altered"];
      }
      return null;
    });
  }

  function checkLinks(record, seq, commitments) {
    var amends = get(record, "amends");
    if (amends !== null && (!isInt(amends) || !(amends >= BigInt(1) && amends < BigInt(seq)))) {
      return [seq, "it amends record " + repr(amends) + ", which is not an earlier record"];
    }
    var closes = truthy(get(record, "closes")) ? items(get(record, "closes")) : [];
    if (closes === null) { return [seq, "its closes cannot be read as a list"]; }
    for (var i = 0; i < closes.length; i += 1) {
      var closed = closes[i];
      var key = isMap(closed) ? [get(closed, "record"), get(closed, "commitment")] : null;
      var name = key && hashable(key[0]) !== null && hashable(key[1]) !== null
        ? hashable(key[0]) + "|" + hashable(key[1]) : null;
      if (name === null || !commitments.has(name)) {
        return [seq, "it closes commitment " + repr(closed) + ", which no earlier record made"];
      }
      if (commitments.get(name)) {
        return [seq, "it closes commitment " + str(key[1]) + " of record " + str(key[0]) + ", already closed"];
      }
      commitments.set(name, true);
    }
    var promises = truthy(get(record, "commitments")) ? items(get(record, "commitments")) : [];
    if (promises === null) { return [seq, "its commitments cannot be read as a list"]; }
    promises.forEach(function (promise) {
      var number = isMap(promise) ? get(promise, "number") : null;
      if (numeric(number) !== null) {
        commitments.set(hashable(BigInt(seq)) + "|" + hashable(number), false);
      }
    });
    return null;
  }

  function checkUpdate(entry, position, prevHash, commitments, finished) {
    if (!isMap(entry) || !["n", "prev_hash", "hash", "update"].every(function (key) { return entry.has(key); })) {
      return Promise.resolve("the entry is not an object with n, prev_hash, hash and update");
    }
    var n = entry.get("n");
    var update = entry.get("update");
    if (!isInt(n) || n !== BigInt(position) || !isMap(update) || !sameNumber(get(update, "n"), position)) {
      return Promise.resolve("position " + position + " holds update " + repr(n) +
        ": an update is missing, added or out of order");
    }
    var hash = entry.get("hash");
    var stated = entry.get("prev_hash");
    if (!isHash(hash) || !isHash(stated)) {
      return Promise.resolve("hash and prev_hash must be 64 lower-case hex characters");
    }
    var canonical;
    try {
      canonical = canonicalJSON(update);
    } catch (error) {
      if (!(error instanceof NotCanonical)) { throw error; }
      return Promise.resolve("the update is not canonical JSON: " + error.message);
    }
    return sha256hex(stated + canonical).then(function (own) {
      if (stated !== prevHash) {
        return "prev_hash " + stated + " does not match the previous update's hash " + prevHash +
          ": an update was removed, altered or moved";
      }
      if (own !== hash) {
        return "its content hashes to " + own + ", not to the stated hash: the update was altered";
      }
      var named = get(update, "commitment");
      var key = isMap(named) ? [get(named, "record"), get(named, "number")] : null;
      var name = key && hashable(key[0]) !== null && hashable(key[1]) !== null
        ? hashable(key[0]) + "|" + hashable(key[1]) : null;
      if (name === null || !commitments.has(name)) {
        return "it updates commitment " + repr(named) + ", which no record made";
      }
      if (finished.has(name)) {
        return "it updates commitment " + str(key[1]) + " of record " + str(key[0]) +
          " after it was done or dropped";
      }
      var status = get(update, "status");
      var percent = get(update, "percent");
      if (typeof status !== "string" || UPDATE_STATUSES.indexOf(status) < 0) {
        return "its status " + repr(status) + " is not one of " + UPDATE_STATUSES.join(", ");
      }
      if (percent !== null && (!isInt(percent) || percent < BigInt(0) || percent > BigInt(100))) {
        return "its percent " + repr(percent) + " is not a whole number from 0 to 100";
      }
      if (CLOSING_STATUSES.indexOf(status) >= 0) { finished.add(name); }
      return null;
    });
  }

  // The updates chain (version 2), as verify.py's _verify_updates: its own chain from the
  // genesis hash; each update names a commitment a record made, none after "done" or "dropped".
  function verifyUpdates(data, count, head, commitments) {
    var updates = data.has("updates") ? data.get("updates") : [];
    var prevHash = GENESIS;
    var finished = new Set();

    function failed(good, bad, problem) {
      return { ok: false, count: count, head: head, badSeq: null, problem: problem,
        updates: good, badUpdate: bad };
    }
    function step(position) {
      if (position > updates.length) { return Promise.resolve(finish()); }
      var entry = updates[position - 1];
      return checkUpdate(entry, position, prevHash, commitments, finished).then(function (problem) {
        if (problem !== null) { return failed(position - 1, position, problem); }
        prevHash = entry.get("hash");
        return step(position + 1);
      });
    }
    function finish() {
      var stated = data.has("updates_count") ? data.get("updates_count") : BigInt(updates.length);
      if (!sameNumber(stated, updates.length)) {
        return failed(updates.length, updates.length + 1, "the export says it holds " + repr(stated) +
          " updates but has " + updates.length);
      }
      if (data.has("updates_head") && data.get("updates_head") !== prevHash) {
        return failed(updates.length, updates.length, "the export's updates_head " +
          repr(data.get("updates_head")) + " is not the last update's hash " + prevHash);
      }
      return { ok: true, count: count, head: head, badSeq: null, problem: "",
        updates: updates.length, badUpdate: null };
    }
    return step(1);
  }

  // The outcome, as verify.py's Outcome: ok, count (records checked good), head (the last good
  // hash), badSeq and problem; updates (commitment updates checked good) and badUpdate.
  function verifyExport(data, expectHead) {
    var entries = data.get("records");
    var prevHash = GENESIS;
    var commitments = new Map();

    function failed(count, head, bad, problem) {
      return { ok: false, count: count, head: head, badSeq: bad, problem: problem, updates: 0,
        badUpdate: null };
    }
    function step(position) {
      if (position > entries.length) {
        var done = finish();
        return done === null ? verifyUpdates(data, entries.length, prevHash, commitments)
          : Promise.resolve(done);
      }
      var entry = entries[position - 1];
      return checkEntry(entry, position, prevHash).then(function (problem) {
        if (problem === null) { problem = checkLinks(entry.get("record"), position, commitments); }
        if (problem !== null) { return failed(position - 1, prevHash, problem[0], problem[1]); }
        prevHash = entry.get("hash");
        return step(position + 1);
      });
    }
    function finish() {
      var count = entries.length;
      var stated = data.has("count") ? data.get("count") : BigInt(count);
      if (!sameNumber(stated, count)) {
        var missing = isInt(stated) && stated > BigInt(count);
        return failed(count, prevHash, missing ? count + 1 : count,
          "the export says it holds " + repr(stated) + " records but has " + count +
          (missing ? "; records are missing at the end" : ""));
      }
      if (data.has("head") && data.get("head") !== prevHash) {
        return failed(count, prevHash, count, "the export's head " + repr(data.get("head")) +
          " is not the last record's hash " + prevHash);
      }
      if (expectHead && expectHead.toLowerCase() !== prevHash) {
        return failed(count, prevHash, count, "the chain ends in " + prevHash +
          ", not the expected head " + expectHead);
      }
      return null;
    }
    return step(1);
  }

  function verifyBytes(bytes, expectHead) {
    var data;
    try {
      data = loadExport(bytes);
    } catch (error) {
      if (error instanceof Unreadable) { return Promise.resolve({ unreadable: error.message }); }
      throw error;
    }
    return verifyExport(data, expectHead).then(function (outcome) {
      outcome.entries = data.get("records");
      return outcome;
    });
  }

  window.participationVerify = { verifyBytes: verifyBytes, canonicalJSON: function (text) {
    return canonicalJSON(parseJSON(text));
  } };

  // ---- The page ----

  var tool = document.getElementById("verify-tool");
  if (!tool) { return; }
  var messages = {};
  try { messages = JSON.parse(tool.dataset.messages || "{}"); } catch (error) { messages = {}; }
  function gettext(text) { return messages[text] || text; }
  function fill(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
    });
  }

  var output = document.getElementById("verify-result");
  var button = tool.querySelector("button");
  var expected = document.getElementById("verify-expected-head");
  var recordSeq = tool.dataset.seq ? Number(tool.dataset.seq) : null;
  var recordHash = tool.dataset.hash || "";

  tool.hidden = false;
  if (!window.isSecureContext || !window.crypto || !window.crypto.subtle) {
    button.disabled = true;
    show("warn", gettext("This browser cannot check the chain here: its SHA-256 (Web Crypto) works only on https or on this computer's own address (127.0.0.1), not on plain http. Download the chain and use the command described above."), {});
    return;
  }

  function show(kind, text, verdict) {
    output.className = "verify-result verify-result--" + kind;
    output.textContent = text;
    output.dataset.state = kind;
    ["ok", "count", "head", "badSeq", "updates", "badUpdate"].forEach(function (name) {
      if (verdict[name] === undefined || verdict[name] === null) { delete output.dataset[name]; }
      else { output.dataset[name] = String(verdict[name]); }
    });
  }
  var COMPARE = gettext("Compare this head with a copy kept elsewhere (an earlier download, the feed, a newspaper notice): a chain rewritten to its end is consistent in itself, and only a known head exposes it.");

  // What the commitment updates add to a verdict on the records: their count, or the first bad one.
  function updatesChecked(outcome) {
    return outcome.updates ? " " + fill(gettext("The %(updates)s commitment updates are intact too."), outcome) : "";
  }
  function updateFails(outcome) {
    return fill(gettext("Commitment update %(n)s fails: %(why)s."), { n: outcome.badUpdate, why: outcome.problem }) +
      " " + fill(gettext("The first %(updates)s commitment updates are intact."), outcome);
  }

  function wholeChain(outcome) {
    if (outcome.ok) {
      return fill(gettext("Intact: %(count)s records, head %(head)s."), outcome) + updatesChecked(outcome) +
        " " + COMPARE;
    }
    if (outcome.badUpdate !== null) {
      return updateFails(outcome) + " " +
        fill(gettext("The %(count)s records are intact, up to the hash %(head)s."), outcome);
    }
    return fill(gettext("Record %(seq)s fails: %(why)s."), { seq: outcome.badSeq, why: outcome.problem }) + " " +
      fill(gettext("The first %(count)s records are intact, up to the hash %(head)s."), outcome);
  }

  function oneRecord(outcome) {
    var entry = outcome.entries[recordSeq - 1];
    if (!outcome.ok && outcome.badSeq !== null && outcome.badSeq <= recordSeq) {
      return ["fail", fill(gettext("Record %(seq)s cannot be confirmed: record %(bad)s fails: %(why)s."),
        { seq: recordSeq, bad: outcome.badSeq, why: outcome.problem })];
    }
    if (!isMap(entry) || !outcome.ok && outcome.count < recordSeq) {
      return ["fail", fill(gettext("The downloaded chain holds no record %(seq)s."), { seq: recordSeq })];
    }
    if (entry.get("hash") !== recordHash) {
      return ["fail", fill(gettext("The downloaded chain's record %(seq)s has the hash %(found)s, but this page shows %(shown)s."),
        { seq: recordSeq, found: entry.get("hash"), shown: recordHash })];
    }
    var text = fill(gettext("Record %(seq)s is intact: its hash %(hash)s follows from the first record."),
      { seq: recordSeq, hash: recordHash });
    if (outcome.ok) {
      return ["ok", text + " " + fill(gettext("The whole chain is intact: %(count)s records, head %(head)s."), outcome) +
        updatesChecked(outcome) + " " + COMPARE];
    }
    if (outcome.badUpdate !== null) {
      return ["warn", text + " " + fill(gettext("But the commitment updates fail: update %(n)s: %(why)s."),
        { n: outcome.badUpdate, why: outcome.problem })];
    }
    return ["warn", text + " " + fill(gettext("But a later record fails: record %(seq)s: %(why)s."),
      { seq: outcome.badSeq, why: outcome.problem })];
  }

  button.addEventListener("click", function () {
    button.disabled = true;
    show("busy", gettext("Downloading and checking the chain…"), {});
    var head = expected && expected.value.trim() ? expected.value.trim() : null;
    fetch(tool.dataset.exportUrl, { cache: "no-store", credentials: "same-origin" }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.arrayBuffer();
    }).then(function (bytes) {
      return verifyBytes(new Uint8Array(bytes), head);
    }).then(function (outcome) {
      if (outcome.unreadable) {
        show("fail", fill(gettext("The download is not a readable chain export: %(why)s."), { why: outcome.unreadable }),
          { ok: "unreadable" });
        return;
      }
      var verdict = { ok: outcome.ok, count: outcome.count, head: outcome.head, badSeq: outcome.badSeq,
        updates: outcome.updates, badUpdate: outcome.badUpdate };
      if (recordSeq) {
        var shown = oneRecord(outcome);
        show(shown[0], shown[1], verdict);
      } else {
        show(outcome.ok ? "ok" : "fail", wholeChain(outcome), verdict);
      }
    }).catch(function () {
      show("fail", gettext("The chain could not be downloaded; try again, or download it and use the command described above."), {});
    }).then(function () {
      button.disabled = false;
      output.focus();
    });
  });
})();
