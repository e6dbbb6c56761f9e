/**
 * The debug console's script, served at `/admin/console.js` (a file, so the page's CSP needs
 * no inline script). Plain browser JavaScript; every value is set as text.
 */
export const CONSOLE_SCRIPT = String.raw`(() => {
  const $ = (selector) => document.querySelector(selector);
  const api = async (path) => {
    const response = await fetch(path, { credentials: 'same-origin' });
    if (!response.ok) throw new Error('HTTP ' + response.status);
    return response.json();
  };
  const cell = (text) => { const td = document.createElement('td'); td.textContent = text; return td; };
  const time = (ms) => new Date(ms).toISOString().slice(11, 23);

  async function overview() {
    try {
      const o = await api('api/overview');
      $('#gateways').textContent = String(o.gateways);
      $('#channels').textContent = String(o.channels);
      $('#subscriptions').textContent = String(o.subscriptions);
      const queues = $('#queues');
      queues.replaceChildren(...Object.entries(o.queues).map(([job, counts]) => {
        const tr = document.createElement('tr');
        tr.append(cell(job), ...['waiting', 'active', 'delayed', 'completed', 'failed'].map((s) => cell(String(counts[s] ?? 0))));
        return tr;
      }));
    } catch (error) {
      $('#status').textContent = 'overview: ' + error.message;
    }
  }

  let last = '';
  const rows = [];
  function visible(event) {
    const channel = $('#filter-channel').value.trim();
    const job = $('#filter-job').value.trim();
    return (!channel || event.channel.includes(channel)) && (!job || event.channel === 'job:' + job);
  }
  function addRow(event) {
    const tr = document.createElement('tr');
    tr.dataset.channel = event.channel;
    tr.append(cell(time(event.ts)), cell(event.channel), cell(event.event), cell(String(event.offset)), cell(JSON.stringify(event.data).slice(0, 160)));
    if (event.channel.startsWith('job:')) {
      tr.classList.add('job');
      tr.title = 'Show this job\'s timeline';
      tr.addEventListener('click', () => showTimeline(event.channel.slice(4)));
    }
    tr.hidden = !visible(event);
    rows.push([event, tr]);
    $('#events').prepend(tr);
    while (rows.length > 500) rows.shift()[1].remove();
  }
  async function poll() {
    try {
      const r = await api('api/events' + (last ? '?after=' + encodeURIComponent(last) : ''));
      if (r.last) last = r.last;
      for (const event of r.events) addRow(event);
      $('#status').textContent = 'live';
    } catch (error) {
      $('#status').textContent = 'stream: ' + error.message;
    }
  }
  function refilter() {
    for (const [event, tr] of rows) tr.hidden = !visible(event);
  }

  async function showTimeline(jobId) {
    $('#job-id').value = jobId;
    const list = $('#timeline');
    try {
      const t = await api('api/jobs/' + encodeURIComponent(jobId) + '/timeline');
      $('#timeline-title').textContent = t.status ? t.status.name + ' ' + jobId + ': ' + t.status.state : jobId;
      list.replaceChildren(...t.entries.map((entry) => {
        const li = document.createElement('li');
        li.dataset.what = entry.what;
        const when = document.createElement('time');
        when.textContent = time(entry.at);
        const what = document.createElement('strong');
        what.textContent = entry.what;
        const detail = document.createElement('span');
        detail.textContent = JSON.stringify(entry.detail).slice(0, 200);
        li.append(when, ' ', what, ' ', detail);
        return li;
      }));
    } catch (error) {
      list.replaceChildren();
      $('#timeline-title').textContent = 'No timeline for ' + jobId + ' (' + error.message + ')';
    }
  }

  $('#filter-channel').addEventListener('input', refilter);
  $('#filter-job').addEventListener('input', refilter);
  $('#timeline-form').addEventListener('submit', (e) => { e.preventDefault(); showTimeline($('#job-id').value.trim()); });
  overview();
  poll();
  setInterval(overview, 2000);
  setInterval(poll, 1000);
})();
`;
