// The operator dashboard (issue 12): plain JavaScript over the admin listener's /api/ (JSON).
//  1. Sign-in keeps the token in sessionStorage (this tab only); every /api/ call sends it as
//     `Authorization: Bearer`; a 401 anywhere signs out with a message.
//  2. Every 2 s: summary, open reviews, dead letters (and every 30 s the comparison) are fetched
//     and the tables updated in place, row by row, keyed by id (buttons survive a refresh).
//  3. Redrive buttons POST, then refresh at once. The search box tries a payment, then a customer.
// Every value from the API is untrusted (payload fields): the DOM is built with createElement and
// textContent only, never from HTML strings.
'use strict';

(function () {
  const TOKEN_KEY = 'webhook-receiver.admin-token';
  const POLL_MS = 2000;
  const COMPARE_EVERY = 15; // polls: the comparison is refreshed every 30 s
  const HOUR = 3600000;

  const $ = (id) => document.getElementById(id);
  let timer = null;
  let polls = 0;
  let running = false; // a refresh is in flight
  let again = false; // someone asked for a refresh while one was in flight
  let generation = 0; // bumped at sign-out: answers to older requests are dropped

  // ---- DOM helpers: text only ------------------------------------------------------------------

  function el(tag, text, className) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (className) e.className = className;
    return e;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  const dash = (v) => (v === null || v === undefined || v === '' ? '–' : String(v));

  function age(ms) {
    if (ms === null || ms === undefined) return '–';
    const s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + ' s';
    const m = Math.floor(s / 60);
    if (m < 60) return m + ' min';
    const h = Math.floor(m / 60);
    if (h < 48) return h + ' h ' + (m % 60) + ' min';
    return Math.floor(h / 24) + ' d ' + (h % 24) + ' h';
  }

  const amount = (value, currency) =>
    value === null || value === undefined ? '–' : String(value) + (currency ? ' ' + currency : '');

  // A cell: a string, or {text, cls, title}; KEEP leaves the cell alone (it holds a button).
  // Only changed values touch the DOM.
  const KEEP = {};
  function setCell(td, spec) {
    if (spec === KEEP) return;
    const c = typeof spec === 'object' && spec !== null ? spec : { text: spec };
    const text = dash(c.text);
    if (td.textContent !== text) td.textContent = text;
    const cls = c.cls || '';
    if (td.className !== cls) td.className = cls;
    if (c.title) td.title = c.title;
    else td.removeAttribute('title');
  }

  // Brings tbody's rows in line with items, in order, keyed by key(item). New rows get
  // decorate(tr, item) once (data attributes, buttons); existing rows keep their nodes.
  function syncRows(tbody, items, key, cells, decorate) {
    const old = new Map();
    for (const tr of Array.from(tbody.rows)) old.set(tr.dataset.key, tr);
    items.forEach((item, i) => {
      const k = String(key(item));
      let tr = old.get(k);
      const specs = cells(item);
      if (tr) {
        old.delete(k);
      } else {
        tr = document.createElement('tr');
        tr.dataset.key = k;
        for (let j = 0; j < specs.length; j++) tr.appendChild(document.createElement('td'));
        if (decorate) decorate(tr, item);
      }
      specs.forEach((spec, j) => setCell(tr.cells[j], spec));
      if (tbody.rows[i] !== tr) tbody.insertBefore(tr, tbody.rows[i] || null);
    });
    for (const tr of old.values()) tr.remove();
  }

  function table(headers, rows) {
    const t = el('table');
    const tr = t.createTHead().insertRow();
    for (const h of headers) {
      const th = el('th', h);
      th.scope = 'col';
      tr.appendChild(th);
    }
    const body = t.createTBody();
    for (const row of rows) {
      const r = body.insertRow();
      for (const v of row) r.appendChild(el('td', v === '' ? '' : dash(v)));
    }
    return t;
  }

  function fields(pairs) {
    const dl = el('dl', null, 'fields');
    for (const [k, v] of pairs) {
      dl.appendChild(el('dt', k));
      dl.appendChild(el('dd', dash(v)));
    }
    return dl;
  }

  function setStatus(text, isError) {
    const s = $('status');
    s.textContent = text;
    s.className = isError ? 'error' : '';
  }

  // ---- API -------------------------------------------------------------------------------------

  class Unauthorized extends Error {}

  // Resolves to {status, body}. A 401 throws Unauthorized (the caller signs out); an answer that
  // arrives after a sign-out throws too, so nothing is drawn from it.
  async function api(path, options) {
    const gen = generation;
    const token = sessionStorage.getItem(TOKEN_KEY) || '';
    const init = Object.assign({ cache: 'no-store', credentials: 'omit' }, options || {});
    init.headers = { Authorization: 'Bearer ' + token, Accept: 'application/json' };
    const res = await fetch(path, init);
    if (res.status === 401) throw new Unauthorized('unauthorized');
    let body = null;
    try {
      body = await res.json();
    } catch (e) {
      body = null;
    }
    if (gen !== generation) throw new Error('signed out meanwhile');
    return { status: res.status, body: body };
  }

  function apiError(r) {
    const b = r.body || {};
    return 'HTTP ' + r.status + (b.error ? ': ' + b.error : '') + (b.reason ? ' (' + b.reason + ')' : '');
  }

  // ---- sign-in ---------------------------------------------------------------------------------

  function showSignIn(message) {
    $('dashboard').hidden = true;
    $('signout').hidden = true;
    $('signin-view').hidden = false;
    $('signin-error').textContent = message || '';
    $('token').value = '';
    $('token').focus();
  }

  function signOut(message) {
    generation++;
    clearTimeout(timer);
    timer = null;
    again = false;
    sessionStorage.removeItem(TOKEN_KEY);
    for (const id of ['reviews', 'settlement', 'dead']) clear($(id).tBodies[0]);
    for (const id of ['summary', 'search-result', 'compare']) clear($(id));
    $('search').value = '';
    setStatus('', false);
    showSignIn(message);
  }

  async function signIn(event) {
    event.preventDefault();
    const token = $('token').value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    $('signin-error').textContent = '';
    try {
      const r = await api('/api/summary');
      if (r.status !== 200) throw new Error(apiError(r));
    } catch (e) {
      sessionStorage.removeItem(TOKEN_KEY);
      $('signin-error').textContent =
        e instanceof Unauthorized ? 'That token was not accepted.' : 'Cannot sign in: ' + e.message;
      $('token').select();
      return;
    }
    $('token').value = '';
    start();
  }

  function start() {
    $('signin-view').hidden = true;
    $('dashboard').hidden = false;
    $('signout').hidden = false;
    polls = 0;
    refresh();
  }

  // ---- polling ---------------------------------------------------------------------------------

  // One refresh at a time: a call during one (a redrive, a sign-in) runs right after it.
  async function refresh() {
    if (running) {
      again = true;
      return;
    }
    running = true;
    const gen = generation;
    clearTimeout(timer);
    try {
      const tasks = [loadSummary(), loadReviews(), loadDead()];
      if (polls % COMPARE_EVERY === 0) tasks.push(loadCompare());
      await Promise.all(tasks);
      if (gen === generation) setStatus('Updated ' + new Date().toLocaleTimeString(), false);
    } catch (e) {
      if (gen !== generation) {
        // signed out meanwhile: drop the answer
      } else if (e instanceof Unauthorized) {
        signOut('Signed out: the token was not accepted any more. Sign in again.');
      } else {
        setStatus('Cannot reach the admin API: ' + e.message + ' (retrying)', true);
      }
    }
    running = false;
    if (again) {
      again = false;
      timer = setTimeout(refresh, 0);
    } else if (gen === generation) {
      polls++;
      timer = setTimeout(refresh, POLL_MS);
    }
  }

  async function loadSummary() {
    const r = await api('/api/summary');
    if (r.status !== 200) throw new Error('summary: ' + apiError(r));
    const sources = (r.body && r.body.sources) || [];
    const strip = $('summary');
    clear(strip);
    for (const s of sources) {
      const li = el('li', null, 'card');
      li.dataset.source = s.source;
      li.appendChild(el('h3', s.source));
      const b = s.backlog || {};
      const st = s.settlement || {};
      const rv = s.reviews || {};
      const over = (rv.over || []).filter((o) => o.count > 0).map((o) => o.count + ' over ' + o.label);
      const items = [
        ['Backlog', (b.pending || 0) + (b.processing || 0) + ' (oldest ' + age(b.oldest_age_ms) + ')', false],
        ['Settlement', (st.awaiting || 0) + ' awaiting, ' + (st.overdue || 0) + ' overdue', st.overdue > 0],
        ['Open reviews', (rv.open || 0) + ' (oldest ' + age(rv.oldest_open_age_ms) + ')' +
          (over.length ? ', ' + over.join(', ') : ''), over.length > 0],
        ['Dead letters', String(s.dead || 0), s.dead > 0],
      ];
      const dl = el('dl');
      for (const [k, v, alert] of items) {
        dl.appendChild(el('dt', k));
        dl.appendChild(el('dd', v, alert ? 'alert' : ''));
      }
      li.appendChild(dl);
      strip.appendChild(li);
    }
    syncRows($('settlement').tBodies[0], sources, (s) => s.source, (s) => {
      const st = s.settlement || {};
      const b = s.backlog || {};
      return [
        s.source,
        { text: st.awaiting, cls: 'num' },
        age(st.oldest_awaiting_age_ms),
        { text: st.overdue, cls: st.overdue > 0 ? 'num alert' : 'num' },
        age(st.overdue_after_ms),
        { text: (b.pending || 0) + (b.processing || 0), cls: 'num' },
        age(b.oldest_age_ms),
      ];
    });
  }

  function flagClass(review) {
    if (!review.flag) return '';
    return review.flag_after_ms >= 24 * HOUR ? 'flag severe' : 'flag';
  }

  async function loadReviews() {
    const r = await api('/api/reviews?state=open');
    if (r.status !== 200) throw new Error('reviews: ' + apiError(r));
    const reviews = Array.isArray(r.body) ? r.body : [];
    $('reviews-count').textContent = '(' + reviews.length + ' open)';
    $('reviews-empty').hidden = reviews.length > 0;
    syncRows(
      $('reviews').tBodies[0],
      reviews,
      (v) => v.source + '\n' + v.transaction_id,
      (v) => [
        { text: v.transaction_id, cls: 'id', title: v.external_id ? 'externalId ' + v.external_id : '' },
        v.source,
        { text: amount(v.total_amount, v.currency), cls: 'num' },
        { text: v.customer_id, cls: 'id' },
        { text: v.documentation_status, cls: v.documentation_status === 'PENDING_UPLOAD' ? 'warn' : '' },
        { text: age(v.age_ms) + (v.flag ? ' · ' + v.flag : ''), cls: flagClass(v), title: 'opened ' + dash(v.opened_at) },
        {
          text: dash(v.notify_state) + (v.notified_at ? ' ' + v.notified_at : ''),
          cls: v.notify_state === 'pending' ? 'warn' : '',
        },
      ],
      (tr, v) => {
        tr.dataset.transaction = v.transaction_id;
        tr.dataset.source = v.source;
        tr.dataset.testid = 'review-row';
      }
    );
  }

  async function loadDead() {
    const r = await api('/api/events?status=dead&limit=100');
    if (r.status !== 200) throw new Error('dead letters: ' + apiError(r));
    const events = (r.body && r.body.events) || [];
    $('dead-count').textContent = '(' + events.length + (r.body && r.body.next ? '+' : '') + ')';
    $('dead-empty').hidden = events.length > 0;
    $('redrive-all').disabled = events.length === 0;
    syncRows(
      $('dead').tBodies[0],
      events,
      (e) => e.id,
      (e) => [
        { text: e.id, cls: 'num' },
        e.source,
        e.event_type,
        { text: e.entity_id, cls: 'id' },
        { text: e.attempts, cls: 'num' },
        e.received_at,
        { text: e.last_error, cls: 'error-text' },
        KEEP,
      ],
      (tr, e) => {
        tr.dataset.eventId = String(e.id);
        tr.dataset.testid = 'dead-row';
        const button = el('button', 'Redrive');
        button.type = 'button';
        button.dataset.testid = 'redrive';
        button.setAttribute('aria-label', 'Redrive event ' + e.id);
        button.addEventListener('click', () => redrive(e.id, button));
        tr.cells[7].appendChild(button);
      }
    );
  }

  // ---- redrive ---------------------------------------------------------------------------------

  async function post(path, what) {
    const gen = generation;
    try {
      return await api(path, { method: 'POST' });
    } catch (e) {
      if (gen !== generation) return null;
      if (e instanceof Unauthorized) signOut('Signed out: the token was not accepted any more.');
      else $('redrive-message').textContent = what + ' failed: ' + e.message;
      return null;
    }
  }

  async function redrive(id, button) {
    button.disabled = true;
    const r = await post('/api/events/' + encodeURIComponent(id) + '/retry', 'Redrive');
    if (!r) return;
    const msg = $('redrive-message');
    if (r.status === 200) msg.textContent = 'Event ' + id + ' queued again.';
    else if (r.status === 409) msg.textContent = 'Event ' + id + ' is not dead (' + dash(r.body && r.body.status) + ').';
    else msg.textContent = 'Event ' + id + ': ' + apiError(r);
    refresh();
  }

  async function redriveAll() {
    $('redrive-all').disabled = true;
    const r = await post('/api/events/retry-dead', 'Redrive all');
    if (!r) return;
    $('redrive-message').textContent =
      r.status === 200 ? dash(r.body && r.body.retried) + ' events queued again.' : 'Redrive all: ' + apiError(r);
    refresh();
  }

  // ---- search ----------------------------------------------------------------------------------

  function renderPayments(box, views) {
    for (const p of views) {
      const div = el('article', null, 'record');
      div.dataset.testid = 'payment';
      div.appendChild(el('h3', 'Payment ' + p.transaction_id + ' (' + p.source + ')'));
      div.appendChild(
        fields([
          ['Status', dash(p.status) + (p.status_at ? ' at ' + p.status_at : '')],
          ['Type', p.type],
          ['Amount', amount(p.total_amount, p.currency)],
          ['External id', p.external_id],
          ['Customer', p.customer_id],
          ['Documentation', p.documentation_status],
          ['Settlement batch', p.settlement_batch_id],
          ['Captured', p.captured_at],
          ['Settled', p.settled_at],
          ['Unsettled', p.unsettled_at ? p.unsettled_at + ' ' + dash(p.unsettled_reason) : null],
          ['Status from', p.status_origin === 'api' ? 'the Conomy API (reconciliation)' : 'a webhook'],
          ['Parent', p.parent ? p.parent.transaction_id + ' (' + dash(p.parent.status) + ')' : p.parent_payment_id],
          ['Refunds', (p.children || []).map((c) => c.transaction_id + ' ' + dash(c.status)).join(', ')],
          ['Companions', (p.companions || []).map((c) => c.transaction_id + ' ' + dash(c.status)).join(', ')],
          ['First seen', p.first_seen],
          ['Last seen', p.last_seen],
        ])
      );
      div.appendChild(el('h4', 'History'));
      div.appendChild(
        table(
          ['Occurred', 'Received', 'Event', 'Status', 'Effect', 'Origin', 'Event id'],
          (p.history || []).map((h) => [h.occurred_at, h.received_at, h.event_type, h.status, h.effect, h.origin, h.event_id])
        )
      );
      box.appendChild(div);
    }
  }

  function renderCustomers(box, views) {
    for (const c of views) {
      const div = el('article', null, 'record');
      div.dataset.testid = 'customer';
      div.appendChild(el('h3', 'Customer ' + c.customer_id + ' (' + c.source + ')'));
      div.appendChild(
        fields([
          ['Documented', c.documented ? 'yes' : 'no'],
          ['Operation level', c.operation_level],
          ['Documents', c.documents_count],
          ['Client', c.client_id],
          ['Auto-created', c.auto_created === null || c.auto_created === undefined ? null : c.auto_created ? 'yes' : 'no'],
          ['State at', c.state_at],
          ['First seen', c.first_seen],
          ['Last seen', c.last_seen],
        ])
      );
      div.appendChild(el('h4', 'History'));
      div.appendChild(
        table(
          ['Occurred', 'Received', 'Event', 'Level', 'Documents', 'Effect', 'Origin', 'Event id'],
          (c.history || []).map((h) => [
            h.occurred_at, h.received_at, h.event_type, h.operation_level, h.documents_count, h.effect, h.origin,
            h.event_id,
          ])
        )
      );
      box.appendChild(div);
    }
  }

  async function search(event) {
    event.preventDefault();
    const id = $('search').value.trim();
    const box = $('search-result');
    if (!id) return;
    clear(box);
    box.appendChild(el('p', 'Looking up ' + id + '…', 'hint'));
    const gen = generation;
    try {
      const path = encodeURIComponent(id);
      const payment = await api('/api/payments/' + path);
      let customer = null;
      if (payment.status === 404) customer = await api('/api/customers/' + path);
      if (gen !== generation) return;
      clear(box);
      if (payment.status === 200) renderPayments(box, payment.body || []);
      else if (customer && customer.status === 200) renderCustomers(box, customer.body || []);
      else if (customer && customer.status === 404) {
        box.appendChild(el('p', 'Not found: no payment or customer with id ' + id + '.', 'empty'));
      } else box.appendChild(el('p', 'Search failed: ' + apiError(customer || payment), 'error'));
    } catch (e) {
      if (gen !== generation) return;
      if (e instanceof Unauthorized) signOut('Signed out: the token was not accepted any more.');
      else {
        clear(box);
        box.appendChild(el('p', 'Search failed: ' + e.message, 'error'));
      }
    }
  }

  // ---- comparison ------------------------------------------------------------------------------

  const latency = (ms) => (ms === null || ms === undefined ? '–' : ms + ' ms');

  async function loadCompare() {
    const r = await api('/api/compare?a=production&b=sandbox&since=24h');
    const box = $('compare');
    clear(box);
    if (r.status === 400) {
      box.appendChild(
        el(
          'p',
          'No comparison: ' + apiError(r) + '. It needs two sources named production and sandbox ' +
            '(docs/configuration.md, "Two sources side by side").',
          'empty'
        )
      );
      return;
    }
    if (r.status !== 200) throw new Error('compare: ' + apiError(r));
    const c = r.body;
    // The API counts a source it does not know as zeros: an empty window gets a sentence instead.
    if (!(c.event_types || []).length) {
      box.appendChild(el('p', 'Neither ' + c.a + ' nor ' + c.b + ' received an event in the last 24 h ' +
        '(a source that is not configured counts as none: docs/configuration.md, "Two sources side by side").',
        'empty'));
      return;
    }
    const rows = [];
    const stats = (type, name, s) => [
      type, name, s.received, s.done, s.unhandled, s.dead, s.pending, s.quarantined, s.retried,
      latency(s.p50_ms), latency(s.p95_ms), latency(s.max_ms),
    ];
    for (const t of c.event_types || []) {
      rows.push(stats(t.event_type, c.a, t.a));
      rows.push(stats('', c.b, t.b));
    }
    if (c.total) {
      rows.push(stats('(all)', c.a, c.total.a));
      rows.push(stats('', c.b, c.total.b));
    }
    box.appendChild(
      table(
        ['Event type', 'Source', 'Received', 'Done', 'Unhandled', 'Dead', 'Pending', 'Quarantined', 'Retried',
          'p50', 'p95', 'Max'],
        rows
      )
    );
    const p = c.payments || {};
    box.appendChild(
      el(
        'p',
        'Payments sharing an externalId: ' + dash(p.shared_external_ids) + ', ' + dash(p.agreeing_external_ids) +
          ' agree, ' + dash(p.differing_external_ids) + ' differ.'
      )
    );
    if ((p.differences || []).length) {
      box.appendChild(
        table(
          ['External id', c.a + ' transaction', c.a + ' status', c.b + ' transaction', c.b + ' status'],
          p.differences.map((d) => [d.external_id, d.a.transaction_id, d.a.status, d.b.transaction_id, d.b.status])
        )
      );
    }
  }

  async function refreshCompare() {
    const gen = generation;
    try {
      await loadCompare();
    } catch (e) {
      if (gen !== generation) return;
      if (e instanceof Unauthorized) signOut('Signed out: the token was not accepted any more.');
      else setStatus('Comparison: ' + e.message, true);
    }
  }

  // ---- start -----------------------------------------------------------------------------------

  document.addEventListener('DOMContentLoaded', () => {
    $('signin').addEventListener('submit', signIn);
    $('signout').addEventListener('click', () => signOut('Signed out.'));
    $('search-form').addEventListener('submit', search);
    $('redrive-all').addEventListener('click', redriveAll);
    $('compare-refresh').addEventListener('click', refreshCompare);
    if (sessionStorage.getItem(TOKEN_KEY)) start();
    else showSignIn('');
  });
})();
