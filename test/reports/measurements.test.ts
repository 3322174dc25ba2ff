import { describe, expect, test } from 'vitest';
import { formatMeasurement, MEASUREMENT_PREFIX, measurementParameter, parseMeasurementParameter } from '../../reports/measurements.ts';

describe('measurements as Allure parameters', () => {
  test('round-trip', () => {
    const p = measurementParameter('failover time', 3.25, 's');
    expect(p).toEqual({ name: `${MEASUREMENT_PREFIX}failover time`, value: '3.25 s' });
    expect(parseMeasurementParameter(p)).toEqual({ name: 'failover time', value: 3.25, unit: 's' });
    expect(parseMeasurementParameter(measurementParameter('packets lost', 0, 'packets'))).toEqual({
      name: 'packets lost',
      value: 0,
      unit: 'packets',
    });
    expect(parseMeasurementParameter(measurementParameter('outage', 1e-3, 's'))?.value).toBe(0.001);
  });

  test('refuses what could not be read back', () => {
    expect(() => measurementParameter('failover time', Number.NaN, 's')).toThrow(/finite/);
    expect(() => measurementParameter('failover time', Infinity, 's')).toThrow(/finite/);
    expect(() => measurementParameter('', 1, 's')).toThrow(/name/);
    expect(() => measurementParameter('x', 1, 'two words')).toThrow(/unit/);
    expect(() => measurementParameter('x', 1, '')).toThrow(/unit/);
  });

  test('other parameters and malformed values are not measurements', () => {
    expect(parseMeasurementParameter({ name: 'run id', value: 'r1' })).toBeNull();
    expect(parseMeasurementParameter({ name: `${MEASUREMENT_PREFIX}x`, value: 'fast' })).toBeNull();
    expect(parseMeasurementParameter({ name: `${MEASUREMENT_PREFIX}x`, value: '3.2' })).toBeNull();
    expect(parseMeasurementParameter({ name: `${MEASUREMENT_PREFIX}x` })).toBeNull();
    expect(parseMeasurementParameter({})).toBeNull();
  });

  test('formatting keeps at most three decimals', () => {
    expect(formatMeasurement({ name: 'a', value: 3.14159, unit: 's' })).toBe('3.142 s');
    expect(formatMeasurement({ name: 'a', value: 2.5, unit: 's' })).toBe('2.5 s');
    expect(formatMeasurement({ name: 'a', value: 1200, unit: 'ms' })).toBe('1200 ms');
  });
});
