/**
 * The demo's stylesheet, served as a file (`/demo.css`) so pages need no inline style under
 * their Content-Security-Policy; the dashboard partial relies on it too.
 */
export const DEMO_CSS = `
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

.jc-dash { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; }
.jc-dash h2 { font-size: 18px; margin: 0 0 2px; }
.jc-dash h3 { font-size: 15px; margin: 20px 0 8px; }
.jc-dash .jc-dash-meta { color: #59636e; margin: 0 0 8px; }
.jc-dash table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
.jc-dash th, .jc-dash td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #d8dee4; vertical-align: middle; }
.jc-dash th { font-weight: 600; color: #59636e; font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
.jc-dash td.jc-dash-num { text-align: right; white-space: nowrap; }
.jc-dash .jc-dash-add { color: #1a7f37; } .jc-dash .jc-dash-del { color: #cf222e; }
.jc-dash .jc-dash-share { vertical-align: middle; }
.jc-dash .jc-dash-share rect { fill: #0969da; }
.jc-dash code { font-size: 13px; word-break: break-all; }
.jc-dash svg { display: block; width: 100%; height: auto; }
.jc-dash .jc-dash-grid { display: grid; gap: 0 24px; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); }
`;
