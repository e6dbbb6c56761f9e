import { html, type SafeHtml } from '../http/html.js';
import type { HistoryReport } from './git-history.js';

const num = (n: number) => n.toLocaleString('en-US');
const plural = (n: number, word: string) => `${num(n)} ${word}${n === 1 ? '' : 's'}`;
const day = (iso: string | null) => (iso ? iso.slice(0, 10) : '—');

/** The dashboard partial: every value from git is escaped. */
export function renderDashboard(report: HistoryReport): string {
  const totalCommits = Math.max(1, report.commitCount);
  const top = report.authors.slice(0, 10);
  return html`<section class="jc-dash" aria-label="Repository history dashboard">
    <h2>${report.repo} <span class="jc-dash-meta">@ ${report.head}</span></h2>
    <p class="jc-dash-meta">
      ${plural(report.commitCount, 'commit')} by ${plural(report.authors.length, 'author')}, ${day(report.firstCommitAt)} to ${day(report.lastCommitAt)}.
      Analysed in ${(report.durationMs / 1000).toFixed(1)} s.
    </p>
    <h3>Commits over time</h3>
    ${activityChart(report.activity)}
    <h3>Top authors</h3>
    <table class="jc-dash-authors">
      <thead>
        <tr>
          <th>Author</th>
          <th class="jc-dash-num">Commits</th>
          <th class="jc-dash-num">Lines</th>
          <th>Share</th>
        </tr>
      </thead>
      <tbody>
        ${top.map(
          (a) =>
            html`<tr>
              <td>${a.name}</td>
              <td class="jc-dash-num">${num(a.commits)}</td>
              <td class="jc-dash-num"><span class="jc-dash-add">+${num(a.added)}</span> <span class="jc-dash-del">−${num(a.deleted)}</span></td>
              <td>
                <svg class="jc-dash-share" width="120" height="8" aria-hidden="true">
                  <rect width="${Math.max(2, Math.round((a.commits / totalCommits) * 120))}" height="8" rx="4" />
                </svg>
                ${Math.round((a.commits / totalCommits) * 100)}%
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
    <div class="jc-dash-grid">
      <div>
        <h3>Most changed files</h3>
        <table class="jc-dash-churn">
          <thead>
            <tr>
              <th>File</th>
              <th class="jc-dash-num">Commits</th>
              <th class="jc-dash-num">Lines</th>
            </tr>
          </thead>
          <tbody>
            ${report.churn.slice(0, 10).map(
              (f) =>
                html`<tr>
                  <td><code>${f.path}</code></td>
                  <td class="jc-dash-num">${num(f.changes)}</td>
                  <td class="jc-dash-num"><span class="jc-dash-add">+${num(f.added)}</span> <span class="jc-dash-del">−${num(f.deleted)}</span></td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>
      <div>
        <h3>Ownership</h3>
        <table class="jc-dash-ownership">
          <thead>
            <tr>
              <th>File</th>
              <th>Main author</th>
              <th class="jc-dash-num">Share</th>
            </tr>
          </thead>
          <tbody>
            ${report.ownership.slice(0, 10).map(
              (o) =>
                html`<tr>
                  <td><code>${o.path}</code></td>
                  <td>${o.topAuthor}</td>
                  <td class="jc-dash-num">${Math.round(o.share * 100)}% of ${num(o.lines)}</td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>
    </div>
  </section>`.value;
}

/** Bars of commits per period as inline SVG, with the first/last period and the maximum labelled. */
export function activityChart(activity: HistoryReport['activity']): SafeHtml {
  const width = 720;
  const height = 160;
  const pad = { top: 12, right: 8, bottom: 22, left: 32 };
  const max = Math.max(1, ...activity.map((a) => a.commits));
  const slot = (width - pad.left - pad.right) / Math.max(1, activity.length);
  // Few periods would make giant bars: cap them so the chart still reads as a chart.
  const bar = Math.min(36, Math.max(1, slot * 0.8));
  const plotHeight = height - pad.top - pad.bottom;
  const label = activity.length
    ? `Commits per ${activity[0]!.period.length > 7 ? 'day' : 'month'} from ${activity[0]!.period} to ${activity.at(-1)!.period}, at most ${max}`
    : 'No commits';
  return html`<svg class="jc-dash-chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${label}">
    <line x1="${pad.left}" y1="${height - pad.bottom}" x2="${width - pad.right}" y2="${height - pad.bottom}" stroke="#d0d7de" />
    <text x="${pad.left - 6}" y="${pad.top + 4}" text-anchor="end" font-size="11" fill="#59636e">${max}</text>
    <text x="${pad.left - 6}" y="${height - pad.bottom}" text-anchor="end" font-size="11" fill="#59636e">0</text>
    ${activity.map((a, i) => {
      const h = (a.commits / max) * plotHeight;
      return html`<rect
        class="jc-dash-bar"
        x="${(pad.left + i * slot + (slot - bar) / 2).toFixed(1)}"
        y="${(height - pad.bottom - h).toFixed(1)}"
        width="${bar.toFixed(1)}"
        height="${h.toFixed(1)}"
        rx="2"
        fill="#2da44e"
        ><title>${a.period}: ${a.commits} commits</title></rect
      >`;
    })}
    ${activity.length ? html`<text x="${pad.left}" y="${height - 6}" font-size="11" fill="#59636e">${activity[0]!.period}</text><text x="${width - pad.right}" y="${height - 6}" text-anchor="end" font-size="11" fill="#59636e">${activity.at(-1)!.period}</text>` : ''}
  </svg>`;
}
