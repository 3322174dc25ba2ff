import { describe, expect, test } from 'vitest';
import { findAnalytics, OPEN_AT_TOP_MARK, openAtTop, stripAnalytics } from '../../reports/allure-html.ts';

/** The tail of an Allure 3.18 awesome single-file index.html, as generated (data shortened). */
const ALLURE_TAIL = `    <script   src="data:text/javascript;base64,LyohIEZvciBsaWNlbnNlIGluZm9ybWF0aW9u"></script>
    <script async src="https://www.googletagmanager.com/gtag/js?id=G-LNDJ3J7WT0"></script>
    <script>
        window.dataLayer = window.dataLayer || [];
        function gtag(){dataLayer.push(arguments);}
        gtag('js', new Date());
        gtag('config', 'G-LNDJ3J7WT0', {
          "report": "awesome",
          "allureVersion": "3.18.0",
          "reportUuid": "ef23c69e-0fb7-4620-a8bc-78b68c1aceb6",
          "single_file": "true"
        });
    </script>
    <script async>
      window.allureReportDataReady = false;
      window.allureReportData = window.allureReportData || {};
    </script>
    <script defer>
      Promise.allSettled([d("widgets/statistic.json","eyJ0b3RhbCI6Nn0=")])
    </script>
</body>
</html>`;
const ALLURE_HEAD = `<!DOCTYPE html>
<html dir="ltr" lang="en">
<head>
    <script>
      window.allureReportOptions = {"id":"awesome","reportName":"Cilium 1.18.6"}
    </script>
</head>
<body>
    <div id="app"></div>
`;

describe('stripAnalytics', () => {
  test('removes the gtag loader and the inline gtag call, keeps the report scripts', () => {
    const html = ALLURE_HEAD + ALLURE_TAIL;
    expect(findAnalytics(html).length).toBeGreaterThan(0);
    const r = stripAnalytics(html);
    expect(r.removed).toBe(2);
    expect(findAnalytics(r.html)).toEqual([]);
    expect(r.html).not.toContain('googletagmanager');
    expect(r.html).not.toContain('gtag(');
    expect(r.html).toContain('window.allureReportOptions');
    expect(r.html).toContain('data:text/javascript;base64,LyohIEZvciBsaWNlbnNlIGluZm9ybWF0aW9u');
    expect(r.html).toContain('widgets/statistic.json');
    expect(r.html).toContain('</html>');
  });

  test('is idempotent and leaves clean HTML alone', () => {
    const once = stripAnalytics(ALLURE_HEAD + ALLURE_TAIL).html;
    expect(stripAnalytics(once)).toEqual({ html: once, removed: 0 });
    const plain = '<html><body><script>console.log(1)</script></body></html>';
    expect(stripAnalytics(plain)).toEqual({ html: plain, removed: 0 });
  });

  test('a data: URI script is judged by its tag, not by bytes that happen to spell a marker', () => {
    const html = '<script src="data:text/javascript;base64,ZGF0YUxheWVy"></script>';
    expect(stripAnalytics(html).removed).toBe(0);
  });

  test('empty, garbage and truncated input', () => {
    expect(stripAnalytics('')).toEqual({ html: '', removed: 0 });
    expect(stripAnalytics('<<<script>>>').removed).toBe(0);
    const truncated = ALLURE_TAIL.slice(0, ALLURE_TAIL.indexOf('"report": "awesome"'));
    // An unterminated inline script is not a <script>…</script> element: nothing to strip, but it is found.
    expect(findAnalytics(stripAnalytics(truncated).html).length).toBeGreaterThan(0);
  });
});

test('openAtTop adds its script once, before </body>, and it names no other machine', () => {
  const html = '<html><body><div id="app"></div></body></html>';
  const once = openAtTop(html);
  expect(openAtTop(once)).toBe(once);
  expect(once.indexOf(`id="${OPEN_AT_TOP_MARK}"`)).toBeLessThan(once.indexOf('</body>'));
  expect(findAnalytics(once)).toEqual([]);
  expect(once).not.toMatch(/https?:\/\//);
});
