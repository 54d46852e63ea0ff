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

  // Starts a flow on the router: its JSON answer, or an Error saying why not.
  async function start(connector) {
    const answer = await fetch(`${base}/${encodeURIComponent(connector)}/connect`, {
      method: "POST",
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    const body = await answer.json().catch(() => ({}));
    if (!answer.ok) throw new Error(body.error || `HTTP ${answer.status}`);
    return body;
  }

  async function connectBack(button) {
    const connector = button.getAttribute("data-fastn-connect");
    button.disabled = true;
    try {
      const body = await start(connector);
      if (!body.redirect_url) throw new Error("the flow has no consent page");
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
      flow = await start(connector);
    } catch (error) {
      return fail(error.message || String(error));
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
        mark(button, false);
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

  // A broken connection: its button says "Reconnect" (a click connects it again, as any
  // click does) and `fastn:broken` is dispatched on it; a mended one gets its label back.
  function mark(button, broken, reason) {
    if (broken === (button.dataset.fastnState === "broken")) return;
    if (broken) {
      button.dataset.fastnLabel = button.textContent;
      button.dataset.fastnState = "broken";
      button.textContent = button.textContent.replace(/^\s*Connect\b/, "Reconnect");
      if (!/Reconnect/.test(button.textContent)) button.textContent = `Reconnect ${button.textContent.trim()}`;
      const connector = button.getAttribute("data-fastn-connect");
      tell(button, "fastn:broken", { connector, status: "BROKEN", reason });
    } else {
      button.textContent = button.dataset.fastnLabel || button.textContent;
      delete button.dataset.fastnState;
    }
  }

  function buttonsOf(connector) {
    return [...document.querySelectorAll("[data-fastn-connect]")].filter(
      (button) => button.getAttribute("data-fastn-connect") === connector,
    );
  }

  async function checkHealth() {
    const connectors = new Set(
      [...document.querySelectorAll("[data-fastn-connect]")].map((b) => b.getAttribute("data-fastn-connect")),
    );
    for (const connector of connectors) {
      try {
        const answer = await fetch(`${base}/${encodeURIComponent(connector)}`, { credentials: "same-origin" });
        const health = await answer.json();
        for (const button of buttonsOf(connector)) mark(button, health.state === "broken", health.reason);
      } catch (_) {
        // The page works without it: a click still connects.
      }
    }
    const live = new EventSource(`${base}/events`);
    live.addEventListener("health", (event) => {
      const change = JSON.parse(event.data);
      for (const button of buttonsOf(change.connector)) mark(button, change.kind === "broken", change.reason);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", checkHealth);
  else checkHealth();

  document.addEventListener("click", (event) => {
    const button = event.target instanceof Element && event.target.closest("[data-fastn-connect]");
    if (!button) return;
    event.preventDefault();
    connect(button);
  });
})();
