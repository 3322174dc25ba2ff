import { ApiException } from '@kubernetes/client-node';
import { describe, expect, test } from 'vitest';
import { isRetriableKubeError, KubeApiError, toKubeError } from '../../../helpers/kube/errors.ts';

describe('toKubeError', () => {
  test('an API Status body: code, reason, message and causes', () => {
    const body = JSON.stringify({
      kind: 'Status',
      status: 'Failure',
      reason: 'Conflict',
      code: 409,
      message: 'Apply failed with 1 conflict',
      details: { causes: [{ reason: 'FieldManagerConflict', field: '.spec.replicas', message: 'conflict with "kubectl"' }] },
    });
    const e = toKubeError(new ApiException(409, 'Unknown API Status Code!', body, {}), 'apply Deployment clh-x/webpod');
    expect(e).toBeInstanceOf(KubeApiError);
    expect(e.code).toBe(409);
    expect(e.message).toBe(
      'apply Deployment clh-x/webpod: HTTP 409 Conflict: Apply failed with 1 conflict; .spec.replicas: conflict with "kubectl" (conflict with the object on the server)',
    );
  });

  test('401 without a body says what to check', () => {
    expect(toKubeError(new ApiException(401, 'Unauthorized', undefined, {}), 'read Node k8s-ctr').message).toMatch(
      /^read Node k8s-ctr: HTTP 401: Unauthorized \(the API server did not accept the credentials/,
    );
  });

  test('watch and websocket failures carry their HTTP code; timeouts and refusals have none', () => {
    expect(toKubeError(Object.assign(new Error('Gone'), { statusCode: 410 }), 'watch').code).toBe(410);
    expect(toKubeError(new Error('Unexpected server response: 404'), 'exec').code).toBe(404);
    const abort = Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' });
    expect(toKubeError(abort, 'list pods').message).toBe('list pods: no answer: request timed out (aborted by the request deadline)');
  });

  test('what is retried: transport errors, timeouts, 429 and 5xx; never 401/404/409', () => {
    expect(
      isRetriableKubeError(toKubeError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' }), 'x')),
    ).toBe(true);
    expect(isRetriableKubeError(toKubeError(Object.assign(new Error('aborted'), { name: 'AbortError' }), 'x'))).toBe(true);
    for (const code of [429, 500, 503]) expect(isRetriableKubeError(new KubeApiError('x', code, null, ''))).toBe(true);
    for (const code of [401, 403, 404, 409, 422]) expect(isRetriableKubeError(new KubeApiError('x', code, null, ''))).toBe(false);
  });
});
