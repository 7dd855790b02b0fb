/* The desk's shared browser code: REST with the CSRF token, the /ws/desk/ socket with
   reconnect and backoff, and number formatting. Pages: desk-blotter.js, desk-review.js,
   desk-book.js. No framework, no CDN. */
(function () {
  "use strict";
  const Desk = (window.Desk = window.Desk || {});

  Desk.cookie = function (name) {
    const m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : "";
  };

  /* A refused request: `message` is the contract's detail or its field errors, joined. */
  class ApiError extends Error {
    constructor(status, body) {
      super(ApiError.text(body, status));
      this.status = status;
      this.body = body || {};
    }
    static text(body, status) {
      if (body && body.detail) return body.detail;
      if (body && body.errors) {
        return Object.entries(body.errors)
          .map(([f, msgs]) => (f === "detail" ? "" : f + ": ") + [].concat(msgs).join(" "))
          .join(" ");
      }
      return "The server answered " + status + ".";
    }
  }
  Desk.ApiError = ApiError;

  Desk.api = async function (path, opts) {
    opts = opts || {};
    const method = opts.method || "GET";
    const headers = { Accept: "application/json" };
    if (method !== "GET") {
      headers["Content-Type"] = "application/json";
      headers["X-CSRFToken"] = Desk.cookie("csrftoken");
    }
    let resp;
    try {
      resp = await fetch(path, {
        method, headers, credentials: "same-origin",
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      });
    } catch (e) {
      throw new ApiError(0, { detail: "The server cannot be reached: " + e.message });
    }
    let body = null;
    try { body = await resp.json(); } catch (e) { body = null; }
    if (!resp.ok) throw new ApiError(resp.status, body);
    return body;
  };

  /* ---- formatting ---------------------------------------------------------------------- */
  const nf = (dp) => new Intl.NumberFormat("en-GB", { minimumFractionDigits: dp, maximumFractionDigits: dp });
  const cache = {};
  Desk.num = function (x, dp) {
    if (x === null || x === undefined || x === "" || Number.isNaN(Number(x))) return "";
    dp = dp === undefined ? 2 : dp;
    return (cache[dp] = cache[dp] || nf(dp)).format(Number(x));
  };
  Desk.qty = (x) => Desk.num(x, 0);
  Desk.price = (x) => (x === null || x === undefined ? "" : Desk.num(x, 4));
  Desk.pct = (x) => (x === null || x === undefined ? "" : Desk.num(100 * x, 1) + " %");
  Desk.money = (x) => (x === null || x === undefined ? "" : Desk.num(x, 0));
  /* UTC, as the server and the reports keep time: HH:MM:SS today, with the date before today. */
  Desk.time = function (iso) {
    if (!iso) return "";
    const t = new Date(iso).toISOString();
    return t.slice(0, 10) === new Date().toISOString().slice(0, 10) ? t.slice(11, 19) : t.slice(0, 10) + " " + t.slice(11, 19);
  };
  /* A markout horizon as the desk says it: 60 -> "1m", 86400 -> "1d". */
  Desk.horizon = function (sec) {
    sec = Number(sec);
    if (sec % 86400 === 0) return sec / 86400 + "d";
    if (sec % 3600 === 0) return sec / 3600 + "h";
    if (sec % 60 === 0) return sec / 60 + "m";
    return sec + "s";
  };
  /* Seconds left until `iso` (negative when past). */
  Desk.secondsLeft = (iso) => (iso ? (new Date(iso).getTime() - Date.now()) / 1000 : null);
  Desk.countdown = function (iso) {
    const s = Desk.secondsLeft(iso);
    if (s === null) return "";
    if (s <= 0) return "0s";
    const whole = Math.ceil(s); // 59.7 s left reads "1m00s", never "60s" or "0m60s"
    if (whole < 60) return whole + "s";
    return Math.floor(whole / 60) + "m" + String(whole % 60).padStart(2, "0") + "s";
  };
  Desk.esc = function (s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, (c) => (
      { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  };
  Desk.json = (id) => {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  };

  /* ---- the desk socket ----------------------------------------------------------------- *
   * Connects to /ws/desk/, shows its state in `indicator` (class `conn live` or
   * `conn reconnecting`), reconnects by itself with exponential backoff and jitter, and
   * calls `onSync()` after every (re)connection so that the page catches up over REST on
   * whatever it missed while the socket was down. */
  class DeskSocket {
    constructor(opts) {
      this.onEvent = opts.onEvent || function () {};
      this.onSync = opts.onSync || function () {};
      this.onState = opts.onState || function () {};
      this.indicator = opts.indicator || document.getElementById("conn");
      this.minDelay = opts.minDelay || 500;
      this.maxDelay = opts.maxDelay || 10000;
      this.attempt = 0;
      this.ws = null;
      this.timer = null;
      this.connections = 0;
      this.state = "connecting";
      this.connect();
    }
    url() {
      return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/desk/";
    }
    setState(state) {
      this.state = state;
      if (this.indicator) {
        this.indicator.className = "conn " + state;
        this.indicator.textContent = state === "live" ? "live" : state === "connecting" ? "connecting…" : "reconnecting…";
        this.indicator.setAttribute("data-state", state);
      }
      document.body.classList.toggle("desk-stale", state !== "live");
      this.onState(state);
    }
    connect() {
      clearTimeout(this.timer);
      let ws;
      try {
        ws = new WebSocket(this.url());
      } catch (e) {
        this.scheduleReconnect();
        return;
      }
      this.ws = ws;
      ws.onmessage = (ev) => {
        let msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        if (msg.type === "hello") {
          this.attempt = 0;
          this.connections += 1;
          this.user = msg.user;
          this.roles = msg.roles || [];
          Promise.resolve(this.onSync()).finally(() => this.setState("live"));
          return;
        }
        this.onEvent(msg);
      };
      ws.onclose = () => {
        if (this.ws !== ws) return;
        this.ws = null;
        this.setState("reconnecting");
        this.scheduleReconnect();
      };
      ws.onerror = () => { /* onclose follows */ };
    }
    scheduleReconnect() {
      const base = Math.min(this.maxDelay, this.minDelay * Math.pow(2, this.attempt));
      this.attempt += 1;
      const delay = base * (0.75 + 0.5 * Math.random());
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.connect(), delay);
    }
    /* Drop the connection as a network failure would (used by tests and the "reconnect" link). */
    drop() {
      if (this.ws) this.ws.close();
    }
  }
  Desk.DeskSocket = DeskSocket;
})();
