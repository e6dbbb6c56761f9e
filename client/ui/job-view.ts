import type { JobState } from '../../shared/constants.js';
import { EtaEstimator, formatDuration } from './format.js';

/** What the view shows in its message area: plain text, optionally with one action. */
interface Message {
  text: string;
  kind: 'notice' | 'error';
  action?: { label: string; run: () => void };
}

/**
 * The progress UI of one job inside its element. Every text from the job (stage, message,
 * error) is set as text, never as HTML; only the server-rendered partial is inserted as HTML.
 */
export class JobView {
  readonly #el: HTMLElement;
  readonly #stage: HTMLElement;
  readonly #pct: HTMLElement;
  readonly #bar: HTMLElement;
  readonly #head: HTMLElement;
  readonly #detail: HTMLElement;
  readonly #fill: HTMLElement;
  readonly #message: HTMLElement;
  readonly #eta: HTMLElement;
  readonly #notice: HTMLElement;
  readonly #error: HTMLElement;
  readonly #button: HTMLButtonElement;
  readonly #cancel: HTMLButtonElement;
  readonly #etaEstimator = new EtaEstimator();
  #action: (() => void) | undefined;
  #countdown: ReturnType<typeof setInterval> | undefined;
  #finished = false;
  /** Both notices can be due at once; the dead connection wins, it is the truth about the bar. */
  #slow = false;
  #reconnecting = false;
  #keepError = false;

  constructor(el: HTMLElement) {
    this.#el = el;
    const doc = el.ownerDocument;
    const make = (tag: string, className: string, attrs: Record<string, string> = {}) => {
      const node = doc.createElement(tag);
      node.className = className;
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
      return node;
    };
    el.classList.add('jobcast');
    const panel = make('div', 'jobcast-panel');
    const head = make('div', 'jobcast-head');
    this.#head = head;
    this.#stage = make('span', 'jobcast-stage', { 'aria-live': 'polite' });
    this.#pct = make('span', 'jobcast-pct', { 'aria-hidden': 'true' });
    head.append(this.#stage, this.#pct);
    this.#bar = make('div', 'jobcast-bar', { role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-label': 'Job progress' });
    this.#fill = make('div', 'jobcast-bar-fill');
    this.#bar.append(this.#fill);
    const detail = make('div', 'jobcast-detail');
    this.#detail = detail;
    this.#message = make('span', 'jobcast-message');
    this.#eta = make('span', 'jobcast-eta');
    detail.append(this.#message, this.#eta);
    this.#notice = make('p', 'jobcast-notice', { role: 'status', hidden: '' });
    this.#error = make('p', 'jobcast-error', { role: 'alert', hidden: '' });
    this.#button = make('button', 'jobcast-button', { type: 'button', hidden: '' }) as HTMLButtonElement;
    this.#button.addEventListener('click', () => this.#action?.());
    this.#cancel = make('button', 'jobcast-button jobcast-cancel', { type: 'button', hidden: '' }) as HTMLButtonElement;
    this.#cancel.textContent = 'Cancel';
    const actions = make('div', 'jobcast-actions');
    actions.append(this.#button, this.#cancel);
    panel.append(head, this.#bar, detail, this.#notice, this.#error, actions);
    el.replaceChildren(panel);
    this.queued();
  }

  /** Shows the cancel button; `onCancel` resolves when the request was accepted, rejects otherwise. */
  allowCancel(onCancel: () => Promise<void>): void {
    this.#cancel.hidden = this.#finished;
    this.#cancel.onclick = () => {
      this.#cancel.disabled = true;
      this.#cancel.textContent = 'Cancelling…';
      onCancel().catch((error: unknown) => {
        this.#cancel.disabled = false;
        this.#cancel.textContent = 'Cancel';
        this.problem(`Could not cancel: ${(error as Error).message}`);
        // Why it cannot be cancelled (a running job of a watched queue) stays while it runs.
        this.#keepError = true;
      });
    };
  }

  get finished(): boolean {
    return this.#finished;
  }

  queued(): void {
    this.#finished = false;
    this.#keepError = false;
    this.#head.hidden = this.#bar.hidden = this.#detail.hidden = false;
    this.#hide(this.#error);
    this.#hide(this.#button);
    this.#setState('queued');
    this.#stage.textContent = 'Waiting in the queue…';
    this.#setPct(null);
  }

  active(attempt: number, attempts: number): void {
    this.#setState('active');
    this.#clearCountdown();
    if (!this.#keepError) this.#hide(this.#error);
    if (this.#stage.textContent === 'Waiting in the queue…' || this.#el.dataset.jobcastRetried)
      this.#stage.textContent = attempt > 1 ? `Starting attempt ${attempt} of ${attempts}…` : 'Starting…';
  }

  progress(pct: number | null, stage?: string, message?: string): void {
    this.#head.hidden = this.#bar.hidden = this.#detail.hidden = false;
    this.#setState('active');
    this.#clearCountdown();
    if (!this.#keepError) this.#hide(this.#error);
    if (stage !== undefined) this.#stage.textContent = stage;
    else if (this.#stage.textContent === 'Waiting in the queue…') this.#stage.textContent = 'Working…';
    this.#message.textContent = message ?? '';
    this.#setPct(pct);
    const eta = pct === null ? null : this.#etaEstimator.update(pct);
    this.#eta.textContent = eta === null || pct === 100 ? '' : `about ${formatDuration(eta)} left`;
  }

  retrying(attempt: number, attempts: number, error: string, retryAt: number | null): void {
    this.#setState('retrying');
    this.#el.dataset.jobcastRetried = '1';
    this.#etaEstimator.reset();
    this.#eta.textContent = '';
    const render = () => {
      const wait = retryAt === null ? null : retryAt - Date.now();
      const when = wait === null || wait <= 500 ? 'Retrying now' : `Retrying in ${formatDuration(wait)}`;
      this.#stage.textContent = `Attempt ${attempt - 1} of ${attempts} failed: ${error}. ${when} (attempt ${attempt} of ${attempts}).`;
    };
    render();
    this.#clearCountdown();
    if (retryAt !== null) this.#countdown = setInterval(render, 1000);
  }

  stalled(): void {
    this.#setState('stalled');
    this.#stage.textContent = 'The worker stopped responding; another will pick the job up.';
  }

  /** Shows or hides the "taking longer than usual" notice (never over "Reconnecting…"). */
  slow(on: boolean): void {
    this.#slow = on;
    this.#renderNotice();
  }

  /** Shows or hides the reconnecting note: no live path to the job's events right now. */
  reconnecting(on: boolean): void {
    this.#reconnecting = on;
    this.#renderNotice();
  }

  #renderNotice(): void {
    if (this.#finished) return;
    if (this.#reconnecting) {
      this.#show(this.#notice, 'Cannot reach the progress service. Reconnecting…');
      this.#notice.dataset.kind = 'reconnecting';
    } else if (this.#slow) {
      this.#show(this.#notice, 'Taking longer than usual…');
      this.#notice.dataset.kind = 'slow';
    } else {
      delete this.#notice.dataset.kind;
      this.#hide(this.#notice);
    }
  }

  /** Swaps the rendered result in; moves focus to it only if focus was inside the element. */
  completed(partial: string | null): void {
    this.#finish('completed');
    const doc = this.#el.ownerDocument;
    const hadFocus = this.#el.contains(doc.activeElement);
    const result = doc.createElement('div');
    result.className = 'jobcast-result';
    result.tabIndex = -1;
    if (partial === null) result.textContent = 'Done.';
    else result.innerHTML = partial; // server-rendered and escaped there; see README "Rendering"
    this.#el.replaceChildren(result);
    if (hadFocus) result.focus({ preventScroll: true });
  }

  /** Shows the failure; `retry`, when the job may run again, offers a Try again button. */
  failed(error: string, retry?: () => void): void {
    this.#finish('failed');
    this.#stage.textContent = 'Failed';
    this.#message.textContent = '';
    this.#eta.textContent = '';
    this.#problem({ kind: 'error', text: `This job failed: ${error}`, ...(retry ? { action: { label: 'Try again', run: retry } } : {}) });
  }

  /** Back to following the job after it was sent to run again. */
  restart(): void {
    this.#finished = false;
    this.#etaEstimator.reset();
    this.#cancel.hidden = this.#cancel.onclick === null;
    this.queued();
  }

  cancelled(reason: string): void {
    this.#finish('cancelled');
    this.#stage.textContent = 'Cancelled.';
    this.#message.textContent = reason;
    this.#eta.textContent = '';
  }

  /**
   * A problem the person can act on (load error, access denied), with an optional action.
   * `stopped`: the job cannot be followed (any more), so the bar goes away.
   */
  problem(text: string, action?: { label: string; run: () => void }, stopped = false): void {
    if (!action || stopped) this.#cancel.hidden = true;
    this.#head.hidden = stopped;
    this.#bar.hidden = stopped;
    this.#detail.hidden = stopped;
    if (stopped) {
      this.#slow = this.#reconnecting = false;
      this.#renderNotice();
    }
    this.#problem({ kind: 'error', text, ...(action ? { action } : {}) });
  }

  dispose(): void {
    this.#clearCountdown();
  }

  #problem(message: Message): void {
    this.#error.classList.toggle('jobcast-error-only', this.#bar.hidden);
    this.#show(this.#error, message.text);
    this.#action = message.action?.run;
    if (message.action) this.#show(this.#button, message.action.label);
    else this.#hide(this.#button);
  }

  #finish(state: JobState): void {
    this.#finished = true;
    this.#cancel.hidden = true;
    this.#clearCountdown();
    this.#hide(this.#notice);
    this.#setState(state);
  }

  #setState(state: JobState): void {
    if (this.#finished && !['completed', 'failed', 'cancelled'].includes(state)) return;
    this.#el.setAttribute('data-jobcast-state', state);
  }

  #setPct(pct: number | null): void {
    if (pct === null) {
      this.#bar.removeAttribute('aria-valuenow');
      this.#bar.removeAttribute('aria-valuetext');
      this.#fill.style.width = '';
      this.#pct.textContent = '';
      return;
    }
    const rounded = Math.round(pct);
    const wasIndeterminate = !this.#bar.hasAttribute('aria-valuenow');
    this.#bar.setAttribute('aria-valuenow', String(rounded));
    if (wasIndeterminate) {
      // From the sliding stripe to a value: jump there rather than shrink from the stripe's width.
      this.#fill.style.transition = 'none';
      this.#fill.style.width = `${pct}%`;
      void this.#fill.offsetWidth;
      this.#fill.style.transition = '';
    }
    this.#bar.setAttribute('aria-valuetext', `${rounded}%${this.#stage.textContent ? `, ${this.#stage.textContent}` : ''}`);
    this.#fill.style.width = `${pct}%`;
    this.#pct.textContent = `${rounded}%`;
  }

  #show(node: HTMLElement, text: string): void {
    node.textContent = text;
    node.hidden = false;
  }

  #hide(node: HTMLElement): void {
    node.hidden = true;
  }

  #clearCountdown(): void {
    if (this.#countdown !== undefined) clearInterval(this.#countdown);
    this.#countdown = undefined;
  }
}
