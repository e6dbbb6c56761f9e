import { ErrorCode } from '../../shared/codes.js';
import { jobChannel } from '../../shared/constants.js';
import type { ProgressEvent, RetryingEvent } from '../../shared/protocol.js';
import { connect, type JobcastConnection } from '../connection.js';
import { JobcastClientError } from '../errors.js';
import type { Subscription } from '../subscription.js';
import { trackJob } from '../track-job.js';
import { JobView } from './job-view.js';
import { injectStyles } from './styles.js';

/** Options of {@link mountJobElements} and {@link trackElement}. */
export interface MountOptions {
  /** Where to look for `[data-jobcast-job]` elements. @defaultValue `document` */
  root?: ParentNode;
  /** Gateway origin. @defaultValue `data-jobcast-gateway`, else the page's origin */
  gatewayUrl?: string;
  /** Show "taking longer than usual" after this long without an event. @defaultValue 15000 */
  stallAfterMs?: number;
  /** Show "Reconnecting…" once the job's events have had no live path for this long. @defaultValue 2000 */
  reconnectingAfterMs?: number;
  /** Nonce for the injected `<style>`, for a strict CSP. */
  styleNonce?: string;
}

const connections = new Map<string, JobcastConnection>();
const tracked = new WeakMap<HTMLElement, () => void>();

function connectionFor(url: string): JobcastConnection {
  let connection = connections.get(url);
  if (!connection) connections.set(url, (connection = connect({ url })));
  return connection;
}

/**
 * The rights a token carries, read from its payload for the UI only (whether to offer Cancel);
 * the server verifies the signature on every request.
 */
export function tokenRights(token: string): string[] {
  try {
    const payload = token.split('.')[1] ?? '';
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const rights = (JSON.parse(json) as { r?: unknown }).r;
    return Array.isArray(rights) ? rights.map(String) : [];
  } catch {
    return [];
  }
}

/** POSTs a job action (cancel, retry) with the token; throws with the server's message. */
async function postAction(url: URL, token: string): Promise<void> {
  const response = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}` }, credentials: 'same-origin' });
  if (response.ok) return;
  let message = `HTTP ${response.status}`;
  try {
    message = ((await response.json()) as { error?: { message?: string } }).error?.message ?? message;
  } catch {
    // not JSON
  }
  throw new Error(message);
}

/**
 * A `getToken` for the element's `data-jobcast-token-url`: POSTs `{ jobId, channel }` as JSON
 * with the page's cookies and takes `{ token }` from the answer. A 401/403/404 means the
 * application will not give one (`''`: final); anything else that fails is retried.
 */
export function tokenFromUrl(url: URL, jobId: string): (context: { channel: string }) => Promise<string> {
  return async ({ channel }) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      credentials: 'same-origin',
      body: JSON.stringify({ jobId, channel }),
    });
    if ([401, 403, 404].includes(response.status)) return '';
    if (!response.ok) throw new Error(`the token endpoint answered HTTP ${response.status}`);
    const token = ((await response.json()) as { token?: unknown }).token;
    if (typeof token !== 'string' || token === '') throw new Error('the token endpoint answered without a token');
    return token;
  };
}

function describe(error: unknown): { text: string; retry: boolean } {
  const code = error instanceof JobcastClientError ? error.code : '';
  if (code === ErrorCode.tokenExpired) return { text: 'Your access to this page has expired. Reload the page to keep watching the job.', retry: false };
  if (code === ErrorCode.unauthorized || code === ErrorCode.forbidden) return { text: 'You do not have access to this job.', retry: false };
  return { text: 'Could not reach the progress service.', retry: true };
}

/**
 * Wires one `<div data-jobcast-job="…" data-jobcast-token="…">`: shows the job's progress and
 * swaps the rendered result in when it completes. Idempotent; returns a dispose function.
 */
export function trackElement(el: HTMLElement, options: MountOptions = {}): () => void {
  const existing = tracked.get(el);
  if (existing) return existing;
  injectStyles(el.ownerDocument, options.styleNonce);
  const view = new JobView(el);
  const jobId = el.dataset.jobcastJob;
  const token = el.dataset.jobcastToken;
  let subscription: Subscription | undefined;
  let stallTimer: ReturnType<typeof setTimeout> | undefined;
  let unreachable: ReturnType<typeof setTimeout> | undefined;
  // eslint-disable-next-line prefer-const -- assigned once below, but dispose() may run before that
  let offState: (() => void) | undefined;
  let offSubscription: (() => void) | undefined;
  let disposed = false;
  const stallAfterMs = Number(el.dataset.jobcastStallMs) || options.stallAfterMs || 15_000;
  const reconnectingAfterMs = options.reconnectingAfterMs ?? 2000;
  const dispose = () => {
    disposed = true;
    clearTimeout(stallTimer);
    clearTimeout(unreachable);
    offState?.();
    offSubscription?.();
    subscription?.unsubscribe();
    view.dispose();
    tracked.delete(el);
  };
  tracked.set(el, dispose);
  if (!jobId || !token) {
    view.problem('This progress element is missing its job id or token.', undefined, true);
    return dispose;
  }

  const location = el.ownerDocument.defaultView?.location;
  const url = el.dataset.jobcastGateway || options.gatewayUrl || location?.origin || '';
  const connection = connectionFor(url);
  const armStall = () => {
    clearTimeout(stallTimer);
    view.slow(false);
    if (!view.finished) stallTimer = setTimeout(() => view.slow(true), stallAfterMs);
  };
  // The bar is only true while events can reach it: a connected socket whose subscription is
  // not live (being retried while Redis is down, say) is as dead as no socket. Past a short
  // grace (a reconnect usually takes well under a second), the page says so.
  let following: Subscription | undefined;
  const checkLive = () => {
    const live = connection.state === 'connected' && following?.state === 'subscribed';
    // Nothing followed any more (refused, finished, not found): the problem shown says it all.
    const over = !following || following.state === 'unsubscribed';
    if (live || over) {
      clearTimeout(unreachable);
      unreachable = undefined;
      view.reconnecting(false);
    } else if (unreachable === undefined) {
      unreachable = setTimeout(() => view.reconnecting(true), reconnectingAfterMs);
    }
  };
  offState = connection.on('state', checkLive);
  const follow = (sub: Subscription | undefined) => {
    offSubscription?.();
    following = sub;
    offSubscription = sub?.onState(checkLive);
    clearTimeout(unreachable);
    unreachable = undefined;
    checkLive();
  };

  const tokenUrl = el.dataset.jobcastTokenUrl;
  const refresh = tokenUrl ? tokenFromUrl(new URL(tokenUrl, location?.href), jobId) : undefined;
  // The refreshed token also serves cancel, retry and the partial.
  let current = token;
  const getToken =
    refresh &&
    (async (context: { channel: string }) => {
      const fresh = await refresh(context);
      if (fresh) current = fresh;
      return fresh;
    });

  const loadPartial = async (partialUrl: string | null) => {
    if (partialUrl === null) return view.completed(null);
    try {
      const response = await fetch(new URL(partialUrl, location?.href), { headers: { authorization: `Bearer ${current}` }, credentials: 'same-origin' });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const html = await response.text();
      if (!disposed) view.completed(html);
    } catch {
      if (!disposed) view.problem('The result could not be loaded.', { label: 'Try again', run: () => void loadPartial(partialUrl) }, true);
    }
  };

  const base = el.dataset.jobcastBase || '/jobcast';
  if (tokenRights(token).includes('cancel')) {
    view.allowCancel(() => postAction(new URL(`${base}/jobs/${encodeURIComponent(jobId)}/cancel`, location?.href), current));
  }

  const runAgain = async () => {
    try {
      await postAction(new URL(`${base}/jobs/${encodeURIComponent(jobId)}/retry`, location?.href), current);
      subscription?.unsubscribe();
      view.restart();
      start();
    } catch (error) {
      view.problem(`Could not run the job again: ${(error as Error).message}`, { label: 'Try again', run: () => void runAgain() });
    }
  };

  const start = () => {
    view.queued();
    armStall();
    const tracking = trackJob(connection, jobId, getToken ? { token: current, getToken } : current, {
      onState: ({ state, event }) => {
        armStall();
        if (state === 'queued') view.queued();
        else if (state === 'active') view.active(event.data.attempt, event.data.attempts);
        else if (state === 'stalled') view.stalled();
      },
      onProgress: (p: ProgressEvent) => {
        armStall();
        view.progress(p.pct, p.stage, p.message);
      },
      onRetrying: (r: RetryingEvent) => {
        armStall();
        view.retrying(r.attempt, r.attempts, r.error, r.retryAt);
      },
      onDone: (outcome) => {
        clearTimeout(stallTimer);
        if (outcome.state === 'completed') void loadPartial(outcome.data.partialUrl);
        else if (outcome.state === 'failed') {
          const canRetry = outcome.data.retryable && tokenRights(token).includes('retry');
          view.failed(outcome.data.error, canRetry ? () => void runAgain() : undefined);
        } else view.cancelled(outcome.data.reason);
        subscription?.unsubscribe();
      },
    });
    follow(connection.subscription(jobChannel(jobId)));
    tracking.then(
      (sub) => {
        subscription = sub;
        // A later resubscribe can be refused too (the token expired before a reconnect).
        sub.onError(({ error }) => {
          if (disposed || view.finished) return;
          clearTimeout(stallTimer);
          const { text, retry } = describe(error);
          if (retry) return; // transient: the connection retries by itself
          view.problem(text, error instanceof JobcastClientError && error.code === ErrorCode.tokenExpired ? reloadAction(el) : undefined, true);
          sub.unsubscribe();
        });
        // A job that exists has at least its `queued` event; an empty channel means no such
        // job, or one whose retention ran out.
        if (!view.finished && (sub.position?.offset ?? 0) === 0) {
          clearTimeout(stallTimer);
          view.problem('This job was not found. It may have expired.', undefined, true);
          sub.unsubscribe();
        }
        if (disposed || view.finished) sub.unsubscribe();
      },
      (error: unknown) => {
        clearTimeout(stallTimer);
        follow(undefined);
        if (disposed) return;
        const { text, retry } = describe(error);
        const expired = error instanceof JobcastClientError && error.code === ErrorCode.tokenExpired;
        view.problem(text, retry ? { label: 'Try again', run: start } : expired ? reloadAction(el) : undefined, true);
      },
    );
  };
  start();
  return dispose;
}

/** A Reload button, for a page that outlived its token and has no way to get a fresh one. */
function reloadAction(el: HTMLElement): { label: string; run: () => void } {
  return { label: 'Reload', run: () => el.ownerDocument.defaultView?.location.reload() };
}

/**
 * Wires every `[data-jobcast-job]` element under `root`, now and whenever one is added later.
 * Returns a function that stops watching for new elements.
 */
export function mountJobElements(options: MountOptions = {}): () => void {
  const root = options.root ?? document;
  const scan = (node: ParentNode | Element) => {
    if (node instanceof HTMLElement && node.matches('[data-jobcast-job]')) trackElement(node, options);
    node.querySelectorAll?.<HTMLElement>('[data-jobcast-job]').forEach((el) => trackElement(el, options));
  };
  scan(root);
  const observer = new MutationObserver((records) => {
    for (const record of records) record.addedNodes.forEach((node) => node instanceof Element && scan(node));
  });
  observer.observe(root instanceof Document ? root.documentElement : (root as Node), { childList: true, subtree: true });
  return () => observer.disconnect();
}
