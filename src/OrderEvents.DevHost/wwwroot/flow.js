// OrderEvents live flow: one order seen as its HTTP answer, its Kafka record and its notification, with the lag.
// A plain ES module with no dependencies; every request goes to this app.

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = 'orderevents.flow.token';
const MAX_FEED = 40;
const MAX_ORDERS = 12;
const MAX_LAGS = 100;
const STATUS_TEXT = {
  200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content', 400: 'Bad Request', 401: 'Unauthorized',
  403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 413: 'Content Too Large', 415: 'Unsupported Media Type',
  422: 'Unprocessable Content', 429: 'Too Many Requests', 503: 'Service Unavailable',
};

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  config: null,
  me: null,
  session: null, // AbortController of the signed-in session: streams and polling
  orders: new Map(), // orderId -> { order, actions: Map<eventType, {t0, at, status}>, history }
  records: new Map(), // "orderId:eventType" -> { record, at }
  notifications: new Map(), // "orderId:eventType" -> { notification, at }
  eventTimes: new Map(), // eventId -> the event's own timestamp (ms since epoch)
  waitingForEventTime: new Map(), // eventId -> { item, notification } whose lag is not known yet
  lags: [],
  counts: { records: 0, notifications: 0 },
  lastPosition: null, // the notification stream's resume point (Last-Event-ID)
};

// ---------- small helpers ----------

function h(tag, attributes = {}, ...children) {
  const element = tag.startsWith('svg:')
    ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
    : document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') element.setAttribute('class', value);
    else if (name === 'data') for (const [key, v] of Object.entries(value)) element.dataset[key] = v ?? '';
    else if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

const eventKey = (orderId, eventType) => `${orderId}:${eventType}`;
const ms = (value) => `${Math.round(value)} ms`;
const clock = (value) => {
  const date = new Date(value);
  return date.toLocaleTimeString([], { hour12: false }) + '.' + String(date.getMilliseconds()).padStart(3, '0');
};
const delay = (milliseconds, signal) => new Promise((resolve) => {
  const timer = setTimeout(resolve, milliseconds);
  signal?.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
});

function prepend(list, item, max = MAX_FEED) {
  list.prepend(item);
  while (list.children.length > max) list.lastElementChild.remove();
  const empty = $(`${list.id}-empty`);
  if (empty) empty.hidden = true;
}

function problemText(answer) {
  const problem = answer.json;
  if (!problem || typeof problem !== 'object') return `${answer.status} ${answer.statusText}`;
  const lines = [[problem.title, problem.detail].filter(Boolean).join(': ') || `${answer.status} ${answer.statusText}`];
  for (const [field, messages] of Object.entries(problem.errors ?? {})) lines.push(`${field}: ${[].concat(messages).join(' ')}`);
  return lines.join('\n');
}

// ---------- HTTP ----------

/** Every call of the page: the answer with its status and latency, logged in "HTTP answers" unless quiet. */
async function api(method, path, body, { quiet = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  const started = performance.now();
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const at = performance.now();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  const answer = {
    method, path, status: response.status, ok: response.ok, statusText: response.statusText || STATUS_TEXT[response.status] || '',
    latency: at - started, at, json, text,
  };
  if (!quiet) logAnswer(answer);
  if (response.status === 401 && state.me) signOut('Your session ended: sign in again.');
  return answer;
}

function logAnswer(answer) {
  const shown = answer.json?.accessToken ? { ...answer.json, accessToken: `${answer.json.accessToken.slice(0, 12)}…` } : answer.json;
  const body = shown !== null ? JSON.stringify(shown, null, 2) : answer.text;
  prepend($('http-log'), h('li', { class: 'c-http', data: { status: answer.status, path: answer.path } },
    h('div', { class: 'head' },
      h('span', { class: `status ${answer.ok ? 'ok' : 'fail'}` }, answer.status),
      h('span', {}, answer.statusText),
      h('code', {}, `${answer.method} ${answer.path}`),
      h('span', { class: 'ms' }, ms(answer.latency))),
    body ? h('details', {}, h('summary', {}, 'body'), h('pre', { class: 'json' }, body)) : null));
  if (answer.path.startsWith('/api/orders')) $('http-last').textContent = `${answer.status} · ${ms(answer.latency)}`;
}

// ---------- Server-Sent Events over fetch (EventSource cannot send the bearer token) ----------

async function readEvents(path, { signal, lastEventId, onReady, onEvent }) {
  const headers = { Accept: 'text/event-stream', Authorization: `Bearer ${state.token}` };
  if (lastEventId) headers['Last-Event-ID'] = lastEventId;
  const response = await fetch(path, { headers, signal, cache: 'no-store' });
  if (!response.ok) throw Object.assign(new Error(`${path}: ${response.status}`), { status: response.status });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const message = { event: 'message', id: null, data: [] };
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'data') message.data.push(text);
        else if (field === 'event') message.event = text;
        else if (field === 'id') message.id = text;
      }
      if (message.event === 'ready') onReady();
      else if (message.data.length && !['connecting', 'heartbeat'].includes(message.event)) onEvent({ ...message, data: message.data.join('\n') });
    }
  }
}

/** Reads a stream for the whole session, reconnecting after a second when it drops. */
async function keepReading(path, indicator, handlers, signal) {
  while (!signal.aborted) {
    setLive(indicator, 'connecting');
    try {
      await readEvents(path, { signal, lastEventId: handlers.lastEventId?.(), onReady: () => setLive(indicator, 'live'), onEvent: handlers.onEvent });
    } catch (error) {
      if (signal.aborted) return;
      if (error.status === 409) { setLive(indicator, 'unavailable'); return; }
      if (error.status === 401) { signOut('Your session ended: sign in again.'); return; }
    }
    await delay(1000, signal);
  }
  setLive(indicator, 'off');
}

function setLive(indicator, liveState) {
  const element = $(indicator);
  element.dataset.state = liveState;
  const name = indicator === 'tap-state' ? 'tap' : 'stream';
  element.textContent = { live: `${name} live`, connecting: `${name} connecting…`, off: `${name} off`, unavailable: 'no Kafka' }[liveState];
}

// ---------- Kafka records ----------

function onRecord(record) {
  const at = performance.now();
  state.counts.records += 1;
  $('record-count').textContent = state.counts.records;
  let event = null;
  try { event = JSON.parse(record.value); } catch { /* not JSON: shown as it is */ }
  if (event?.eventId && event.timestamp) learnEventTime(event.eventId, Date.parse(event.timestamp));
  if (event?.orderId && event.eventType) {
    state.records.set(eventKey(event.orderId, event.eventType), { record, at });
    renderOrder(event.orderId);
  }

  prepend($('records'), h('li', {
    class: 'c-kafka',
    data: { partition: record.partition, offset: record.offset, key: record.key, eventId: event?.eventId, orderId: event?.orderId, eventType: event?.eventType },
  },
  h('div', { class: 'head' },
    h('span', { class: 'type' }, event?.eventType ?? 'not an order event'),
    event?.orderId ? h('span', {}, `order #${event.orderId}`) : null,
    h('span', { class: 'sub ms' }, clock(record.timestamp))),
  h('div', { class: 'kv' },
    h('span', {}, h('b', {}, 'topic '), record.topic),
    h('span', {}, h('b', {}, 'partition '), record.partition),
    h('span', {}, h('b', {}, 'offset '), record.offset),
    h('span', {}, h('b', {}, 'key '), record.key === null ? 'null' : JSON.stringify(record.key))),
  h('pre', { class: 'json', title: `${record.valueBytes} bytes` }, record.value, record.truncated ? ` … (${record.valueBytes} bytes)` : ''),
  h('details', {},
    h('summary', {}, `${record.headers.length} headers`),
    h('table', { class: 'headers' }, record.headers.map((header) => h('tr', {}, h('td', {}, header.name), h('td', {}, header.value)))))));
}

// ---------- notifications and their lag ----------

function onNotification(message) {
  const at = performance.now();
  state.lastPosition = message.id;
  const notification = JSON.parse(message.data);
  state.counts.notifications += 1;
  $('notification-count').textContent = state.counts.notifications;
  state.notifications.set(eventKey(notification.orderId, notification.type), { notification, at });

  const item = h('li', {
    class: 'c-notification',
    data: { eventId: notification.eventId, orderId: notification.orderId, type: notification.type, lagMs: '' },
  },
  h('div', { class: 'head' },
    h('span', { class: 'type' }, notification.type),
    h('span', { class: 'lag ms' }, 'lag …'),
    h('span', { class: 'sub ms' }, clock(notification.createdAt))),
  h('div', {}, notification.message));
  prepend($('notifications'), item);

  const eventTime = state.eventTimes.get(notification.eventId);
  if (eventTime !== undefined) showLag(item, notification, eventTime);
  else {
    // The record (or the order's history) carries the event's timestamp; it may come after the notification.
    state.waitingForEventTime.set(notification.eventId, { item, notification });
    if (state.orders.has(notification.orderId)) loadHistory(notification.orderId);
  }
  renderOrder(notification.orderId);
}

function learnEventTime(eventId, timestamp) {
  if (state.eventTimes.has(eventId)) return;
  state.eventTimes.set(eventId, timestamp);
  if (state.eventTimes.size > 5000) state.eventTimes.delete(state.eventTimes.keys().next().value);
  const waiting = state.waitingForEventTime.get(eventId);
  if (!waiting) return;
  state.waitingForEventTime.delete(eventId);
  showLag(waiting.item, waiting.notification, timestamp);
  renderOrder(waiting.notification.orderId);
}

const lagOf = (notification) => {
  const eventTime = state.eventTimes.get(notification.eventId);
  return eventTime === undefined ? null : Math.round(Date.parse(notification.createdAt) - eventTime);
};

function showLag(item, notification, eventTime) {
  const lag = Math.round(Date.parse(notification.createdAt) - eventTime);
  item.dataset.lagMs = lag;
  item.querySelector('.lag').textContent = `lag ${ms(lag)}`;
  $('notification-last').textContent = `lag ${ms(lag)}`;
  state.lags.push(lag);
  if (state.lags.length > MAX_LAGS) state.lags.shift();
  scheduleChart();
}

// ---------- the lag chart (SVG) ----------

let chartPending = false;
function scheduleChart() {
  if (chartPending) return;
  chartPending = true;
  requestAnimationFrame(() => { chartPending = false; drawChart(); });
}

const niceCeiling = (value) => {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * magnitude).find((candidate) => candidate >= value);
};

function drawChart() {
  const svg = $('lag-chart');
  const [width, height, left, right, top, bottom] = [400, 150, 50, 4, 8, 16];
  const lags = state.lags;
  const max = niceCeiling(Math.max(100, ...lags));
  const y = (value) => height - bottom - (value / max) * (height - top - bottom);
  const slot = (width - left - right) / MAX_LAGS;
  svg.replaceChildren(
    ...[0, max / 2, max].flatMap((value) => [
      h('svg:line', { class: 'grid-line', x1: left, x2: width - right, y1: y(value), y2: y(value) }),
      h('svg:text', { class: 'axis-label', x: left - 6, y: y(value) + 3, 'text-anchor': 'end' }, `${value} ms`),
    ]),
    h('svg:text', { class: 'axis-label', x: width - right, y: height - 4, 'text-anchor': 'end' }, 'newest →'),
    ...lags.map((lag, index) => h('svg:rect', {
      class: `lag${lag > 5000 ? ' very-slow' : lag > 1000 ? ' slow' : ''}`,
      x: left + index * slot + 0.5, width: Math.max(1, slot - 1.5), y: y(lag), height: Math.max(1, y(0) - y(lag)),
    }, h('svg:title', {}, ms(lag)))));
  svg.dataset.count = lags.length;
  const sorted = [...lags].sort((a, b) => a - b);
  $('lag-stats').textContent = lags.length
    ? `last ${ms(lags.at(-1))} · median ${ms(sorted[Math.floor(sorted.length / 2)])} · max ${ms(sorted.at(-1))} · ${lags.length} shown`
    : 'No notification yet.';
}

// ---------- orders: one timeline per event ----------

function trackOrder(order) {
  if (!state.orders.has(order.id)) state.orders.set(order.id, { order, actions: new Map(), history: null });
  const entry = state.orders.get(order.id);
  entry.order = order;
  while (state.orders.size > MAX_ORDERS) {
    const oldest = state.orders.keys().next().value;
    state.orders.delete(oldest);
    $(`order-${oldest}`)?.remove();
  }
  return entry;
}

async function loadHistory(orderId) {
  const answer = await api('GET', `/api/orders/${orderId}/events`, undefined, { quiet: true });
  const entry = state.orders.get(orderId);
  if (!answer.ok || !entry) return;
  entry.history = answer.json;
  for (const event of answer.json) learnEventTime(event.eventId, Date.parse(event.timestamp));
  renderOrder(orderId);
}

function step(stage, name, at, t0, scale, detail) {
  const elapsed = at !== undefined && t0 !== undefined ? Math.max(0, at - t0) : null;
  const item = h('li', { class: `c-${stage === 'record' ? 'kafka' : stage}`, data: { stage, ms: elapsed === null ? '' : Math.round(elapsed) } },
    h('span', { class: 'name' }, h('span', { class: 'dot' }), name),
    h('span', { class: 'track' }, h('span', { class: 'bar' })),
    h('span', { class: 'ms' }, elapsed === null ? (at === undefined ? 'waiting' : '') : ms(elapsed)),
    detail ? h('span', { class: 'detail' }, detail) : null);
  if (elapsed !== null) item.querySelector('.bar').style.setProperty('--w', `${Math.min(100, (elapsed / scale) * 100)}%`);
  return item;
}

function renderOrder(orderId) {
  const entry = state.orders.get(orderId);
  if (!entry) return;
  const { order } = entry;
  const types = ['ORDER_CREATED', 'ORDER_PAID', 'ORDER_CANCELLED'].filter((type) =>
    entry.actions.has(type) || state.records.has(eventKey(orderId, type)) || state.notifications.has(eventKey(orderId, type)));

  const events = types.map((type) => {
    const action = entry.actions.get(type);
    const record = state.records.get(eventKey(orderId, type));
    const stored = state.notifications.get(eventKey(orderId, type));
    const lag = stored ? lagOf(stored.notification) : null;
    const times = [action?.at, record?.at, stored?.at].filter((at) => at !== undefined).map((at) => at - (action?.t0 ?? at));
    const scale = Math.max(1000, ...times); // one second, unless something took longer
    return h('div', { class: 'event', data: { eventType: type } },
      h('div', { class: 'label' }, type),
      h('ol', { class: 'steps' },
        step('http', action?.status ? `HTTP ${action.status}` : 'HTTP', action?.status ? action.at : undefined, action?.t0, scale,
          action ? (type === 'ORDER_CREATED' ? 'POST /api/orders' : `PATCH /api/orders/${orderId}/${type === 'ORDER_PAID' ? 'pay' : 'cancel'}`) : 'another client'),
        step('record', 'Kafka record', record?.at, action?.t0, scale,
          record ? `partition ${record.record.partition} · offset ${record.record.offset} · key "${record.record.key}"` : null),
        step('notification', 'Notification', stored?.at, action?.t0, scale,
          stored ? (lag === null ? 'lag …' : `lag ${ms(lag)} (stored − event timestamp)`) : null)));
  });

  const card = h('article', { class: 'order', id: `order-${orderId}`, data: { orderId, status: order.status } },
    h('div', { class: 'head' },
      h('h3', {}, `Order #${orderId}`),
      h('span', { class: 'order-status', data: { status: order.status } }, order.status),
      h('span', { class: 'sub' }, `total ${order.totalAmount}`),
      order.status === 'PENDING' ? h('span', { class: 'actions' },
        h('button', { type: 'button', class: 'small', onclick: () => act(orderId, 'pay') }, 'Pay'),
        h('button', { type: 'button', class: 'small secondary', onclick: () => act(orderId, 'cancel') }, 'Cancel')) : null),
    events,
    entry.history ? h('div', { class: 'history' }, h('span', {}, `History · GET /api/orders/${orderId}/events`),
      h('ol', {}, entry.history.map((event) => h('li', { data: { eventType: event.eventType } },
        `v${event.version} ${event.eventType} at ${clock(event.timestamp)}`)))) : null);

  const existing = $(`order-${orderId}`);
  if (existing) existing.replaceWith(card);
  else $('orders').prepend(card);
  $('orders-empty').hidden = true;
}

async function placeOrder(event) {
  event.preventDefault();
  $('order-error').textContent = '';
  const items = [...document.querySelectorAll('#catalog input')]
    .map((input) => ({ productId: Number(input.dataset.productId), quantity: Number(input.value) }))
    .filter((item) => item.quantity > 0);
  if (items.length === 0) { $('order-error').textContent = 'Choose a quantity for at least one product.'; return; }
  const t0 = performance.now();
  const answer = await api('POST', '/api/orders', { items });
  if (!answer.ok) { $('order-error').textContent = problemText(answer); return; }
  const entry = trackOrder(answer.json);
  entry.actions.set('ORDER_CREATED', { t0, at: answer.at, status: answer.status });
  renderOrder(answer.json.id);
  loadHistory(answer.json.id);
}

async function act(orderId, verb) {
  const type = verb === 'pay' ? 'ORDER_PAID' : 'ORDER_CANCELLED';
  const entry = state.orders.get(orderId);
  const action = { t0: performance.now() };
  entry.actions.set(type, action);
  const answer = await api('PATCH', `/api/orders/${orderId}/${verb}`);
  Object.assign(action, { at: answer.at, status: answer.status });
  if (answer.ok) entry.order = answer.json;
  else $('order-error').textContent = problemText(answer);
  renderOrder(orderId);
  loadHistory(orderId);
}

// ---------- the outbox, the inbox and the broker, twice a second ----------

async function pollPipeline(signal) {
  while (!signal.aborted) {
    try {
      const answer = await api('GET', '/flow/pipeline', undefined, { quiet: true });
      if (answer.ok) showPipeline(answer.json);
    } catch { /* the app is restarting: try again */ }
    await delay(500, signal);
  }
}

function showPipeline({ outbox, inbox, broker }) {
  const outboxCount = $('outbox-count');
  outboxCount.textContent = outbox;
  outboxCount.dataset.count = outbox;
  $('inbox-count').textContent = inbox;
  $('stage-outbox').classList.toggle('busy', outbox > 0);
  $('stage-inbox').classList.toggle('busy', inbox > 0);
  const brokerState = $('broker-state');
  const upIn = broker.down ? Math.max(0, Math.ceil((Date.parse(broker.upAt) - Date.now()) / 1000)) : 0;
  brokerState.dataset.state = broker.down ? 'down' : state.config.kafka === 'disabled' ? 'disabled' : 'up';
  brokerState.textContent = broker.down ? `DOWN · ${upIn} s` : { embedded: 'UP', external: 'UP', disabled: 'disabled' }[state.config.kafka];
  $('stage-kafka').classList.toggle('busy', broker.down);
  $('outage-banner').hidden = !broker.down;
  $('outage-countdown').textContent = broker.down ? `Back in ${upIn} s.` : '';
  $('outage-end').hidden = !broker.down;
}

// ---------- fault buttons (admin, embedded broker, Development) ----------

async function startOutage(event) {
  event.preventDefault();
  const answer = await api('POST', '/flow/faults/broker-outage', { seconds: Number($('outage-seconds').value) });
  $('fault-result').textContent = answer.ok ? `Broker down until ${clock(answer.json.upAt)}. Place a few orders now.` : problemText(answer);
}

async function endOutage() {
  const answer = await api('DELETE', '/flow/faults/broker-outage');
  $('fault-result').textContent = answer.ok ? 'Broker up again: watch the outbox drain.' : problemText(answer);
}

async function placeBurst(event) {
  event.preventDefault();
  const orders = Number($('burst-orders').value);
  const button = $('burst-start');
  button.disabled = true;
  $('fault-result').textContent = `Placing ${orders} orders…`;
  try {
    const answer = await api('POST', '/flow/faults/burst', { orders });
    const failures = Object.entries(answer.json?.failed ?? {}).map(([status, count]) => `${count} × ${status}`).join(', ');
    $('fault-result').textContent = answer.ok
      ? `${answer.json.created} of ${answer.json.requested} orders created in ${ms(answer.json.elapsedMs)}${failures ? ` (${failures})` : ''}.`
      : problemText(answer);
  } finally {
    button.disabled = false;
  }
}

// ---------- signing in and out ----------

async function signIn(register) {
  $('auth-error').textContent = '';
  const credentials = { email: $('email').value.trim(), password: $('password').value };
  if (register) {
    const registered = await api('POST', '/api/auth/register', credentials);
    if (!registered.ok) { $('auth-error').textContent = problemText(registered); return; }
  }
  const login = await api('POST', '/api/auth/login', credentials);
  if (!login.ok) { $('auth-error').textContent = problemText(login); return; }
  state.token = login.json.accessToken;
  sessionStorage.setItem(TOKEN_KEY, state.token);
  await startSession();
}

async function startSession() {
  const me = await api('GET', '/api/auth/me', undefined, { quiet: true });
  if (!me.ok) { signOut(); return; }
  state.me = me.json;
  $('who-email').textContent = state.me.email;
  $('who-role').textContent = state.me.role;
  $('who-role').classList.toggle('admin', state.me.role === 'admin');
  $('who').hidden = false;
  $('auth-form').hidden = true;
  $('order-form').hidden = false;
  $('password').value = '';

  const session = new AbortController();
  state.session = session;
  if (state.config.kafka === 'disabled') setLive('tap-state', 'unavailable');
  else keepReading('/flow/records', 'tap-state', { onEvent: (message) => onRecord(JSON.parse(message.data)) }, session.signal);
  keepReading('/api/notifications/stream', 'stream-state', { onEvent: onNotification, lastEventId: () => state.lastPosition }, session.signal);
  pollPipeline(session.signal);

  const faults = state.config.faults;
  $('faults').hidden = state.me.role !== 'admin';
  $('faults-reason').textContent = faults.available ? '' : faults.reason;
  for (const control of document.querySelectorAll('#faults button, #faults input')) control.disabled = !faults.available;

  const recent = await api('GET', '/api/orders?pageSize=5', undefined, { quiet: true });
  for (const order of (recent.ok ? recent.json.items : []).reverse()) {
    trackOrder(order);
    renderOrder(order.id);
    loadHistory(order.id);
  }
}

function signOut(message = '') {
  state.session?.abort();
  Object.assign(state, { token: null, me: null, session: null, lastPosition: null, lags: [], counts: { records: 0, notifications: 0 } });
  for (const map of [state.orders, state.records, state.notifications, state.eventTimes, state.waitingForEventTime]) map.clear();
  sessionStorage.removeItem(TOKEN_KEY);
  for (const list of ['orders', 'records', 'notifications']) { $(list).replaceChildren(); $(`${list}-empty`).hidden = false; }
  $('record-count').textContent = '0';
  $('notification-count').textContent = '0';
  $('who').hidden = true;
  $('faults').hidden = true;
  $('order-form').hidden = true;
  $('auth-form').hidden = false;
  $('auth-error').textContent = message;
  setLive('tap-state', 'off');
  setLive('stream-state', 'off');
  drawChart();
}

async function loadCatalog() {
  const answer = await api('GET', '/api/products', undefined, { quiet: true });
  const products = answer.ok ? answer.json.filter((product) => product.status === 'ACTIVE') : [];
  $('catalog').replaceChildren(...products.map((product, index) => h('tr', {},
    h('td', {}, product.name),
    h('td', { class: 'num' }, product.price),
    h('td', { class: 'num' }, h('input', {
      type: 'number', min: 0, max: 1000, value: index === 0 ? 1 : 0, 'aria-label': `Quantity of ${product.name}`,
      data: { productId: product.id },
    })))));
}

async function start() {
  const config = await api('GET', '/flow/config', undefined, { quiet: true });
  state.config = config.json;
  $('kafka-topic').textContent = state.config.topic;
  showPipeline({ outbox: '–', inbox: '–', broker: { down: false } });
  $('auth-form').addEventListener('submit', (event) => { event.preventDefault(); signIn(false); });
  $('register').addEventListener('click', () => { if ($('auth-form').reportValidity()) signIn(true); });
  $('sign-out').addEventListener('click', () => signOut());
  $('order-form').addEventListener('submit', placeOrder);
  $('outage-form').addEventListener('submit', startOutage);
  $('outage-end').addEventListener('click', endOutage);
  $('burst-form').addEventListener('submit', placeBurst);
  drawChart();
  await loadCatalog();
  if (state.token) await startSession();
  document.body.dataset.ready = 'true';
}

start();
