/* Funding Rate Service dashboard: plain JS, no libraries, no build step.
   Data: this service's REST API (<prefix>/api/v1) and its WebSocket. Every number carries its unit;
   the client never converts rates between bases (the API gives rate_1h, rate_8h, annualized_rate). */
(function () {
  'use strict';
  var CFG = window.FRS_CONFIG || {};
  var qs0 = new URLSearchParams(location.search);
  // the page is served at <prefix>/ or <prefix>/dashboard; <prefix> is the API Gateway stage ('' locally)
  var PREFIX = location.pathname.replace(/\/dashboard\/?$/, '').replace(/\/+$/, '');
  var API = PREFIX + '/api/v1';
  var WS_URL = qs0.get('ws') || CFG.ws_url ||
    ((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + API + '/ws');
  var RECONCILE_MS = 30000, HEALTH_MS = 15000, FLASH_MS = 2500, FADE_MS = 2000;

  // ---- state in the URL -------------------------------------------------------------------------
  var DEFAULTS = {view: 'opps', symbol: '', include_dexes: '', exclude_dexes: '', min_divergence: '0.0001',
    min_profit: '0', min_volume: '100000', min_oi_usd: '', min_alive_hours: '', fee_type: 'maker', hold_hours: '8',
    sort: 'net_profit_percent', dir: 'desc', open: '', basis: '8h', msym: '', market: 'BTC', range: '24h',
    hbasis: '1h'};
  var FILTER_KEYS = ['symbol', 'include_dexes', 'exclude_dexes', 'min_divergence', 'min_profit', 'min_volume',
    'min_oi_usd', 'min_alive_hours', 'fee_type', 'hold_hours'];
  var S = {};
  Object.keys(DEFAULTS).forEach(function (k) { S[k] = qs0.has(k) ? qs0.get(k) : DEFAULTS[k]; });

  function saveUrl() {
    var q = new URLSearchParams();
    Object.keys(DEFAULTS).forEach(function (k) { if (S[k] !== DEFAULTS[k]) q.set(k, S[k]); });
    if (qs0.get('ws')) q.set('ws', qs0.get('ws'));
    var s = q.toString();
    history.replaceState(null, '', location.pathname + (s ? '?' + s : ''));
  }

  // ---- helpers ----------------------------------------------------------------------------------
  function $(sel, root) { return (root || document).querySelector(sel); }
  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'cls') e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    (kids || []).forEach(function (c) { if (c != null) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function num(x) { return typeof x === 'number' && isFinite(x); }
  function fixed(x, d) { return num(x) ? x.toFixed(d) : '–'; }
  // a fraction shown in percent: 0.0001 -> "0.0100 %"
  function pct(frac, d) { return num(frac) ? (frac * 100).toFixed(d == null ? 4 : d) + ' %' : '–'; }
  function usd(x) {
    if (!num(x)) return '–';
    var a = Math.abs(x);
    if (a >= 1e9) return (x / 1e9).toFixed(2) + ' B USD';
    if (a >= 1e6) return (x / 1e6).toFixed(2) + ' M USD';
    if (a >= 1e3) return (x / 1e3).toFixed(1) + ' k USD';
    return x.toFixed(2) + ' USD';
  }
  function hours(x) { return num(x) ? (x < 10 ? x.toFixed(2) : x.toFixed(1)) + ' h' : '–'; }
  function bps(x) { return num(x) ? x.toFixed(2) + ' bps' : '–'; }
  function when(iso) {
    if (!iso) return '–';
    var d = new Date(iso);
    if (isNaN(d)) return String(iso);
    return d.toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
  }
  function inFuture(iso) {
    var ms = new Date(iso) - Date.now();
    if (!isFinite(ms)) return '';
    var m = Math.round(Math.abs(ms) / 60000);
    var s = m >= 60 ? Math.floor(m / 60) + ' h ' + (m % 60) + ' min' : m + ' min';
    return ms >= 0 ? 'in ' + s : s + ' ago';
  }
  function signCls(x) { return num(x) ? (x > 0 ? 'pos' : x < 0 ? 'neg' : '') : ''; }
  function getJSON(path) {
    return fetch(API + path, {headers: {Accept: 'application/json'}}).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) { var e = new Error((body && (body.detail || body.message || body.error)) || ('HTTP ' + r.status)); e.status = r.status; e.body = body; throw e; }
        return body;
      });
    });
  }
  function debounce(fn, ms) { var t; return function () { clearTimeout(t); t = setTimeout(fn, ms); }; }

  var live = $('#live');
  var stats = window.frsStats = {wsFrames: 0, wsOppEvents: 0, wsRateUpdates: 0, restLoads: 0, firstRenderMs: null};
  function setLive(text, cls) { live.textContent = text; live.className = 'pill ' + (cls || ''); }

  // ---- venues ----------------------------------------------------------------------------------
  var DEXES = [];               // names, from /dexes
  var DEX_META = {};            // name -> /dexes record
  var RATES = {};               // dex -> symbol -> rate record (funding-rates/{dex} shape)

  // ---- tabs -------------------------------------------------------------------------------------
  var tabs = Array.prototype.slice.call(document.querySelectorAll('[role=tab]'));
  function showView(v, focus) {
    if (['opps', 'matrix', 'history'].indexOf(v) < 0) v = 'opps';
    S.view = v; saveUrl();
    tabs.forEach(function (t) {
      var on = t.dataset.view === v;
      t.setAttribute('aria-selected', on ? 'true' : 'false');
      t.tabIndex = on ? 0 : -1;
      $('#' + t.getAttribute('aria-controls')).hidden = !on;
      if (on && focus) t.focus();
    });
    if (v === 'matrix') renderMatrix();
    if (v === 'history') loadHistory();
  }
  tabs.forEach(function (t, i) {
    t.addEventListener('click', function () { showView(t.dataset.view); });
    t.addEventListener('keydown', function (e) {
      var d = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
      if (d) { e.preventDefault(); showView(tabs[(i + d + tabs.length) % tabs.length].dataset.view, true); }
    });
  });
  document.addEventListener('keydown', function (e) {
    if (e.target.matches('input,select,textarea') || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === '1' || e.key === '2' || e.key === '3') showView(['opps', 'matrix', 'history'][+e.key - 1], true);
    if (e.key === '/') { e.preventDefault(); var f = S.view === 'opps' ? $('#filters [name=symbol]') : S.view === 'matrix' ? $('#msym') : $('#market'); f.focus(); }
    if (e.key === 'Escape' && !$('#detail').hidden) closeDetail();
  });

  // ---- opportunities ------------------------------------------------------------------------------
  var COLS = [
    {k: 'symbol', label: 'Symbol', unit: '', cell: function (o) { return document.createTextNode(o.symbol); }, l: true},
    {k: 'long_dex', label: 'Long', unit: 'venue · interval', cell: function (o) { return legCell(o.long_dex, o.long_interval_hours); }, l: true},
    {k: 'short_dex', label: 'Short', unit: 'venue · interval', cell: function (o) { return legCell(o.short_dex, o.short_interval_hours); }, l: true},
    {k: 'long_rate', label: 'Long rate', unit: '% / 8 h', fmt: pct, sign: true},
    {k: 'short_rate', label: 'Short rate', unit: '% / 8 h', fmt: pct, sign: true},
    {k: 'divergence', label: 'Divergence', unit: '% / 8 h', fmt: pct},
    {k: 'estimated_fees', label: 'Fees', unit: '% round trip', fmt: pct},
    {k: 'net_profit_percent', label: 'Net', unit: '% over hold', fmt: pct, sign: true},
    {k: 'annualized_apy', label: 'APY', unit: '%, predicted', fmt: function (x) { return fixed(x, 2) + ' %'; }, sign: true},
    {k: 'realized_apy_24h', label: 'Realized', unit: 'APY %, last 24 h', cell: realizedCell, sign: true},
    {k: 'alive_hours', label: 'Alive', unit: 'h since opened', fmt: hours},
    {k: 'breakeven_hours', label: 'Break-even', unit: 'h', fmt: hours},
    {k: 'min_volume_24h', label: 'Volume', unit: 'USD 24 h, thinner leg', fmt: usd},
    {k: 'min_oi_usd', label: 'OI', unit: 'USD, smaller leg', fmt: usd},
    {k: 'avg_spread_bps', label: 'Spread', unit: 'bps, avg of legs', fmt: bps}
  ];
  // what holding the pair over the last 24 h paid (settled funding minus a round trip of fees), beside the
  // predicted APY; '≈' marks an estimate from collected rates (a leg's venue has no settlements in the window)
  function realizedCell(o) {
    var r = o.realized_24h;
    if (!r) return el('span', {title: 'no funding data for both legs over the last 24 h', text: '–'});
    var est = r.source !== 'settlements';
    return el('span', {title: SOURCE_WORDS[r.source] || r.source, text: (est ? '≈ ' : '') + fixed(r.apy_percent, 2) + ' %'});
  }
  var SOURCE_WORDS = {settlements: 'from what both venues settled', collected_rates: 'estimate: collected hourly rates accrued (no settlements yet)',
    mixed: 'one leg settled, the other estimated from collected rates'};
  // the sortable flat value of a record's realized return (REST and WebSocket records alike)
  function withRealized(o) { o.realized_apy_24h = o.realized_24h ? +o.realized_24h.apy_percent : null; return o; }
  function legCell(dex, iv) {
    return el('span', null, [dex || '–', el('span', {cls: 'iv', title: 'funding interval', text: num(iv) ? iv + ' h' : '? h'})]);
  }
  var OPPS = new Map();          // id -> {o, src, el, openedAt, closing}
  var oppMeta = {total: 0, hidden: {}, error: null, loaded: false, generated: null, hold: null, fee: null};
  var tbody = $('#opps tbody');

  function headerRow() {
    var tr = $('#opps thead tr');
    tr.textContent = '';
    COLS.forEach(function (c) {
      var th = el('th', {scope: 'col', 'data-k': c.k});
      if (c.l) th.style.textAlign = 'left';
      var b = el('button', {type: 'button', title: 'Sort by ' + c.label}, [c.label]);
      b.addEventListener('click', function () {
        if (S.sort === c.k) S.dir = S.dir === 'desc' ? 'asc' : 'desc'; else { S.sort = c.k; S.dir = c.l ? 'asc' : 'desc'; }
        saveUrl(); renderOpps();
      });
      th.appendChild(b);
      if (c.unit) th.appendChild(el('small', {text: c.unit}));
      if (S.sort === c.k) th.setAttribute('aria-sort', S.dir === 'asc' ? 'ascending' : 'descending');
      tr.appendChild(th);
    });
  }

  function filterQuery(overrides) {
    var q = new URLSearchParams();
    FILTER_KEYS.forEach(function (k) {
      var v = overrides && k in overrides ? overrides[k] : S[k];
      if (v !== '' && v != null) q.set(k, v);
    });
    q.set('limit', (overrides && overrides.limit) || '100');
    return q.toString();
  }

  function cellFor(c, o) {
    var td = el('td');
    if (c.l) td.className = 'l';
    if (c.cell) td.appendChild(c.cell(o)); else td.textContent = c.fmt(o[c.k]);
    if (c.sign) td.classList.add(signCls(o[c.k]) || 'z');
    return td;
  }
  function fillRow(tr, o) {
    tr.textContent = '';
    COLS.forEach(function (c) { tr.appendChild(cellFor(c, o)); });
  }
  function rowFor(id) {
    var r = OPPS.get(id);
    if (!r.el) {
      var tr = r.el = el('tr', {tabindex: '-1', 'data-id': id});
      tr.addEventListener('click', function () { openDetail(id); });
      tr.addEventListener('keydown', function (e) {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); openDetail(id); }
        if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
          e.preventDefault();
          var n = e.key === 'ArrowDown' ? tr.nextElementSibling : tr.previousElementSibling;
          if (n) focusRow(n);
        }
      });
    }
    r.el.setAttribute('data-src', r.src);
    fillRow(r.el, r.o);
    return r.el;
  }
  function focusRow(tr) {
    Array.prototype.forEach.call(tbody.children, function (x) { x.tabIndex = -1; });
    tr.tabIndex = 0; tr.focus();
  }
  function sortedIds() {
    var col = S.sort, sign = S.dir === 'asc' ? 1 : -1;
    return Array.from(OPPS.keys()).sort(function (a, b) {
      var x = OPPS.get(a).o[col], y = OPPS.get(b).o[col];
      var nx = x == null, ny = y == null;
      if (nx || ny) return nx === ny ? (a < b ? -1 : 1) : nx ? 1 : -1;   // unknowns last, either direction
      if (x < y) return -sign; if (x > y) return sign;
      return a < b ? -1 : 1;
    });
  }
  function renderOpps() {
    headerRow();
    var ids = sortedIds();
    var focused = document.activeElement && document.activeElement.parentNode === tbody ? document.activeElement : null;
    var frag = document.createDocumentFragment();
    ids.forEach(function (id) { frag.appendChild(rowFor(id)); });
    tbody.textContent = '';
    tbody.appendChild(frag);
    var first = tbody.firstElementChild;
    if (focused && focused.parentNode === tbody) focused.tabIndex = 0; else if (first) first.tabIndex = 0;
    if (S.open && OPPS.has(S.open)) OPPS.get(S.open).el.setAttribute('aria-selected', 'true');
    summary();
  }
  function summary() {
    var shown = 0; OPPS.forEach(function (r) { if (!r.closing) shown++; });
    var s = $('#opps-summary'), empty = $('#opps-empty');
    empty.hidden = true; empty.textContent = '';
    if (oppMeta.error) { s.textContent = 'Could not load opportunities: ' + oppMeta.error; return; }
    if (!oppMeta.loaded) { s.textContent = 'Loading opportunities…'; return; }
    s.textContent = shown + ' opportunit' + (shown === 1 ? 'y' : 'ies') + ' shown' +
      (oppMeta.total > shown ? ' (top ' + shown + ' of ' + oppMeta.total + ' by net)' : '') +
      ' · hold ' + S.hold_hours + ' h, ' + S.fee_type + ' fees · ' + stats.wsOppEvents + ' live updates';
    var notes = hiddenNotes();
    if (notes.length || shown === 0) {
      empty.hidden = false;
      if (shown === 0) empty.appendChild(el('p', {text: 'No opportunity passes these filters' +
        (oppMeta.total === 0 && !notes.length ? ': no venue pair pays more than its fees right now, or the venues have not reported yet.' : '.')}));
      notes.forEach(function (n) { empty.appendChild(n); });
    }
  }
  function hiddenNotes() {
    var out = [];
    [['min_divergence', 'min divergence', '0'], ['min_volume', 'min volume', '0']].forEach(function (f) {
      var n = oppMeta.hidden[f[0]];
      if (n > 0) {
        var b = el('button', {type: 'button', cls: 'link', 'data-show': f[0], text: 'show them'});
        b.addEventListener('click', function () { S[f[0]] = f[2]; syncForm(); saveUrl(); loadOpps(); });
        out.push(el('p', null, [n + ' opportunit' + (n === 1 ? 'y' : 'ies') + ' hidden by ' + f[1] + ' ' + S[f[0]] +
          (f[0] === 'min_volume' ? ' USD' : ' (fraction / 8 h)') + ' — ', b]));
      }
    });
    return out;
  }

  var loadSeq = 0;
  function loadOpps() {
    var seq = ++loadSeq;
    var query = filterQuery();
    var main = getJSON('/opportunities?' + query).then(function (body) {
      if (seq !== loadSeq) return;
      stats.restLoads++;
      var first = !oppMeta.loaded;
      var sameQuery = oppMeta.query === query;   // a periodic reload keeps the counts until the new ones land
      oppMeta = {total: body.total_count, hidden: sameQuery ? oppMeta.hidden : {}, query: query, error: null, loaded: true,
        generated: body.generated_at, hold: +S.hold_hours, fee: S.fee_type};
      var seen = {};
      body.opportunities.forEach(function (o) {
        seen[o.id] = true;
        withRealized(o);
        var r = OPPS.get(o.id);
        if (r) { r.o = o; if (r.closing) { r.closing = false; r.el && r.el.classList.remove('closing'); } }
        else { OPPS.set(o.id, {o: o, src: 'rest', el: null}); if (!first) flash(o.id); }
      });
      OPPS.forEach(function (r, id) { if (!seen[id]) fade(id); });
      renderOpps();
      if (first && stats.firstRenderMs == null) stats.firstRenderMs = Math.round(performance.now());  // ms since navigation start
      if (S.open) openDetail(S.open, true);
      return body.total_count;
    }).catch(function (e) {
      if (seq !== loadSeq) return;
      oppMeta.error = e.message + (e.body && e.body.parameter ? ' (parameter ' + e.body.parameter + ')' : '');
      oppMeta.loaded = true;
      OPPS.clear(); renderOpps();
    });
    // rows first; then the "hidden by" counts (the same query with one filter relaxed), which only touch the summary
    main.then(function (total) {
      if (seq !== loadSeq || total == null) return;
      return Promise.all(['min_divergence', 'min_volume'].filter(function (k) { return +S[k] > 0; }).map(function (k) {
        var o = {limit: '1'}; o[k] = '0';
        return getJSON('/opportunities?' + filterQuery(o)).then(function (b) { return [k, b.total_count]; }, function () { return [k, null]; });
      })).then(function (counts) {
        if (seq !== loadSeq) return;
        oppMeta.hidden = {};
        counts.forEach(function (kv) { if (kv[1] != null) oppMeta.hidden[kv[0]] = Math.max(0, kv[1] - total); });
        summary();
      });
    });
    return main;
  }
  function flash(id) {
    // after the next render: the row turns yellow at once, then fades back by CSS transition
    requestAnimationFrame(function () {
      var x = OPPS.get(id); if (!x || !x.el) return;
      x.el.classList.add('opened');
      setTimeout(function () { x.el.classList.remove('opened'); }, FLASH_MS);
    });
  }
  function fade(id) {
    var r = OPPS.get(id); if (!r || r.closing) return;
    r.closing = true;
    if (r.el) r.el.classList.add('closing');
    setTimeout(function () { var x = OPPS.get(id); if (x && x.closing) { OPPS.delete(id); renderOpps(); } }, FADE_MS);
  }
  var reconcile = debounce(loadOpps, 800);

  // one WebSocket opportunity event. The stream is computed for hold 8 h / maker fees (the analysis
  // defaults, stated in every record): rows shown under those settings take its numbers directly;
  // under other settings, and for ids not shown yet, the REST API (which owns the filters) is asked again.
  function onOppEvent(event, o) {
    stats.wsOppEvents++;
    withRealized(o);
    var r = OPPS.get(o.id);
    if (event === 'closed') { if (r) { fade(o.id); setTimeout(summary, FADE_MS + 50); } return; }
    var same = num(o.hold_hours) && o.hold_hours === +S.hold_hours && o.fee_type === S.fee_type;
    if (r && same && !r.closing) {
      r.o = o; r.src = 'ws'; rowFor(o.id);
      if (event === 'opened') flash(o.id);
      if (S.open === o.id) openDetail(o.id, true);
    } else if (event === 'opened' || !same) reconcile();
  }

  function syncForm() {
    var f = $('#filters');
    ['symbol', 'min_divergence', 'min_profit', 'min_volume', 'min_oi_usd', 'min_alive_hours', 'hold_hours'].forEach(function (k) { f.elements[k].value = S[k]; });
    f.elements.fee_type.value = S.fee_type;
    var inc = S.include_dexes ? S.include_dexes.split(',') : [], exc = S.exclude_dexes ? S.exclude_dexes.split(',') : [];
    Array.prototype.forEach.call(f.querySelectorAll('input[data-inc]'), function (c) { c.checked = inc.indexOf(c.value) >= 0; });
    Array.prototype.forEach.call(f.querySelectorAll('input[data-exc]'), function (c) { c.checked = exc.indexOf(c.value) >= 0; });
  }
  function dexBoxes() {
    ['inc', 'exc'].forEach(function (kind) {
      var box = $('#' + kind + '-dexes'); box.textContent = '';
      DEXES.forEach(function (d) {
        var c = el('input', {type: 'checkbox', value: d}); c.setAttribute('data-' + kind, '');
        box.appendChild(el('label', null, [c, d]));
      });
    });
    syncForm();
  }
  function readForm() {
    var f = $('#filters');
    ['symbol', 'min_divergence', 'min_profit', 'min_volume', 'min_oi_usd', 'min_alive_hours', 'hold_hours'].forEach(function (k) { S[k] = f.elements[k].value.trim(); });
    S.symbol = S.symbol.toUpperCase();
    S.fee_type = f.elements.fee_type.value;
    S.include_dexes = Array.prototype.filter.call(f.querySelectorAll('input[data-inc]'), function (c) { return c.checked; }).map(function (c) { return c.value; }).join(',');
    S.exclude_dexes = Array.prototype.filter.call(f.querySelectorAll('input[data-exc]'), function (c) { return c.checked; }).map(function (c) { return c.value; }).join(',');
    saveUrl();
  }
  var refilter = debounce(function () { readForm(); loadOpps(); subscribe(); }, 350);
  $('#filters').addEventListener('input', refilter);
  $('#filters').addEventListener('change', refilter);
  $('#filters').addEventListener('submit', function (e) { e.preventDefault(); readForm(); loadOpps(); });
  $('#reset-filters').addEventListener('click', function () {
    FILTER_KEYS.forEach(function (k) { S[k] = DEFAULTS[k]; }); syncForm(); saveUrl(); loadOpps(); subscribe();
  });

  // ---- detail -------------------------------------------------------------------------------------
  function dl(rows) {
    var d = el('dl');
    rows.forEach(function (r) { d.appendChild(el('dt', {text: r[0]})); d.appendChild(el('dd', {text: r[1], cls: r[2] || ''})); });
    return d;
  }
  var KNOWN = {};
  ['id', 'symbol', 'long_dex', 'short_dex', 'long_rate', 'short_rate', 'divergence', 'divergence_1h', 'estimated_fees',
    'net_profit_percent', 'annualized_apy', 'gross_apr', 'breakeven_hours', 'hold_hours', 'fee_type', 'long_volume_24h',
    'short_volume_24h', 'min_volume_24h', 'long_oi_usd', 'short_oi_usd', 'min_oi_usd', 'max_oi_usd', 'oi_ratio',
    'oi_imbalance', 'long_spread_bps', 'short_spread_bps', 'avg_spread_bps', 'mark_spread_bps', 'long_interval_hours',
    'short_interval_hours', 'discovered_at', 'valid_until', 'opened_at', 'alive_hours', 'avg_divergence_24h', 'cv_24h',
    'sign_held_24h', 'avg_divergence_7d', 'cv_7d', 'sign_held_7d', 'realized_source', 'realized_apy_24h'
  ].forEach(function (k) { KNOWN[k] = true; });
  // the persistence of a pair (how long it lived, what its divergence did) and what holding it really paid
  function persistence(o) {
    function share(x) { return num(x) ? Math.round(x * 100) + ' % of hours' : '–'; }
    function realized(r) {
      if (!r) return '–';
      return 'net ' + pct(r.net_return, 3) + ' = ' + fixed(r.apy_percent, 2) + ' % APY (funding long ' + pct(r.long_funding, 4) +
        ', short ' + pct(r.short_funding, 4) + ', fees ' + pct(r.fees, 3) + '; ' + r.long_settlements + ' / ' +
        r.short_settlements + ' settlements, ' + (num(r.coverage) ? Math.round(r.coverage * 100) + ' % of the window' : 'coverage unknown') +
        '; ' + (SOURCE_WORDS[r.source] || r.source) + ')';
    }
    return el('div', {cls: 'persist'}, [el('h3', {text: 'Persistence and realized'}), dl([
      ['opened', o.opened_at ? when(o.opened_at) + ' (' + hours(o.alive_hours) + ' ago)' : 'not open in the analysis (8 h, maker)'],
      ['avg divergence 24 h / 7 d', pct(o.avg_divergence_24h) + ' / ' + pct(o.avg_divergence_7d) + ' per 8 h'],
      ['stability (cv) 24 h / 7 d', fixed(o.cv_24h, 2) + ' / ' + fixed(o.cv_7d, 2)],
      ['sign held 24 h / 7 d', share(o.sign_held_24h) + ' / ' + share(o.sign_held_7d)],
      ['realized 24 h', realized(o.realized_24h)],
      ['realized 7 d', realized(o.realized_7d)]
    ])]);
  }
  function leg(o, side) {
    var dex = o[side + '_dex'], m = (RATES[dex] || {})[o.symbol] || {};
    return el('div', null, [el('h3', {text: (side === 'long' ? 'Long leg: ' : 'Short leg: ') + dex}), dl([
      ['rate / 8 h', pct(o[side + '_rate']), signCls(o[side + '_rate'])],
      ['rate / 1 h', pct(m.rate_1h, 5), signCls(m.rate_1h)],
      ['rate / interval', num(m.native_rate) ? pct(m.native_rate, 5) + ' per ' + m.funding_interval_hours + ' h' : '–'],
      ['APR', num(m.annualized_rate) ? m.annualized_rate.toFixed(2) + ' %' : '–'],
      ['funding interval', num(o[side + '_interval_hours']) ? o[side + '_interval_hours'] + ' h' : '–'],
      ['next funding', m.next_funding_time ? when(m.next_funding_time) + ' (' + inFuture(m.next_funding_time) + ')' : '–'],
      ['open interest', usd(o[side + '_oi_usd'])],
      ['volume 24 h', usd(o[side + '_volume_24h'])],
      ['bid/ask spread', bps(o[side + '_spread_bps'])],
      ['mark price', num(m.mark_price) ? m.mark_price.toPrecision(6) + ' USD' : '–']
    ])]);
  }
  function openDetail(id, quiet) {
    var r = OPPS.get(id), box = $('#detail');
    if (!r) { if (!quiet) closeDetail(); return; }
    S.open = id; saveUrl();
    OPPS.forEach(function (x) { if (x.el) x.el.removeAttribute('aria-selected'); });
    if (r.el) r.el.setAttribute('aria-selected', 'true');
    var o = r.o;
    var extra = Object.keys(o).filter(function (k) { return !KNOWN[k] && o[k] != null && typeof o[k] !== 'object'; });
    var close = el('button', {type: 'button', text: 'Close (Esc)'});
    close.addEventListener('click', closeDetail);
    box.textContent = '';
    box.appendChild(el('h2', {text: o.symbol + ': long ' + o.long_dex + ' / short ' + o.short_dex}));
    box.appendChild(el('div', {cls: 'legs'}, [leg(o, 'long'), leg(o, 'short'), el('div', null, [el('h3', {text: 'Pair'}), dl([
      ['divergence', pct(o.divergence) + ' / 8 h = ' + pct(o.divergence_1h, 5) + ' / 1 h'],
      ['fees (round trip, ' + o.fee_type + ')', pct(o.estimated_fees)],
      ['net over ' + o.hold_hours + ' h', pct(o.net_profit_percent), signCls(o.net_profit_percent)],
      ['APY (net)', fixed(o.annualized_apy, 2) + ' %'],
      ['APR (gross)', num(o.gross_apr) ? o.gross_apr.toFixed(2) + ' %' : '–'],
      ['break-even', hours(o.breakeven_hours)],
      ['OI ratio (long / short)', num(o.oi_ratio) ? o.oi_ratio.toFixed(2) + '× (' + (o.oi_imbalance || '–').replace('_', ' ') + ')' : '–'],
      ['avg spread', bps(o.avg_spread_bps)],
      ['mark price gap', bps(o.mark_spread_bps)],
      ['discovered', when(o.discovered_at)],
      ['valid until', when(o.valid_until)],
      ['source', r.src === 'ws' ? 'WebSocket update' : 'REST']
    ].concat(extra.map(function (k) { return [k.replace(/_/g, ' '), String(o[k])]; })))])]));
    box.appendChild(persistence(o));
    var hist = el('button', {type: 'button', text: 'History of ' + o.symbol + ' →'});
    hist.addEventListener('click', function () { S.market = o.symbol; $('#market').value = o.symbol; showView('history', true); });
    box.appendChild(el('p', null, [hist, ' ', close]));
    box.hidden = false;
    if (!quiet) box.focus();
  }
  function closeDetail() {
    var id = S.open; S.open = ''; saveUrl();
    $('#detail').hidden = true;
    var r = OPPS.get(id);
    if (r && r.el) { r.el.removeAttribute('aria-selected'); focusRow(r.el); }
  }

  // ---- rate matrix ----------------------------------------------------------------------------------
  var BASIS_FIELD = {'1h': 'rate_1h', '8h': 'rate_8h', apr: 'annualized_rate'};
  var BASIS_UNIT = {'1h': '% / 1 h', '8h': '% / 8 h', apr: 'APR %'};
  function fmtBasis(v, basis) {
    if (!num(v)) return '–';
    return basis === 'apr' ? v.toFixed(2) + ' %' : (v * 100).toFixed(basis === '1h' ? 5 : 4) + ' %';
  }
  function usualInterval(dex) {
    var c = {}, best = null;
    Object.values(RATES[dex] || {}).forEach(function (m) { c[m.funding_interval_hours] = (c[m.funding_interval_hours] || 0) + 1; });
    Object.keys(c).forEach(function (k) { if (best == null || c[k] > c[best]) best = k; });
    return {usual: best, kinds: Object.keys(c).sort(function (a, b) { return a - b; })};
  }
  function renderMatrix() {
    if (S.view !== 'matrix') return;
    var basis = BASIS_FIELD[S.basis] ? S.basis : '8h', field = BASIS_FIELD[basis];
    Array.prototype.forEach.call(document.querySelectorAll('input[name=basis]'), function (r) { r.checked = r.value === basis; });
    var thead = $('#matrix thead'), tb = $('#matrix tbody');
    var dexes = DEXES.filter(function (d) { return RATES[d]; });
    var syms = {};
    dexes.forEach(function (d) { Object.keys(RATES[d]).forEach(function (s) { syms[s] = true; }); });
    var q = S.msym.trim().toUpperCase();
    var list = Object.keys(syms).filter(function (s) { return !q || s.indexOf(q) >= 0; }).sort();
    // colour scale: |value| relative to the 95th percentile of the shown values (a few outliers do not wash out the rest)
    var abs = [];
    list.forEach(function (s) { dexes.forEach(function (d) { var m = RATES[d][s]; if (m && num(m[field])) abs.push(Math.abs(m[field])); }); });
    abs.sort(function (a, b) { return a - b; });
    var scale = abs.length ? abs[Math.floor((abs.length - 1) * 0.95)] || abs[abs.length - 1] || 1 : 1;
    thead.textContent = '';
    var hr = el('tr', null, [el('th', {scope: 'col'}, ['Symbol', el('small', {text: BASIS_UNIT[basis]})])]);
    dexes.forEach(function (d) {
      var iv = usualInterval(d);
      hr.appendChild(el('th', {scope: 'col', 'data-dex': d}, [d, el('small', {text: 'interval ' + (iv.kinds.length > 1 ? iv.kinds.join('/') + ' h, mostly ' + iv.usual + ' h' : (iv.usual || '?') + ' h')})]));
    });
    thead.appendChild(hr);
    var frag = document.createDocumentFragment();
    list.forEach(function (s) {
      var tr = el('tr', {'data-symbol': s}, [el('th', {scope: 'row', text: s})]);
      dexes.forEach(function (d) {
        var m = RATES[d][s], td = el('td', {cls: 'c', 'data-dex': d});
        if (m && num(m[field])) {
          var v = m[field], k = Math.min(1, Math.abs(v) / scale), a = (0.08 + 0.6 * k).toFixed(3);
          td.style.background = v >= 0 ? 'rgba(10,107,50,' + a + ')' : 'rgba(179,38,30,' + a + ')';
          // dark ink on every tint: at the strongest tint (alpha 0.68) black text keeps a contrast of about 6:1
          td.setAttribute('data-value', String(v));
          td.setAttribute('data-rate-1h', String(m.rate_1h)); td.setAttribute('data-rate-8h', String(m.rate_8h));
          td.setAttribute('data-apr', String(m.annualized_rate));
          td.textContent = fmtBasis(v, basis);
          var iv = usualInterval(d).usual;
          if (String(m.funding_interval_hours) !== String(iv)) td.appendChild(el('span', {cls: 'iv', title: 'this market settles every ' + m.funding_interval_hours + ' h', text: m.funding_interval_hours + ' h'}));
          td.title = d + ' ' + s + ': ' + fmtBasis(m.rate_1h, '1h') + ' / 1 h, ' + fmtBasis(m.rate_8h, '8h') + ' / 8 h, APR ' +
            fmtBasis(m.annualized_rate, 'apr') + '; paid every ' + m.funding_interval_hours + ' h';
        } else { td.textContent = '·'; td.title = d + ' lists no ' + s + ' market'; td.className += ' muted'; }
        tr.appendChild(td);
      });
      frag.appendChild(tr);
    });
    tb.textContent = ''; tb.appendChild(frag);
    var note = $('#matrix-note'), empty = $('#matrix-empty');
    note.textContent = list.length + ' symbols × ' + dexes.length + ' venues, ' + BASIS_UNIT[basis] +
      '. Colour: green = longs pay shorts, red = shorts pay longs; stronger = larger. A badge marks a market whose interval differs from its venue\'s usual one.';
    empty.hidden = list.length > 0;
    empty.textContent = list.length ? '' : (dexes.length ? 'No symbol matches "' + q + '".' : 'No venue has reported rates yet (first collection pending; see the venue strip above).');
  }
  Array.prototype.forEach.call(document.querySelectorAll('input[name=basis]'), function (r) {
    r.addEventListener('change', function () { S.basis = r.value; saveUrl(); renderMatrix(); });
  });
  $('#msym').value = S.msym;
  $('#msym').addEventListener('input', debounce(function () { S.msym = $('#msym').value; saveUrl(); renderMatrix(); }, 200));
  var renderMatrixSoon = debounce(renderMatrix, 500);

  function loadRates() {
    return Promise.all(DEXES.map(function (d) {
      return getJSON('/funding-rates/' + encodeURIComponent(d) + '?basis=8h').then(function (b) { RATES[d] = b.rates || {}; }, function () { /* venue without data: strip says why */ });
    })).then(function () {
      var dl = $('#symbols'); dl.textContent = '';
      var syms = {}; DEXES.forEach(function (d) { Object.keys(RATES[d] || {}).forEach(function (s) { syms[s] = true; }); });
      Object.keys(syms).sort().forEach(function (s) { dl.appendChild(el('option', {value: s})); });
      renderMatrix();
    });
  }
  function onRate(r) {
    stats.wsRateUpdates++;
    var m = (RATES[r.dex_name] = RATES[r.dex_name] || {})[r.symbol] || {};
    // frames carry funding_rate in their `basis` (8h); native_rate is the per-interval rate
    ['rate_1h', 'rate_8h', 'annualized_rate', 'native_rate', 'funding_interval_hours', 'next_funding_time', 'mark_price'].forEach(function (k) { if (k in r) m[k] = r[k]; });
    RATES[r.dex_name][r.symbol] = m;
    renderMatrixSoon();
  }

  // ---- history chart ---------------------------------------------------------------------------------
  var PALETTE = ['#0b57d0', '#b3261e', '#0a6b32', '#8a5a00', '#7b1fa2', '#00838f', '#5d4037', '#c2185b', '#33691e', '#283593'];
  var RANGE = {'24h': {interval: 'raw', pages: 2}, '7d': {interval: '1h', pages: 1}, '30d': {interval: '4h', pages: 1}};
  var histSeq = 0, lastHist = null;
  function loadHistory() {
    var sym = (S.market || '').trim().toUpperCase(), range = RANGE[S.range] ? S.range : '24h', basis = BASIS_FIELD[S.hbasis] ? S.hbasis : '1h';
    $('#market').value = sym;
    Array.prototype.forEach.call(document.querySelectorAll('input[name=range]'), function (r) { r.checked = r.value === range; });
    Array.prototype.forEach.call(document.querySelectorAll('input[name=hbasis]'), function (r) { r.checked = r.value === basis; });
    var seq = ++histSeq;
    var dexes = DEXES.filter(function (d) { return (RATES[d] || {})[sym]; });
    if (!sym) { drawChart([], sym, range, basis, 'Type a symbol (e.g. BTC) to see its funding history.'); return; }
    if (!dexes.length) { drawChart([], sym, range, basis, 'No venue lists ' + sym + ' right now' + (DEXES.length ? '.' : ' (venues not loaded yet).')); return; }
    $('#chart').setAttribute('aria-busy', 'true');
    Promise.all(dexes.map(function (d) {
      function page(n, acc) {
        var q = 'period=' + range + '&basis=' + basis + '&interval=' + RANGE[range].interval + '&page_size=1000&page=' + n;
        return getJSON('/history/funding-rates/' + d + '/' + encodeURIComponent(sym) + '?' + q).then(function (b) {
          acc = acc.concat(b.data_points || []);
          return b.pagination && b.pagination.total_pages > n && n < RANGE[range].pages ? page(n + 1, acc) : acc;
        });
      }
      return page(1, []).then(function (pts) { return {dex: d, points: pts}; }, function (e) { return {dex: d, points: [], error: e.message}; });
    })).then(function (series) {
      if (seq !== histSeq) return;
      $('#chart').removeAttribute('aria-busy');
      lastHist = [series, sym, range, basis];
      drawChart(series, sym, range, basis);
    });
  }
  function niceStep(span, n) {
    var raw = span / n, p = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p;
  }
  function svg(tag, attrs, text) {
    var e = document.createElementNS('http://www.w3.org/2000/svg', tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text != null) e.textContent = text;
    return e;
  }
  function drawChart(series, sym, range, basis, message) {
    var box = $('#chart'), legend = $('#legend'), empty = $('#chart-empty');
    box.textContent = ''; legend.textContent = '';
    var all = [];
    series.forEach(function (s) { s.points.forEach(function (p) { if (num(p.rate)) all.push(p); }); });
    if (!all.length) {
      empty.hidden = false;
      empty.textContent = message || ('No stored history for ' + sym + ' in the last ' + range.replace('h', ' h').replace('d', ' d') +
        ' yet: the collectors store one point per venue per cycle, so a fresh stack has only minutes of data.');
      box.hidden = true; return;
    }
    empty.hidden = true; box.hidden = false;
    var W = Math.max(320, box.clientWidth || 800), H = Math.round(Math.min(360, Math.max(220, W * 0.3)));
    var L = 78, R = 16, T = 26, B = 30;
    var tmin = Infinity, tmax = -Infinity, vmin = 0, vmax = 0;
    all.forEach(function (p) { var t = Date.parse(p.time); tmin = Math.min(tmin, t); tmax = Math.max(tmax, t); vmin = Math.min(vmin, p.rate); vmax = Math.max(vmax, p.rate); });
    if (tmax === tmin) { tmin -= 30 * 60000; tmax += 30 * 60000; }
    if (vmax === vmin) { vmax += 1e-9; }
    var step = niceStep(vmax - vmin, 5);
    vmin = Math.floor(vmin / step) * step; vmax = Math.ceil(vmax / step) * step;
    function x(t) { return L + (t - tmin) / (tmax - tmin) * (W - L - R); }
    function y(v) { return T + (vmax - v) / (vmax - vmin) * (H - T - B); }
    var g = svg('svg', {viewBox: '0 0 ' + W + ' ' + H, width: W, height: H, 'data-basis': basis});
    g.appendChild(svg('title', null, sym + ' funding rate, ' + BASIS_UNIT[basis] + ', last ' + range));
    for (var v = vmin; v <= vmax + step / 2; v += step) {
      g.appendChild(svg('line', {x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: Math.abs(v) < step / 1e6 ? '#4a5360' : '#e3e7ec'}));
      g.appendChild(svg('text', {x: L - 6, y: y(v) + 4, 'text-anchor': 'end'}, fmtBasis(Math.abs(v) < step / 1e6 ? 0 : v, basis)));
    }
    var span = tmax - tmin, tstep = [3600e3, 3 * 3600e3, 6 * 3600e3, 864e5, 2 * 864e5, 7 * 864e5].filter(function (s) { return span / s <= 8; })[0] || 7 * 864e5;
    if (span / 6 < 3600e3) tstep = [60e3, 5 * 60e3, 10 * 60e3, 15 * 60e3, 30 * 60e3, 3600e3].filter(function (s) { return span / s <= 8; })[0] || 3600e3;
    for (var t = Math.ceil(tmin / tstep) * tstep; t <= tmax; t += tstep) {
      var d = new Date(t), lab = tstep >= 864e5 ? d.toISOString().slice(5, 10) : d.toISOString().slice(11, 16);
      g.appendChild(svg('line', {x1: x(t), x2: x(t), y1: T, y2: H - B, stroke: '#f0f2f5'}));
      if (x(t) < W - R - 40) g.appendChild(svg('text', {x: x(t), y: H - B + 16, 'text-anchor': 'middle'}, lab));
    }
    g.appendChild(svg('text', {x: W - R, y: H - 4, 'text-anchor': 'end'}, 'time (UTC)'));
    g.appendChild(svg('text', {x: 4, y: 13, 'font-weight': 600}, 'rate, ' + BASIS_UNIT[basis]));
    series.forEach(function (s, i) {
      var col = PALETTE[DEXES.indexOf(s.dex) % PALETTE.length];
      var pts = s.points.filter(function (p) { return num(p.rate); }).sort(function (a, b) { return Date.parse(a.time) - Date.parse(b.time); });
      var li = el('li', {'data-dex': s.dex}, [el('i', {style: 'background:' + col}), s.dex + ': ']);
      if (!pts.length) { li.appendChild(document.createTextNode(s.error ? 'error: ' + s.error : 'no points in range')); legend.appendChild(li); return; }
      var dpath = pts.map(function (p, j) { return (j ? 'L' : 'M') + x(Date.parse(p.time)).toFixed(1) + ' ' + y(p.rate).toFixed(1); }).join(' ');
      var path = svg('path', {d: dpath, fill: 'none', stroke: col, 'stroke-width': 2, 'data-dex': s.dex, 'data-points': pts.length});
      path.appendChild(svg('title', null, s.dex + ' ' + sym));
      g.appendChild(path);
      if (pts.length === 1) g.appendChild(svg('circle', {cx: x(Date.parse(pts[0].time)), cy: y(pts[0].rate), r: 3, fill: col}));
      var last = pts[pts.length - 1];
      li.appendChild(document.createTextNode('latest ' + fmtBasis(last.rate, basis) + ' · ' + pts.length + ' points · interval ' +
        (last.funding_interval_hours || ((RATES[s.dex] || {})[sym] || {}).funding_interval_hours || '?') + ' h'));
      legend.appendChild(li);
    });
    box.appendChild(g);
    box.setAttribute('aria-label', sym + ' funding-rate history over ' + range + ' in ' + BASIS_UNIT[basis] + ', ' + series.length + ' venues');
  }
  $('#market').value = S.market;
  $('#market').addEventListener('change', function () { S.market = $('#market').value.trim().toUpperCase(); saveUrl(); loadHistory(); });
  Array.prototype.forEach.call(document.querySelectorAll('input[name=range],input[name=hbasis]'), function (r) {
    r.addEventListener('change', function () { S[r.name] = r.value; saveUrl(); loadHistory(); });
  });
  window.addEventListener('resize', debounce(function () { if (lastHist && S.view === 'history') drawChart.apply(null, lastHist); }, 200));

  // ---- venue strip ----------------------------------------------------------------------------------
  // /health and /dexes fields are read defensively: anything that looks like a status flag or a
  // reason (degraded, unit_suspect, status, reason(s), problems, warnings ...) is shown as it comes.
  function reasonsOf(rec) {
    var out = [];
    Object.keys(rec || {}).forEach(function (k) {
      var v = rec[k];
      if (v == null || v === false || (Array.isArray(v) && !v.length)) return;
      if (/^(problems|reasons?|warnings?|degraded_reasons?|unit_suspect_reasons?|.*_reasons?)$/.test(k)) {
        (Array.isArray(v) ? v : [v]).forEach(function (x) { out.push(typeof x === 'string' ? x : JSON.stringify(x)); });
      } else if (/^(degraded|unit_suspect|suspect|stale)$/.test(k)) {
        out.push(k.replace(/_/g, ' ') + (v === true ? '' : ': ' + (typeof v === 'string' ? v : JSON.stringify(v))));
      }
    });
    return out;
  }
  function loadHealth() {
    return Promise.all([getJSON('/health').catch(function (e) { return e.body && e.body.dex_health ? e.body : {error: e.message}; }),
      getJSON('/dexes').catch(function (e) { return {error: e.message}; })]).then(function (res) {
      var h = res[0], dx = res[1], strip = $('#venues');
      (dx.dexes || []).forEach(function (d) { DEX_META[d.dex_name] = d; });
      var names = (dx.dexes || []).map(function (d) { return d.dex_name; });
      (h.dex_health || []).forEach(function (d) { if (names.indexOf(d.dex_name) < 0) names.push(d.dex_name); });
      var fresh = names.join() !== DEXES.join();
      if (names.length) DEXES = names;
      if (fresh) { dexBoxes(); }
      strip.textContent = '';
      if (h.error && !h.dex_health) strip.appendChild(el('p', {cls: 'err', text: 'Health unavailable: ' + h.error}));
      var byName = {}; (h.dex_health || []).forEach(function (d) { byName[d.dex_name] = d; });
      DEXES.forEach(function (n) {
        var d = byName[n] || {}, m = DEX_META[n] || {};
        var reasons = reasonsOf(d).concat(reasonsOf(m).filter(function (r) { return reasonsOf(d).indexOf(r) < 0; }));
        var errs = d.consecutive_errors || 0, breaker = d.breaker_state || 'closed';
        var status = d.status || (d.is_healthy === false || breaker === 'open' ? 'down' : (errs > 0 || reasons.length || breaker !== 'closed' || d.degraded || d.unit_suspect) ? 'degraded' : d.is_healthy ? 'ok' : 'unknown');
        var cls = /^(ok|healthy)$/.test(status) ? 'ok' : /^(down|unhealthy|error|failed)$/.test(status) ? 'bad' : 'warn';
        var age = num(d.data_age_seconds) ? d.data_age_seconds : m.data_age_seconds;
        var lines = [];
        lines.push('data ' + (num(age) ? age + ' s old' : 'age unknown') + (num(d.avg_collection_latency_ms) ? ' · fetch ' + Math.round(d.avg_collection_latency_ms) + ' ms' : ''));
        // the API's own reasons first; a derived line only where no reason says the same
        var said = reasons.join(' ').toLowerCase();
        if (errs && said.indexOf('consecutive error') < 0) lines.push(errs + ' consecutive error' + (errs === 1 ? '' : 's'));
        if (errs && num(d.error_rate_percent)) lines.push('errors: ' + d.error_rate_percent + ' % of fetches');
        if (breaker !== 'closed' && said.indexOf('breaker') < 0) lines.push('breaker ' + breaker);
        var card = el('div', {cls: 'venue ' + cls, 'data-dex': n, 'data-status': status, tabindex: '0',
          'aria-label': n + ' ' + status}, [el('b', {text: m.display_name || n}), el('span', {cls: 'st', text: status})]);
        lines.forEach(function (l) { card.appendChild(el('div', {text: l})); });
        if (reasons.length) card.appendChild(el('ul', null, reasons.map(function (r) { return el('li', {text: r}); })));
        // last_error is the time of the last failed collection; its message where the API gives one
        var lastErr = d.last_error || m.last_error, msg = d.last_error_message || m.last_error_message || d.error || d.last_error_detail;
        if (lastErr || msg) {
          var okSince = d.last_successful_fetch || m.last_successful_fetch;
          var at = lastErr && !isNaN(new Date(lastErr)) ? when(lastErr) : (lastErr ? String(lastErr) : '');
          var recovered = !errs && lastErr && okSince && new Date(okSince) > new Date(lastErr);
          card.appendChild(el('div', {cls: recovered ? 'muted' : 'err', text: 'last error' + (at ? ' ' + at : '') +
            (msg ? ': ' + (typeof msg === 'string' ? msg : JSON.stringify(msg)) : '') + (recovered ? ' (recovered since)' : '')}));
        }
        strip.appendChild(card);
      });
      if (!DEXES.length) strip.appendChild(el('p', {cls: 'muted', text: 'No venue has reported yet.'}));
      return fresh;
    });
  }

  // ---- WebSocket --------------------------------------------------------------------------------------
  var ws = null, wsRetry = 1000, wsOk = false, pingTimer = null;
  function subscribe() {
    if (!ws || ws.readyState !== 1) return;
    var f = {};
    if (S.include_dexes) f.dexes = S.include_dexes.split(',');
    ws.send(JSON.stringify({action: 'subscribe', channels: ['funding_rates', 'opportunities'], filters: f, format: 'batch'}));
  }
  function connect() {
    setLive('connecting…');
    try { ws = new WebSocket(WS_URL); } catch (e) { setLive('live updates off (' + e.message + '): polling', 'off'); return; }
    ws.onopen = function () { wsOk = true; wsRetry = 1000; setLive('live', 'live'); subscribe(); loadOpps();
      clearInterval(pingTimer); pingTimer = setInterval(function () { if (ws.readyState === 1) ws.send('{"action":"ping"}'); }, 5 * 60000); };
    function onFrame(f) {
      stats.wsFrames++;
      if (f.type === 'updates') { (f.frames || []).forEach(onFrame); return; }   // one post per run: frames in order
      if (f.type === 'opportunity_update') onOppEvent(f.event, f.data || {});
      else if (f.type === 'funding_rate_update') onRate(f.data || {});
      else if (f.type === 'funding_rate_batch') (f.data || []).forEach(onRate);
      else if (f.type === 'error') setLive('live (server said: ' + f.detail + ')', 'off');
      if (f.timestamp && f.type !== 'pong' && f.type !== 'subscribed') setLive('live · ' + f.timestamp.slice(11, 19) + ' UTC · ' + stats.wsFrames + ' frames', 'live');
    }
    ws.onmessage = function (m) {
      var f; try { f = JSON.parse(m.data); } catch (e) { return; }
      onFrame(f);
      summary();
    };
    ws.onclose = function () {
      clearInterval(pingTimer);
      setLive((wsOk ? 'reconnecting' : 'live updates unavailable at ' + WS_URL) + ' · polling REST every ' + RECONCILE_MS / 1000 + ' s', 'off');
      wsOk = false;
      setTimeout(connect, wsRetry); wsRetry = Math.min(wsRetry * 2, 60000);
    };
  }

  // ---- start -----------------------------------------------------------------------------------------
  if (window.matchMedia && window.matchMedia('(max-width: 640px)').matches && !FILTER_KEYS.some(function (k) { return S[k] !== DEFAULTS[k]; })) {
    $('#filters-box').open = false;   // a phone sees the table first; the summary line opens the filters
  }
  $('#docs-link').href = PREFIX + '/docs';
  syncForm();
  headerRow();
  summary();
  showView(S.view);
  var opps = loadOpps();
  // venues and rates after the table's first answer (the matrix view asks at once: it shows nothing else)
  (S.view === 'opps' ? opps : Promise.resolve()).then(loadHealth).then(function () { return loadRates(); }).then(function () {
    if (S.open) openDetail(S.open, true);
    if (S.view === 'history') loadHistory();
  });
  opps.then(function () { connect(); });
  setInterval(loadHealth, HEALTH_MS);
  setInterval(function () { loadOpps(); }, RECONCILE_MS);
  setInterval(function () { if (!wsOk) loadRates(); }, RECONCILE_MS);
})();
