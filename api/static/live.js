// Live board: the server pushes an event over SSE whenever the board would change; the page then
// fetches the table body again (with the same filters) and swaps it in. Without JavaScript the
// board is the same page, only without the live refresh.
(function () {
  "use strict";
  var board = document.querySelector("[data-live-board]");
  var status = document.getElementById("live-status");
  if (!board || !window.EventSource) { return; }
  var rows = document.getElementById("board-rows");
  function say(text, on) {
    if (!status) { return; }
    status.textContent = text;
    status.className = "live " + (on ? "on" : "off");
  }
  function refresh() {
    fetch(board.dataset.rows, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
      .then(function (html) {
        rows.innerHTML = html;
        var count = document.getElementById("cluster-count");
        var shown = rows.querySelectorAll("tr[data-cluster]").length;
        if (count) { count.textContent = shown + (shown === 1 ? " cluster" : " clusters"); }
        say("live · updated " + new Date().toLocaleTimeString(), true);
      })
      .catch(function () { say("live · refresh failed, retrying", false); });
  }
  var stream = new EventSource(board.dataset.stream);
  var first = true;
  stream.addEventListener("open", function () { say("live", true); });
  stream.addEventListener("board", function () {
    if (first) { first = false; say("live", true); return; }
    refresh();
  });
  stream.addEventListener("error", function () { say("reconnecting…", false); first = false; });
})();
