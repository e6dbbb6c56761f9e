import { html, SafeHtml } from '../http/html.js';

const STYLE = `
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:10px 20px;display:flex;gap:16px;align-items:baseline}
header a{color:#9ecbff}
.wide{grid-column:1/-1}
main{padding:16px 20px;display:grid;gap:16px;grid-template-columns:minmax(0,3fr) minmax(0,2fr)}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:12px 16px;min-width:0}
h2{font-size:15px;margin:0 0 8px}
.stats{display:flex;gap:24px}.stats b{font-size:20px;display:block}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:4px 6px;border-bottom:1px solid #eaeef2;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;max-width:360px}
tr.job{cursor:pointer}tr.job:hover{background:#f6f8fa}
input{font:inherit;padding:4px 8px;border:1px solid #d0d7de;border-radius:6px}
#timeline{list-style:none;padding:0;margin:0}#timeline li{padding:4px 0;border-bottom:1px solid #eaeef2}
#timeline time{color:#59636e;font-variant-numeric:tabular-nums}
#status{color:#59636e;font-size:12px}
`;

/** The debug console: what is connected now, a live stream of events, and one job's timeline. */
export function consolePage(nonce: string): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>jobcast console</title>
        <link rel="icon" href="data:," />
        <style nonce="${nonce}">
          ${new SafeHtml(STYLE)}
        </style>
      </head>
      <body>
        <header><strong>jobcast console</strong><a href="queues">Queues (Bull Board)</a><span id="status">connecting…</span></header>
        <main>
          <section class="wide" aria-label="Now">
            <div class="stats">
              <div><b id="gateways">–</b>gateways</div>
              <div><b id="channels">–</b>channels watched</div>
              <div><b id="subscriptions">–</b>subscriptions</div>
            </div>
            <table>
              <thead>
                <tr>
                  <th>Job type</th>
                  <th>Waiting</th>
                  <th>Active</th>
                  <th>Delayed</th>
                  <th>Completed</th>
                  <th>Failed</th>
                </tr>
              </thead>
              <tbody id="queues"></tbody>
            </table>
          </section>
          <section aria-label="Live events">
            <h2>Live events</h2>
            <p>
              <label>Channel <input id="filter-channel" placeholder="contains…" /></label> <label>Job <input id="filter-job" placeholder="job id" /></label>
            </p>
            <table>
              <thead>
                <tr>
                  <th>Time</th>
                  <th>Channel</th>
                  <th>Event</th>
                  <th>Offset</th>
                  <th>Data</th>
                </tr>
              </thead>
              <tbody id="events"></tbody>
            </table>
          </section>
          <section aria-label="Job timeline">
            <h2 id="timeline-title">Job timeline</h2>
            <form id="timeline-form">
              <label>Job id <input id="job-id" required /></label> <button>Show</button>
            </form>
            <ol id="timeline"></ol>
          </section>
        </main>
        <script src="console.js" nonce="${nonce}"></script>
      </body>
    </html>`.value;
}
