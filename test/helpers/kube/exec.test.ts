import { describe, expect, test } from 'vitest';
import { exitCodeFromStatus } from '../../../helpers/kube/exec.ts';

describe('exitCodeFromStatus', () => {
  test('Success is 0; NonZeroExitCode carries the code', () => {
    expect(exitCodeFromStatus({ status: 'Success', metadata: {} })).toBe(0);
    expect(
      exitCodeFromStatus({
        status: 'Failure',
        reason: 'NonZeroExitCode',
        message: 'command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3',
        details: { causes: [{ reason: 'ExitCode', message: '3' }] },
      }),
    ).toBe(3);
  });

  test('a failure that is not an exit code is thrown, never turned into a number', () => {
    expect(() =>
      exitCodeFromStatus({
        status: 'Failure',
        reason: 'InternalError',
        message: 'OCI runtime exec failed: exec: "cilium-dbg": executable file not found in $PATH',
      }),
    ).toThrow(/executable file not found/);
    expect(() => exitCodeFromStatus({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [] } })).toThrow(
      /without a readable exit code/,
    );
  });
});
