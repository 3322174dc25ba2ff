/**
 * The Allure 3 awesome report embeds Google Analytics (a gtag.js loader and an inline gtag() call) and no
 * option turns it off. The lab's reports must not call out, so `npm run report` strips both scripts from
 * every generated HTML file and then checks that nothing is left. Pure.
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
