// Live markets list and trade page. Progressive enhancement: the server renders every panel and
// every form works without this script. With it, the page listens to the public WebSocket feed
// (BitMart's protocol on /api) and, when a channel says something changed, fetches the changed
// panel again from the server (one renderer for both); without a feed it refreshes on a timer.
// The order form gains live checks (decimals, minimums, balance), an amount slider and a fee
// preview; the server checks everything again.
"use strict";

const FALLBACK_REFRESH_MS = 3000;
const MINE_REFRESH_MS = 10000;
const PANEL_THROTTLE_MS = 300;
const PING_MS = 15000;

// ---- WebSocket feed with reconnect -------------------------------------------------------

function openFeed(topics, onPush, onState) {
  let socket = null;
  let retryMs = 1000;
  let pinger = null;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${location.host}/api?protocol=1.1`);
    socket.addEventListener("open", () => {
      retryMs = 1000;
      onState(true);
      const list = topics();
      for (let i = 0; i < list.length; i += 20) {
        socket.send(JSON.stringify({ op: "subscribe", args: list.slice(i, i + 20) }));
      }
      pinger = setInterval(() => socket.readyState === 1 && socket.send("ping"), PING_MS);
    });
    socket.addEventListener("message", (event) => {
      if (typeof event.data !== "string" || event.data === "pong") return;
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      if (message.table) onPush(message.table, message.data || []);
    });
    socket.addEventListener("close", () => {
      clearInterval(pinger);
      onState(false);
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
    });
  }
  connect();
  return {
    send(op, args) {
      if (socket && socket.readyState === 1) socket.send(JSON.stringify({ op, args }));
    },
  };
}

// ---- Panels fetched again from the server ------------------------------------------------

function makeRefresher(load) {
  const dirty = new Set();
  let timer = null;
  function flush() {
    timer = null;
    const names = [...dirty];
    dirty.clear();
    for (const name of names) load(name);
  }
  return function mark(name) {
    dirty.add(name);
    if (!timer) timer = setTimeout(flush, PANEL_THROTTLE_MS);
  };
}

async function replaceWith(element, url) {
  try {
    const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    if (!response.ok) return;
    const html = await response.text();
    // Keep a focused control usable: skip this refresh, the next one will catch up.
    if (element.contains(document.activeElement) && document.activeElement !== document.body) return;
    element.innerHTML = html;
  } catch {
    // Offline for a moment: the timer tries again.
  }
}

// ---- Exact decimals (scaled BigInt) for the order form ------------------------------------

function parseUnits(text, scale) {
  const t = text.trim();
  if (t === "") return { empty: true };
  const m = /^(\d+)(?:\.(\d*))?$/.exec(t);
  if (!m) return { error: "must be a positive number like 12.5" };
  const fraction = m[2] || "";
  if (fraction.length > scale) {
    return { error: scale === 0 ? "must be a whole number" : `has more than ${scale} decimals` };
  }
  return { units: BigInt(m[1] + fraction.padEnd(scale, "0")) };
}

function formatUnits(units, scale) {
  const negative = units < 0n;
  let digits = (negative ? -units : units).toString().padStart(scale + 1, "0");
  if (scale === 0) return (negative ? "-" : "") + digits;
  return (negative ? "-" : "") + digits.slice(0, -scale) + "." + digits.slice(-scale);
}

function orderForm(form) {
  const d = form.dataset;
  const scales = { price: Number(d.priceScale), size: Number(d.sizeScale), quote: Number(d.quoteScale) };
  const el = (id) => document.getElementById(id);
  const type = el("order-type");
  const slider = el("amount-slider");
  const errorBox = el("form-error");
  const preview = el("fee-preview");
  // Balances arrive printed at the asset's own scale; read them at that precision.
  const decimals = (text) => (text.split(".")[1] || "").length;
  const available = {};
  function readAvailable() {
    available.base = parseUnits(d.baseAvailable, decimals(d.baseAvailable)).units ?? 0n;
    available.baseScale = decimals(d.baseAvailable);
    available.quote = parseUnits(d.quoteAvailable, decimals(d.quoteAvailable)).units ?? 0n;
    available.quoteScale = decimals(d.quoteAvailable);
    el("form-available").textContent =
      `${d.quoteAvailable} ${d.quote} · ${d.baseAvailable} ${d.base}`;
  }
  readAvailable();
  const rescale = (units, from, to) =>
    to >= from ? units * 10n ** BigInt(to - from) : units / 10n ** BigInt(from - to);

  const side = () => (form.querySelector("input[name=side]:checked") || {}).value || "buy";
  const kind = () => type.value;
  const isMarket = () => kind() === "market" || kind() === "stop_market";
  const isStop = () => kind() === "stop_limit" || kind() === "stop_market";
  const marketBuy = () => isMarket() && side() === "buy";

  function layout() {
    el("trigger-field").hidden = !isStop();
    el("price-field").hidden = isMarket();
    el("size-field").hidden = marketBuy();
    el("total-field").hidden = !marketBuy();
    slider.hidden = false;
    update();
  }

  // Quote units of price × size at the quote asset's scale.
  function notional(price, size) {
    return rescale(price * size, scales.price + scales.size, scales.quote);
  }

  function check() {
    const price = parseUnits(el("price").value, scales.price);
    const size = parseUnits(el("size").value, scales.size);
    const total = parseUnits(el("total").value, scales.quote);
    const trigger = parseUnits(el("trigger-price").value, scales.price);
    const minSize = parseUnits(d.minSize, scales.size).units;
    const minNotional = parseUnits(d.minNotional, scales.quote).units;
    if (isStop()) {
      if (trigger.error) return `Stop price ${trigger.error}.`;
      if (trigger.empty || trigger.units === 0n) return "Enter a stop price.";
    }
    if (marketBuy()) {
      if (total.error) return `Total ${total.error}.`;
      if (total.empty || total.units === 0n) return `Enter the ${d.quote} to spend.`;
      if (total.units < minNotional) return `The total is below the minimum of ${d.minNotional} ${d.quote}.`;
      if (rescale(total.units, scales.quote, available.quoteScale) > available.quote) {
        return `Not enough ${d.quote}: ${d.quoteAvailable} available.`;
      }
      return "";
    }
    if (!isMarket()) {
      if (price.error) return `Price ${price.error}.`;
      if (price.empty || price.units === 0n) return "Enter a price.";
    }
    if (size.error) return `Amount ${size.error}.`;
    if (size.empty || size.units === 0n) return `Enter an amount of ${d.base}.`;
    if (size.units < minSize) return `The amount is below the minimum of ${d.minSize} ${d.base}.`;
    if (side() === "sell") {
      if (rescale(size.units, scales.size, available.baseScale) > available.base) {
        return `Not enough ${d.base}: ${d.baseAvailable} available.`;
      }
    } else if (!isMarket()) {
      const cost = notional(price.units, size.units);
      if (cost < minNotional) return `The order value is below the minimum of ${d.minNotional} ${d.quote}.`;
      if (rescale(cost, scales.quote, available.quoteScale) > available.quote) {
        return `Not enough ${d.quote}: this order needs ${formatUnits(cost, scales.quote)}, ${d.quoteAvailable} available.`;
      }
    }
    return "";
  }

  function update() {
    const price = parseUnits(el("price").value, scales.price);
    const size = parseUnits(el("size").value, scales.size);
    const total = parseUnits(el("total").value, scales.quote);
    const fee = (units) => (units * BigInt(d.takerFeePpm)) / 1000000n;
    let value = null;
    if (marketBuy() && total.units !== undefined) value = total.units;
    else if (price.units !== undefined && size.units !== undefined) value = notional(price.units, size.units);
    if (value !== null && value > 0n) {
      preview.textContent = `Order value ≈ ${formatUnits(value, scales.quote)} ${d.quote}; ` +
        `fee at most ${formatUnits(fee(value), scales.quote)} ${d.quote}-equivalent ` +
        `(maker ${Number(d.makerFeePpm) / 10000}%, taker ${Number(d.takerFeePpm) / 10000}%).`;
    }
    const problem = check();
    errorBox.hidden = problem === "";
    errorBox.textContent = problem;
  }

  function slide() {
    const pct = BigInt(slider.value);
    if (marketBuy()) {
      const spend = rescale((available.quote * pct) / 100n, available.quoteScale, scales.quote);
      el("total").value = formatUnits(spend, scales.quote);
    } else if (side() === "sell") {
      const amount = rescale((available.base * pct) / 100n, available.baseScale, scales.size);
      el("size").value = formatUnits(amount, scales.size);
    } else {
      const price = parseUnits(el("price").value, scales.price).units;
      if (!price) return;
      // size = budget / price, at the size scale, rounded down (never more than the budget).
      const budget = rescale((available.quote * pct) / 100n, available.quoteScale, scales.quote);
      const shift = scales.price + scales.size - scales.quote;
      const lots = shift >= 0
        ? (budget * 10n ** BigInt(shift)) / price
        : budget / (price * 10n ** BigInt(-shift));
      el("size").value = formatUnits(lots, scales.size);
    }
    update();
  }

  type.addEventListener("change", layout);
  form.querySelectorAll("input[name=side]").forEach((r) => r.addEventListener("change", layout));
  for (const id of ["price", "size", "total", "trigger-price"]) el(id).addEventListener("input", update);
  slider.addEventListener("input", slide);
  form.addEventListener("submit", (event) => {
    const problem = check();
    if (problem) {
      event.preventDefault();
      errorBox.hidden = false;
      errorBox.textContent = problem;
      return;
    }
    el("place-order").disabled = true;
    el("place-order").textContent = "Placing…";
  });
  layout();
  errorBox.hidden = true;
  // The balances panel was refreshed: check against what is available now.
  return function balancesChanged() {
    const base = document.getElementById("base-available");
    const quote = document.getElementById("quote-available");
    if (!base || !quote) return;
    d.baseAvailable = base.textContent.trim();
    d.quoteAvailable = quote.textContent.trim();
    readAvailable();
    update();
  };
}

// ---- Trade page ---------------------------------------------------------------------------

function tradePage(root) {
  const symbol = root.dataset.symbol;
  let interval = root.dataset.interval;
  const live = document.getElementById("live");
  let connected = false;
  const panels = {};
  for (const el of document.querySelectorAll("[data-panel]")) panels[el.dataset.panel] = el;
  let balancesChanged = () => {};
  const mark = makeRefresher((name) => {
    const el = panels[name];
    if (!el) return;
    const loaded = replaceWith(el, `/trade/${symbol}/panel/${name}?interval=${encodeURIComponent(interval)}`);
    if (name === "mine") loaded.then(() => balancesChanged());
  });
  const setText = (id, text) => {
    const el = document.getElementById(id);
    if (el && text !== undefined) el.textContent = text;
  };
  const feed = openFeed(
    () => [`spot/ticker:${symbol}`, `spot/depth20:${symbol}`, `spot/trade:${symbol}`, `spot/kline${interval}:${symbol}`],
    (table, data) => {
      if (table === "spot/ticker") {
        const t = data[0] || {};
        setText("last-price", t.last_price);
        setText("high", t.high_24h);
        setText("low", t.low_24h);
        setText("volume", t.base_volume_24h);
        if (t.fluctuation !== undefined) {
          const pct = (Number(t.fluctuation) * 100).toFixed(2);
          const change = document.getElementById("change");
          change.textContent = (Number(pct) > 0 ? "+" : "") + pct + "%";
          change.className = Number(pct) > 0 ? "up" : Number(pct) < 0 ? "down" : "flat";
          document.title = `${root.querySelector("#market-name").textContent} ${t.last_price} · Bulwark`;
        }
      } else if (table.startsWith("spot/depth")) {
        mark("book");
      } else if (table === "spot/trade") {
        mark("trades");
        mark("mine");
        mark("chart");
      } else if (table.startsWith("spot/kline")) {
        mark("chart");
      }
    },
    (up) => {
      connected = up;
      live.textContent = up ? "Live" : "Reconnecting… refreshing every few seconds";
      live.className = up ? "live on" : "live";
    },
  );
  setInterval(() => {
    if (!connected) for (const name of Object.keys(panels)) mark(name);
  }, FALLBACK_REFRESH_MS);
  setInterval(() => mark("mine"), MINE_REFRESH_MS);
  for (const link of document.querySelectorAll(".intervals a")) {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      feed.send("unsubscribe", [`spot/kline${interval}:${symbol}`]);
      interval = link.dataset.interval;
      feed.send("subscribe", [`spot/kline${interval}:${symbol}`]);
      for (const other of document.querySelectorAll(".intervals a")) other.removeAttribute("aria-current");
      link.setAttribute("aria-current", "true");
      history.replaceState(null, "", `/trade/${symbol}?interval=${encodeURIComponent(interval)}`);
      mark("chart");
    });
  }
  const form = document.getElementById("order-form");
  if (form) balancesChanged = orderForm(form);
}

// ---- Markets list -------------------------------------------------------------------------

function marketsPage(panel) {
  const query = document.getElementById("market-query");
  let connected = false;
  const url = () => `/markets/table${location.search}`;
  const mark = makeRefresher(() => replaceWith(panel, url()).then(filter));
  function filter() {
    const needle = query.value.trim().toUpperCase();
    for (const row of panel.querySelectorAll("tr.market-row")) {
      const symbol = row.dataset.symbol;
      row.hidden = needle !== "" && !symbol.includes(needle) && !symbol.replace("_", "/").includes(needle);
    }
  }
  query.addEventListener("input", filter);
  const symbols = [...panel.querySelectorAll("tr.market-row")].map((r) => r.dataset.symbol);
  openFeed(
    () => symbols.map((s) => `spot/ticker:${s}`),
    () => mark("table"),
    (up) => { connected = up; },
  );
  setInterval(() => { if (!connected) mark("table"); }, FALLBACK_REFRESH_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  const trade = document.getElementById("trade");
  if (trade) tradePage(trade);
  const markets = document.getElementById("markets-panel");
  if (markets) marketsPage(markets);
});
