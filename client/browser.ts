/**
 * The one-file browser client served at `/jobcast/client.js`: exposes `window.jobcast` and
 * wires every `[data-jobcast-job]` element, unless the tag says `data-jobcast-auto="false"`.
 */
import * as jobcast from './index.js';

declare global {
  interface Window {
    jobcast: typeof jobcast;
  }
}

// Only readable while the script first runs.
const script = document.currentScript as HTMLScriptElement | null;
window.jobcast = jobcast;

if (script?.dataset.jobcastAuto !== 'false') {
  const mount = () =>
    jobcast.mountJobElements({
      ...(script?.dataset.gateway ? { gatewayUrl: script.dataset.gateway } : {}),
      ...(script?.nonce ? { styleNonce: script.nonce } : {}),
    });
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', mount, { once: true });
  else mount();
}
