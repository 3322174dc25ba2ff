/**
 * helpers/report/verdict.ts expectVerdict with helpers/judge/types.ts compare: a verdict carries the expected and
 * actual values, and the failure message says both (the Allure step shows them as parameters in a lab run).
 */
import { describe, expect, test } from 'vitest';
import { compare } from '../../../helpers/judge/types.ts';
import { expectVerdict } from '../../../helpers/report/verdict.ts';

describe('expected and actual', () => {
  test('compare: equal values are a yes, different ones a no naming both; both values are kept', () => {
    expect(compare('the holder', 'k8s-w1', 'k8s-w1')).toEqual({
      ok: true,
      explanation: 'the holder: k8s-w1',
      notes: [],
      expected: 'k8s-w1',
      actual: 'k8s-w1',
    });
    expect(compare('addresses', ['198.18.10.211'], [])).toEqual({
      ok: false,
      explanation: 'addresses: expected [], saw ["198.18.10.211"]',
      notes: [],
      expected: [],
      actual: ['198.18.10.211'],
    });
  });

  test('expectVerdict fails with the explanation, which names expected and actual', async () => {
    await expect(expectVerdict('lease', compare('the holder', 'k8s-w0', 'k8s-w1'))).rejects.toThrow(
      'lease: the holder: expected k8s-w1, saw k8s-w0',
    );
    await expectVerdict('lease', compare('the holder', 'k8s-w1', 'k8s-w1'));
  });
});
