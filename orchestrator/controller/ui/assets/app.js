// Patchwave dashboard: polls the controller's JSON views (/ui/api/...) and draws them.
// Read-only; no framework; every text goes in with textContent (never as HTML).
'use strict';

const POLL_MS = 1000;
let timer = null;
let lastOk = 0;
let generation = 0;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function duration(ms) {
  if (ms === null || ms === undefined) return '\u2014';
  const s = Math.max(0, Math.floor(ms / 1000));
  const two = (v) => String(v).padStart(2, '0');
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm ' + two(s % 60) + 's';
  if (s < 86400) return Math.floor(s / 3600) + 'h ' + two(Math.floor((s % 3600) / 60)) + 'm';
  return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
}

function clock(ms) {
  return ms ? new Date(ms).toLocaleString() : '\u2014';
}

function stateClass(state) {
  if (state === 'succeeded') return 'badge good';
  if (['rolled_back', 'aborted', 'rejected', 'expired', 'rolling_back', 'partially_failed']
      .includes(state)) return 'badge bad';
  if (['awaiting_approval', 'pending'].includes(state)) return 'badge wait';
  return 'badge busy';
}

function badge(state, label) {
  return el('span', {class: stateClass(state), text: label || state.replace(/_/g, ' ')});
}

function bar(percent, kind) {
  const fill = el('div', {class: 'fill'});
  fill.style.width = Math.max(0, Math.min(100, percent)) + '%';
  return el('div', {class: 'bar ' + (kind || ''), title: percent + '%'}, fill);
}

function split(traffic) {
  const old = el('div', {class: 'old'});
  const fresh = el('div', {class: 'new'});
  old.style.width = traffic.old + '%';
  fresh.style.width = traffic.new + '%';
  const text = traffic.old === 0 && traffic.new === 0 ? 'no traffic yet'
    : traffic.old + '% old \u00b7 ' + traffic.new + '% new';
  return el('div', {}, el('div', {class: 'split'}, old, fresh),
    el('div', {class: 'small traffic', text: text}));
}

async function fetchJson(path) {
  const response = await fetch(path, {credentials: 'same-origin', cache: 'no-store'});
  if (response.status === 401) {
    location.href = '/ui/login?expired=1';
    throw new Error('signed out');
  }
  const body = await response.json();
  if (!response.ok) throw new Error((body.error && body.error.message) || response.statusText);
  return body;
}

function regionRow(rollout, r) {
  const health = r.health;
  const analysis = health.analysis && !r.terminal
    ? el('div', {class: 'small', text: 'analysis at ' + health.analysis.percent + '%: ' +
        health.analysis.outcome + (health.analysis.reason ? ' \u2014 ' + health.analysis.reason : '')})
    : null;
  const kind = r.state === 'succeeded' ? 'done' : r.failed ? 'failed' : '';
  return el('tr', {'data-region': r.region, 'data-state': r.state},
    el('td', {}, el('strong', {class: 'region-name', text: r.display_name}),
      el('div', {class: 'small', text: 'wave ' + r.wave})),
    el('td', {}, el('span', {class: 'state'}, badge(r.state, r.state_label)),
      r.paused ? el('div', {class: 'small', text: 'paused'}) : null),
    el('td', {}, bar(r.progress, kind), el('div', {class: 'small', text: r.progress + '%'})),
    el('td', {}, split(r.traffic)),
    el('td', {class: 'health'}, health.servers
      ? health.passing + '/' + health.servers + ' passing' : '\u2014', analysis),
    el('td', {class: 'in-state', text: duration(r.time_in_state_ms)}),
    el('td', {class: 'ttp', text: duration(r.time_to_patch_ms)}),
    el('td', {}, el('span', {class: 'waits', text: r.waits_for || ''}),
      r.reason ? el('div', {class: 'reason', text: r.reason}) : null));
}

function rolloutCard(r) {
  const head = el('div', {class: 'card-head'},
    el('h2', {text: r.app + ' ' + r.version}),
    r.urgency === 'emergency' ? el('span', {class: 'badge emergency', text: 'emergency'})
      : el('span', {class: 'badge', text: r.urgency}),
    r.cves.map((c) => el('span', {class: 'badge', text: c})),
    badge(r.state),
    el('a', {href: '#/rollout/' + r.id, text: 'rollout ' + r.id}));
  const facts = el('div', {class: 'facts'},
    el('span', {text: 'started ' + clock(r.created_at) + ' (' + duration(r.age_ms) + ' ago)'}),
    el('span', {text: 'progress ' + r.progress + '%'}),
    el('span', {text: 'time to patch (all regions) ' + duration(r.time_to_patch_ms)}),
    el('span', {class: 'small', text: 'sha256 ' + r.sha256.slice(0, 16) + '\u2026'}));
  const table = el('table', {class: 'regions'},
    el('thead', {}, el('tr', {}, ['Region', 'State', 'Progress', 'Traffic (old / new)',
      'Health', 'In state', 'Time to patch', 'Waiting for'].map((h) => el('th', {text: h})))),
    el('tbody', {}, r.regions.map((region) => regionRow(r, region))));
  return el('section', {class: 'card rollout', 'data-rollout': r.id}, head, facts, table);
}

function rolloutList(list) {
  return el('section', {class: 'card'}, el('h2', {text: 'All rollouts'}),
    el('table', {},
      el('thead', {}, el('tr', {}, ['Rollout', 'Release', 'Urgency', 'State', 'Regions', 'Started']
        .map((h) => el('th', {text: h})))),
      el('tbody', {}, list.map((r) => el('tr', {},
        el('td', {}, el('a', {href: '#/rollout/' + r.id, text: r.id})),
        el('td', {text: r.app + ' ' + r.version}),
        el('td', {text: r.urgency}),
        el('td', {}, badge(r.state)),
        el('td', {}, r.regions.map((g) => el('span', {}, g.region + ' ', badge(g.state), ' '))),
        el('td', {text: clock(r.created_at)}))))));
}

const pages = {
  async rollouts() {
    const data = await fetchJson('/ui/api/rollouts');
    if (!data.rollouts.length) return [el('h1', {text: 'Rollouts'}), el('p', {class: 'muted', text: 'No rollouts yet.'})];
    return [el('h1', {text: 'Rollouts'}), data.current.map(rolloutCard), rolloutList(data.rollouts)];
  },
  async rollout(id) {
    const r = await fetchJson('/ui/api/rollouts/' + encodeURIComponent(id));
    return [el('h1', {text: 'Rollout ' + r.id}), rolloutCard(r)];
  },
  async approvals() {
    const data = await fetchJson('/ui/api/approvals');
    const cards = data.pending.map((a) => el('section', {class: 'card approval',
      'data-region': a.region, 'data-rollout': a.rollout},
      el('div', {class: 'card-head'}, el('h2', {text: 'Region ' + a.display_name}),
        badge('awaiting_approval', a.waiting_for === 'window' ? 'waiting for its window' : 'awaiting approval'),
        el('a', {href: '#/rollout/' + a.rollout, text: 'rollout ' + a.rollout})),
      el('div', {class: 'facts'},
        el('span', {text: a.approved_by.length + ' of ' + a.needed + ' approvals'}),
        el('span', {text: 'approved by: ' + (a.approved_by_short || 'nobody yet')}),
        el('span', {text: 'approvers: ' + (a.approvers_short || '\u2014')}),
        el('span', {text: 'request expires in ' + duration(a.expires_in_ms)})),
      el('h3', {text: 'What approving changes'}),
      el('ul', {class: 'changes'}, a.changes.map((c) => el('li', {text: c}))),
      el('h3', {text: 'Approve (or reject) with your own signing key'}),
      command(a.approve_command, 'approve-command'), command(a.reject_command, 'reject-command')));
    return [el('h1', {text: 'Approvals pending'}),
      cards.length ? cards : el('p', {class: 'muted', text: 'No region is waiting for approval.'})];
  },
  async servers() {
    const data = await fetchJson('/ui/api/servers');
    return [el('h1', {text: 'Servers (' + data.servers + ' not decommissioned)'}),
      data.regions.map((g) => el('section', {class: 'card', 'data-region': g.region},
        el('div', {class: 'card-head'}, el('h2', {text: g.display_name}),
          Object.entries(g.counts).map(([s, n]) => el('span', {class: 'badge', text: n + ' ' + s}))),
        g.servers.length ? el('table', {},
          el('thead', {}, el('tr', {}, ['Server', 'State', 'Address', 'Rollout', 'Updated']
            .map((h) => el('th', {text: h})))),
          el('tbody', {}, g.servers.map((s) => el('tr', {'data-server': s.name},
            el('td', {text: s.name}), el('td', {}, badge(s.state === 'serving' ? 'succeeded' : 'pending', s.state)),
            el('td', {text: s.address}), el('td', {text: s.rollout}), el('td', {text: s.updated_at})))))
          : el('p', {class: 'muted', text: 'No servers.'})))];
  },
  async releases() {
    const data = await fetchJson('/ui/api/releases');
    return [el('h1', {text: 'Releases (verified)'}), el('section', {class: 'card'}, el('table', {},
      el('thead', {}, el('tr', {}, ['App', 'Version', 'Urgency', 'CVEs', 'Target', 'sha256', 'Rollouts']
        .map((h) => el('th', {text: h})))),
      el('tbody', {}, data.releases.map((r) => el('tr', {'data-release': r.version},
        el('td', {text: r.app}), el('td', {text: r.version}),
        el('td', {}, r.urgency === 'emergency'
          ? el('span', {class: 'badge emergency', text: 'emergency' + (r.countersigned ? ' (countersigned)' : '')})
          : el('span', {class: 'badge', text: r.urgency})),
        el('td', {text: r.cves.join(', ') || '\u2014'}), el('td', {text: r.target}),
        el('td', {}, el('code', {text: r.sha256.slice(0, 16) + '\u2026', title: r.sha256})),
        el('td', {}, r.rollouts.map((x) => el('span', {}, el('a', {href: '#/rollout/' + x.id, text: x.id}), ' ', badge(x.state), ' '))))))))];
  },
  async audit() {
    const data = await fetchJson('/ui/api/audit');
    const c = data.chain;
    const status = c.intact
      ? el('div', {class: 'chain good', text: 'Chain intact: ' + c.events + ' events, head ' + (c.head || '').slice(0, 16) + '\u2026'})
      : el('div', {class: 'chain bad', text: 'Chain BROKEN at event ' + c.first_broken_event + ': ' + c.reason});
    return [el('h1', {text: 'Audit log'}), status, el('section', {class: 'card'}, el('table', {},
      el('thead', {}, el('tr', {}, ['#', 'Time', 'Actor', 'Action', 'Outcome', 'Inputs']
        .map((h) => el('th', {text: h})))),
      el('tbody', {}, data.events.map((e) => el('tr', {},
        el('td', {text: e.seq}), el('td', {text: e.time}), el('td', {text: e.actor}),
        el('td', {text: e.action}), el('td', {text: e.outcome}),
        el('td', {class: 'inputs', title: JSON.stringify(e.inputs), text: JSON.stringify(e.inputs)}))))))];
  },
};

function command(text, cls) {
  const copy = el('button', {type: 'button', text: 'Copy'});
  copy.addEventListener('click', () => navigator.clipboard && navigator.clipboard.writeText(text));
  return el('div', {class: 'cmd ' + cls}, el('pre', {}, el('code', {text: text})), copy);
}

function route() {
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  if (parts[0] === 'rollout' && parts[1]) return {page: 'rollout', arg: parts[1], nav: 'rollouts'};
  if (pages[parts[0]] && parts[0] !== 'rollout') return {page: parts[0], nav: parts[0]};
  return {page: 'rollouts', nav: 'rollouts'};
}

async function refreshSummary() {
  const s = await fetchJson('/ui/api/summary');
  document.getElementById('controller').textContent = s.controller;
  document.getElementById('operator').textContent = s.operator.name + ' (' + s.operator.role + ')';
  document.getElementById('approvals-count').textContent = s.counts.approvals_waiting || '';
}

async function tick(gen) {
  const where = route();
  document.querySelectorAll('nav a').forEach((a) => a.classList.toggle('active', a.dataset.page === where.nav));
  const live = document.getElementById('live');
  try {
    const [content] = await Promise.all([pages[where.page](where.arg), refreshSummary()]);
    if (gen !== generation) return;
    const main = document.getElementById('main');
    const scroll = window.scrollY;
    main.replaceChildren(...[content].flat(3).filter(Boolean));
    window.scrollTo(0, scroll);
    lastOk = Date.now();
    live.className = 'live';
    live.textContent = 'live \u00b7 updated ' + new Date(lastOk).toLocaleTimeString();
  } catch (error) {
    if (gen !== generation) return;
    live.className = 'live down';
    live.textContent = 'no answer: ' + error.message;
  }
  const wait = where.page === 'audit' ? 5 * POLL_MS : POLL_MS;
  timer = setTimeout(() => tick(gen), wait);
}

function restart() {
  clearTimeout(timer);
  generation += 1;
  tick(generation);
}

window.addEventListener('hashchange', restart);
document.addEventListener('DOMContentLoaded', restart);
