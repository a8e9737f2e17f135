// Once the page holds the link's token in its form, take it out of the address bar, so it
// is not left in history, bookmarks or a shared screen. The form posts to the page's URL
// (without the token now) and carries the token in its body.
(function () {
  "use strict";
  var url = new URL(window.location.href);
  if (!url.searchParams.has("token") || !document.querySelector('form input[name="token"]')) {
    return;
  }
  url.searchParams.delete("token");
  window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
})();
