/**
 * The progress view's look: readable with no CSS from the page, restyled through custom
 * properties on `.jobcast` and the documented `jobcast-*` class names.
 */
export const STYLES = `
.jobcast{--jobcast-accent:#0969da;--jobcast-bg:#fff;--jobcast-text:#1f2328;--jobcast-muted:#59636e;--jobcast-danger:#cf222e;--jobcast-track:#e6eaef;--jobcast-radius:8px;--jobcast-bar-height:10px;
  display:block;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--jobcast-text)}
.jobcast-panel{background:var(--jobcast-bg);border:1px solid var(--jobcast-track);border-radius:var(--jobcast-radius);padding:14px 16px}
.jobcast-head{display:flex;justify-content:space-between;gap:12px;align-items:baseline;margin-bottom:8px}
.jobcast-stage{font-weight:600}
.jobcast-pct{font-variant-numeric:tabular-nums;color:var(--jobcast-muted)}
.jobcast-bar{position:relative;height:var(--jobcast-bar-height);background:var(--jobcast-track);border-radius:calc(var(--jobcast-bar-height)/2);overflow:hidden}
.jobcast-bar-fill{height:100%;width:0;background:var(--jobcast-accent);border-radius:inherit;transition:width .4s ease}
.jobcast-bar:not([aria-valuenow]) .jobcast-bar-fill{width:35%;animation:jobcast-slide 1.3s ease-in-out infinite}
@keyframes jobcast-slide{0%{transform:translateX(-100%)}100%{transform:translateX(290%)}}
.jobcast-detail{display:flex;justify-content:space-between;gap:12px;margin-top:6px;color:var(--jobcast-muted);font-size:13px;min-height:1.45em}
.jobcast-eta{white-space:nowrap;font-variant-numeric:tabular-nums}
.jobcast-notice{margin:10px 0 0;padding:8px 10px;border-radius:6px;background:#fff8c5;color:#4d2d00;font-size:13px}
.jobcast-error{margin:10px 0 0;color:var(--jobcast-danger);font-weight:600}
.jobcast-error.jobcast-error-only{margin:0}
.jobcast-button{margin-top:10px;font:inherit;font-weight:600;color:var(--jobcast-accent);background:transparent;border:1px solid currentColor;border-radius:6px;padding:4px 12px;cursor:pointer}
.jobcast-actions{display:flex;gap:8px}
.jobcast-cancel{color:var(--jobcast-muted)}
.jobcast-button:disabled{opacity:.6;cursor:default}
.jobcast-button:focus-visible{outline:2px solid var(--jobcast-accent);outline-offset:2px}
.jobcast[data-jobcast-state=retrying] .jobcast-bar-fill,.jobcast[data-jobcast-state=stalled] .jobcast-bar-fill{background:#bf8700}
.jobcast[data-jobcast-state=failed] .jobcast-bar-fill,.jobcast[data-jobcast-state=cancelled] .jobcast-bar-fill{background:var(--jobcast-muted)}
.jobcast-result:focus{outline:none}
.jobcast [hidden]{display:none!important}
@media (prefers-reduced-motion:reduce){.jobcast-bar-fill{transition:none}.jobcast-bar:not([aria-valuenow]) .jobcast-bar-fill{animation:none;width:100%;opacity:.45}}
`;

/** Adds the styles once per document; `nonce` lets them pass a strict style-src CSP. */
export function injectStyles(doc: Document, nonce?: string): void {
  if (doc.querySelector('style[data-jobcast]')) return;
  const style = doc.createElement('style');
  style.setAttribute('data-jobcast', '');
  if (nonce) style.nonce = nonce;
  style.textContent = STYLES;
  doc.head.appendChild(style);
}
