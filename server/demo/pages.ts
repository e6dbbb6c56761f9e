import { html, type SafeHtml } from '../http/html.js';

/** The page frame of the demo. */
export function layout(title: string, body: SafeHtml, clientScript: SafeHtml | '' = ''): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <link rel="icon" href="data:," />
        <title>${title} · jobcast</title>
        <link rel="stylesheet" href="/demo.css" />
      </head>
      <body>
        <header><strong>jobcast</strong><span>background jobs, live in the browser</span></header>
        <main>${body}</main>
        ${clientScript}
      </body>
    </html>`.value;
}

/** The form that starts an analysis, with the error of a previous try next to its field. */
export function formPage(values: { path: string; pace: string }, error?: { field?: string; message: string }): string {
  const pathError = error && (error.field === 'path' || !error.field) ? error.message : undefined;
  return layout(
    'Analyse a repository',
    html`<section class="card">
      <h1>Analyse a git repository</h1>
      <p class="lead">
        A worker reads the history in stages (commits, authors, activity, ownership) while this page shows its progress live, then swaps in the dashboard.
      </p>
      <form method="post" action="/analyses" novalidate>
        <label for="path">Repository path on the server</label>
        <input
          id="path"
          name="path"
          type="text"
          value="${values.path}"
          required
          maxlength="500"
          ${pathError ? html` aria-invalid="true" aria-describedby="path-error"` : ''}
        />
        ${pathError ? html`<p class="field-error" id="path-error" role="alert">${pathError}</p>` : html`<p class="hint">The demo reads only allowed repositories: this project's own, and those in JOBCAST_DEMO_REPOS.</p>`}
        <label for="pace">Pace</label>
        <select id="pace" name="pace">
          <option value="watchable" ${values.pace === 'watchable' ? ' selected' : ''}>Watchable: spread over about 5 seconds</option>
          <option value="fast" ${values.pace === 'fast' ? ' selected' : ''}>As fast as possible</option>
        </select>
        <button type="submit">Analyse history</button>
      </form>
    </section>`,
  );
}

/** The page returned at once after the job was queued: the element the client wires itself to. */
export function jobPage(path: string, jobElement: SafeHtml, gatewayUrl: string | undefined, nonce: string): string {
  return layout(
    'Analysing…',
    html`<section class="card">
      <h1>History of <code>${path}</code></h1>
      <p class="meta">This page came back at once; the analysis runs on a worker. <a href="/">Start another</a></p>
      ${jobElement}
    </section>`,
    html`<script src="/jobcast/client.js" defer nonce="${nonce}" ${gatewayUrl ? html` data-gateway="${gatewayUrl}"` : ''}></script>`,
  );
}
