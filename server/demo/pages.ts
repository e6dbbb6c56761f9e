import { html, SafeHtml } from '../http/html.js';

const STYLE = `
  :root { color-scheme: light; }
  body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; background: #f6f8fa; }
  header { background: #fff; border-bottom: 1px solid #d0d7de; padding: 14px 24px; display: flex; align-items: baseline; gap: 12px; }
  header strong { font-size: 18px; }
  header span { color: #59636e; font-size: 14px; }
  main { max-width: 880px; margin: 24px auto; padding: 0 24px; }
  .card { background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 20px 24px; margin-bottom: 20px; }
  h1 { font-size: 22px; margin: 0 0 4px; }
  p.lead { color: #59636e; margin: 0 0 16px; }
  label { display: block; font-weight: 600; margin: 12px 0 4px; }
  input[type=text], select { width: 100%; box-sizing: border-box; font: inherit; padding: 8px 10px; border: 1px solid #d0d7de; border-radius: 6px; }
  input[aria-invalid=true] { border-color: #cf222e; }
  .field-error { color: #cf222e; font-size: 14px; margin: 4px 0 0; }
  .hint { color: #59636e; font-size: 13px; margin: 4px 0 0; }
  button { margin-top: 16px; font: inherit; font-weight: 600; color: #fff; background: #1f883d; border: 1px solid #1a7f37; border-radius: 6px; padding: 8px 16px; cursor: pointer; }
  button:focus-visible, a:focus-visible { outline: 2px solid #0969da; outline-offset: 2px; }
  a { color: #0969da; }
  .meta { color: #59636e; font-size: 14px; }
`;

/** The page frame of the demo. */
export function layout(title: string, body: SafeHtml, clientScript: SafeHtml | '' = ''): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${title} · jobcast</title>
<style>${new SafeHtml(STYLE)}</style>
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
  <p class="lead">A worker reads the history in stages (commits, authors, activity, ownership) while this page shows its progress live, then swaps in the dashboard.</p>
  <form method="post" action="/analyses" novalidate>
    <label for="path">Repository path on the server</label>
    <input id="path" name="path" type="text" value="${values.path}" required maxlength="500"${pathError ? html` aria-invalid="true" aria-describedby="path-error"` : ''}>
    ${pathError ? html`<p class="field-error" id="path-error" role="alert">${pathError}</p>` : html`<p class="hint">Defaults to this project's own repository.</p>`}
    <label for="pace">Pace</label>
    <select id="pace" name="pace">
      <option value="watchable"${values.pace === 'watchable' ? ' selected' : ''}>Watchable: spread over about 5 seconds</option>
      <option value="fast"${values.pace === 'fast' ? ' selected' : ''}>As fast as possible</option>
    </select>
    <button type="submit">Analyse history</button>
  </form>
</section>`,
  );
}

/** The page returned at once after the job was queued: the element the client wires itself to. */
export function jobPage(path: string, jobElement: SafeHtml, gatewayUrl: string | undefined): string {
  return layout(
    'Analysing…',
    html`<section class="card">
  <h1>History of <code>${path}</code></h1>
  <p class="meta">This page came back at once; the analysis runs on a worker. <a href="/">Start another</a></p>
  ${jobElement}
</section>`,
    html`<script src="/jobcast/client.js" defer${gatewayUrl ? html` data-gateway="${gatewayUrl}"` : ''}></script>`,
  );
}
