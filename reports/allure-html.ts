/**
 * Two fixes to the HTML the Allure 3 awesome report writes, both pure:
 * - It embeds Google Analytics (a gtag.js loader and an inline gtag() call) and no option turns it off. The lab's
 *   reports must not call out, so `npm run report` strips both scripts from every generated HTML file and then
 *   checks that nothing is left.
 * - As it loads, the app scrolls its tree container to the first failed test, which hides the report's name and
 *   statistics; no option turns that off either. `openAtTop` adds a small script that puts the page back at its top
 *   while the app settles (until its tree has been on screen for 2 s), unless the reader scrolls, clicks or types first, or the
 *   address names a test (#…).
 */
const SCRIPT = /<script\b([^>]*)>([\s\S]*?)<\/script>/gi;
/** What gives an analytics script away, in its tag or its inline body. */
const ANALYTICS = /googletagmanager\.com|google-analytics\.com|\bgtag\s*\(|\bdataLayer\b|G-LNDJ3J7WT0/;

export function stripAnalytics(html: string): { html: string; removed: number } {
  let removed = 0;
  const out = html.replace(SCRIPT, (all: string, attrs: string, body: string) => {
    // A data: URI script (the app bundle) is code, not a loader: only its tag is looked at.
    const inspected = /\bsrc\s*=\s*["']?data:/i.test(attrs) ? attrs : `${attrs}\n${body}`;
    if (!ANALYTICS.test(inspected)) return all;
    removed++;
    return '';
  });
  return { html: out, removed };
}

/** Every trace of analytics left in the HTML outside embedded data: URIs (empty when clean). */
export function findAnalytics(html: string): string[] {
  const withoutDataUris = html.replace(/data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+/g, 'data:…');
  const found: string[] = [];
  const re = new RegExp(ANALYTICS.source, 'g');
  for (const m of withoutDataUris.matchAll(re)) {
    found.push(withoutDataUris.slice(Math.max(0, m.index - 40), m.index + 60));
  }
  return found;
}

/** Marks the script `openAtTop` adds, so adding it twice is a no-op. */
export const OPEN_AT_TOP_MARK = 'clh-open-at-top';

const OPEN_AT_TOP_SCRIPT = `<script id="${OPEN_AT_TOP_MARK}">(function () {
  if (location.hash && location.hash !== '#' && location.hash !== '#/') return;
  var reader = false;
  ['wheel', 'keydown', 'mousedown', 'touchstart'].forEach(function (type) {
    addEventListener(type, function () { reader = true; }, { capture: true, once: true });
  });
  var start = Date.now(), rendered = 0;
  function top() {
    if (reader) return;
    var now = Date.now();
    document.querySelectorAll('[data-tree-scroll-container]').forEach(function (el) {
      if (!rendered && el.scrollHeight > el.clientHeight) rendered = now;
      el.scrollTop = 0;
    });
    if (window.scrollY !== 0) window.scrollTo(0, 0);
    // Until the tree has been on screen for 2 s (the app scrolls once it has rendered), at most 20 s.
    if ((!rendered || now - rendered < 2000) && now - start < 20000) requestAnimationFrame(top);
  }
  addEventListener('load', function () { requestAnimationFrame(top); });
})();</script>`;

/** The report's HTML with the open-at-top script before </body> (once). */
export function openAtTop(html: string): string {
  if (html.includes(`id="${OPEN_AT_TOP_MARK}"`)) return html;
  const at = html.lastIndexOf('</body>');
  return at < 0 ? `${html}${OPEN_AT_TOP_SCRIPT}` : `${html.slice(0, at)}${OPEN_AT_TOP_SCRIPT}\n${html.slice(at)}`;
}
