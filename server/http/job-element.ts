import type { StartedJob } from '../../shared/protocol.js';
import { html, type SafeHtml } from './html.js';

/** Options of {@link renderJobElement}. */
export interface JobElementOptions {
  /** The gateway's origin when it is not the page's own. */
  gatewayUrl?: string;
  /** Where the jobcast router is mounted. @defaultValue `/jobcast` */
  basePath?: string;
  /**
   * Your app's token refresh endpoint (`data-jobcast-token-url`): the page asks it for a fresh
   * token when its token expires while open. See the README, "In the browser".
   */
  tokenUrl?: string;
}

/**
 * The element the browser client wires itself to: put it in your page with
 * `<script src="/jobcast/client.js" defer></script>`.
 *
 * @example
 * ```ts
 * const started = await jobcast.start(resize, input, { owner: user.id });
 * res.send(`<main>${renderJobElement(started)}</main><script src="/jobcast/client.js" defer></script>`);
 * ```
 */
export function renderJobElement(started: Pick<StartedJob, 'jobId' | 'token'>, options: JobElementOptions = {}): SafeHtml {
  return html`<div
    class="jobcast"
    data-jobcast-job="${started.jobId}"
    data-jobcast-token="${started.token}"
    data-jobcast-state="queued"
    ${
      options.gatewayUrl ? html` data-jobcast-gateway="${options.gatewayUrl}"` : ''
    }${options.basePath ? html` data-jobcast-base="${options.basePath}"` : ''}${options.tokenUrl ? html` data-jobcast-token-url="${options.tokenUrl}"` : ''}
  >
    <div role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-label="Job progress"></div>
  </div>`;
}
