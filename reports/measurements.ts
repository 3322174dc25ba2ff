/**
 * Measured numbers (failover time, outage) travel from a suite to the cross-version page as Allure
 * parameters named `measurement: <name>` with the value `<number> <unit>`, excluded from history identity
 * (a number that changes every night must not split a test's history). Pure.
 */
export const MEASUREMENT_PREFIX = 'measurement: ';

export interface Measurement {
  name: string;
  value: number;
  unit: string;
}

const NAME_RE = /^[A-Za-z0-9][\w .()/-]{0,63}$/;
const UNIT_RE = /^[A-Za-zµ%/]{1,12}$/;

/** The Allure parameter for one measurement; throws on a name, value or unit that could not be read back. */
export function measurementParameter(name: string, value: number, unit: string): { name: string; value: string } {
  if (!NAME_RE.test(name)) throw new Error(`measurement name ${JSON.stringify(name)}: use letters, digits, spaces, - _ . ( ) /`);
  if (!Number.isFinite(value)) throw new Error(`measurement ${name}: value must be a finite number, got ${value}`);
  if (!UNIT_RE.test(unit))
    throw new Error(`measurement ${name}: unit ${JSON.stringify(unit)} must be a short word such as s, ms, %, packets`);
  return { name: `${MEASUREMENT_PREFIX}${name}`, value: `${value} ${unit}` };
}

/** Reads a parameter back; null when it is not a measurement or is malformed. */
export function parseMeasurementParameter(p: { name?: string; value?: string }): Measurement | null {
  if (!p.name?.startsWith(MEASUREMENT_PREFIX) || typeof p.value !== 'string') return null;
  const name = p.name.slice(MEASUREMENT_PREFIX.length);
  const m = /^(-?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?) (\S+)$/i.exec(p.value.trim());
  if (!m || !NAME_RE.test(name)) return null;
  const value = Number(m[1]);
  const unit = m[2] ?? '';
  if (!Number.isFinite(value) || !UNIT_RE.test(unit)) return null;
  return { name, value, unit };
}

/** `3.25 s`, `1200 ms`: at most three decimals, no trailing zeros. */
export function formatMeasurement(m: Measurement): string {
  return `${Number(m.value.toFixed(3))} ${m.unit}`;
}
