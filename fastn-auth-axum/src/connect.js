// fastn-auth-axum connect.js: a <button data-fastn-connect="slack"> opens the consent page
// in a popup, follows the flow's events, and dispatches `fastn:connected` or `fastn:failed`
// on the button (they bubble; `event.detail` has `connector`, `state`, `status`, `message`).
// Without JavaScript the same button submits its form: a plain POST to the same route.
// A router built with `return_to` serves this with RETURN_MODE true: the same tab goes to the
// consent page, and Fastn sends the user back to the app's page.
(() => {
  "use strict";
  const RETURN_MODE = false;
  const script = document.currentScript;
  // Where the router is mounted: this script's own URL, less "/connect.js".
  const base = new URL(".", script ? script.src : location.href).pathname.replace(/\/$/, "");

  function tell(button, name, detail) {
    button.dispatchEvent(new CustomEvent(name, { bubbles: true, detail }));
  }

  async function connectBack(button) {
    const connector = button.getAttribute("data-fastn-connect");
    button.disabled = true;
    try {
      const answer = await fetch(`${base}/${encodeURIComponent(connector)}/connect`, {
        method: "POST",
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      const body = await answer.json().catch(() => ({}));
      if (!answer.ok || !body.redirect_url) throw new Error(body.error || `HTTP ${answer.status}`);
      location.assign(body.redirect_url);
    } catch (error) {
      button.disabled = false;
      tell(button, "fastn:failed", { connector, status: "FAILED", message: error.message || String(error) });
    }
  }

  async function connect(button) {
    if (RETURN_MODE) return connectBack(button);
    const connector = button.getAttribute("data-fastn-connect");
    // Opened in the click itself, so that no popup blocker stops it; sent on once the
    // flow exists.
    const popup = window.open("", "fastn-connect", "popup,width=520,height=700");
    const fail = (message, state) => {
      if (popup && !popup.closed) popup.close();
      button.disabled = false;
      tell(button, "fastn:failed", { connector, state, status: "FAILED", message });
    };
    button.disabled = true;
    let flow;
    try {
      const answer = await fetch(`${base}/${encodeURIComponent(connector)}/connect`, {
        method: "POST",
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      const body = await answer.json().catch(() => ({}));
      if (!answer.ok) return fail(body.error || `HTTP ${answer.status}`);
      flow = body;
    } catch (error) {
      return fail(String(error));
    }
    if (flow.redirect_url) {
      if (popup && !popup.closed) popup.location.href = flow.redirect_url;
      else window.open(flow.redirect_url, "fastn-connect");
    }
    const events = new EventSource(flow.events_url);
    events.addEventListener("status", (event) => {
      const status = JSON.parse(event.data);
      if (status.status === "INACTIVE") return;
      events.close();
      if (status.status === "ACTIVE") {
        if (popup && !popup.closed) popup.close();
        button.disabled = false;
        tell(button, "fastn:connected", { connector, state: flow.state, status: status.status });
      } else {
        fail(status.message || "the connection failed", flow.state);
      }
    });
    // The server ends the stream at the flow's deadline; the browser would reconnect.
    events.addEventListener("error", () => {
      if (events.readyState === EventSource.CLOSED) fail("the flow's events ended", flow.state);
    });
  }

  document.addEventListener("click", (event) => {
    const button = event.target instanceof Element && event.target.closest("[data-fastn-connect]");
    if (!button) return;
    event.preventDefault();
    connect(button);
  });
})();
