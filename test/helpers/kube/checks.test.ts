import type { V1DaemonSet, V1Deployment, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import { describe, expect, test } from 'vitest';
import {
  conditionMatches,
  daemonSetRolledOut,
  deploymentAvailable,
  nodeReadiness,
  podsReady,
  serviceLbIp,
} from '../../../helpers/kube/checks.ts';

describe('judging object state', () => {
  const deploy = (status: object, generation = 2): V1Deployment => ({ metadata: { generation }, spec: { replicas: 3 } as any, status });

  test('a Deployment is available when the new generation is observed and all replicas are updated and available', () => {
    const ok = deploy({
      observedGeneration: 2,
      replicas: 3,
      updatedReplicas: 3,
      availableReplicas: 3,
      conditions: [{ type: 'Available', status: 'True' }],
    });
    expect(deploymentAvailable(ok).done).toBe(true);
    expect(
      deploymentAvailable(
        deploy({
          observedGeneration: 2,
          replicas: 3,
          updatedReplicas: 3,
          availableReplicas: 2,
          conditions: [{ type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable' }],
        }),
      ),
    ).toEqual({
      done: false,
      seen: '2/3 available, 3 updated, 3 total, Available=False (MinimumReplicasUnavailable)',
    });
    expect(
      deploymentAvailable(
        deploy({
          observedGeneration: 1,
          replicas: 3,
          updatedReplicas: 3,
          availableReplicas: 3,
          conditions: [{ type: 'Available', status: 'True' }],
        }),
      ),
    ).toMatchObject({ done: false, seen: expect.stringMatching(/not observed yet/) });
    // old pods of a rollout still around
    expect(
      deploymentAvailable(
        deploy({
          observedGeneration: 2,
          replicas: 4,
          updatedReplicas: 3,
          availableReplicas: 3,
          conditions: [{ type: 'Available', status: 'True' }],
        }),
      ).done,
    ).toBe(false);
  });

  test('a DaemonSet rollout is done when every scheduled pod is updated and available', () => {
    const ds = (status: object): V1DaemonSet => ({ metadata: { generation: 5 }, status: status as any });
    expect(
      daemonSetRolledOut(
        ds({
          observedGeneration: 5,
          desiredNumberScheduled: 3,
          updatedNumberScheduled: 3,
          numberAvailable: 3,
          currentNumberScheduled: 3,
          numberMisscheduled: 0,
          numberReady: 3,
        }),
      ).done,
    ).toBe(true);
    expect(
      daemonSetRolledOut(
        ds({
          observedGeneration: 5,
          desiredNumberScheduled: 3,
          updatedNumberScheduled: 2,
          numberAvailable: 3,
          currentNumberScheduled: 3,
          numberMisscheduled: 0,
          numberReady: 3,
        }),
      ),
    ).toEqual({ done: false, seen: '2/3 updated, 3/3 available' });
    expect(
      daemonSetRolledOut(
        ds({
          observedGeneration: 4,
          desiredNumberScheduled: 3,
          updatedNumberScheduled: 3,
          numberAvailable: 3,
          currentNumberScheduled: 3,
          numberMisscheduled: 0,
          numberReady: 3,
        }),
      ).done,
    ).toBe(false);
    expect(
      daemonSetRolledOut(
        ds({
          observedGeneration: 5,
          desiredNumberScheduled: 0,
          updatedNumberScheduled: 0,
          numberAvailable: 0,
          currentNumberScheduled: 0,
          numberMisscheduled: 0,
          numberReady: 0,
        }),
      ).done,
    ).toBe(false);
  });

  const pod = (name: string, node: string, ready: boolean, extra: Partial<V1Pod['metadata']> = {}): V1Pod => ({
    metadata: { name, ...extra },
    spec: { nodeName: node, containers: [] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  });

  test('pods ready on the expected nodes', () => {
    const pods = [pod('webpod-a', 'k8s-ctr', true), pod('webpod-b', 'k8s-w1', true), pod('webpod-c', 'k8s-w0', false)];
    expect(podsReady(pods, { nodes: ['k8s-ctr', 'k8s-w1', 'k8s-w0'] })).toEqual({
      done: false,
      seen: 'webpod-a@k8s-ctr:Ready, webpod-b@k8s-w1:Ready, webpod-c@k8s-w0:Running; no ready pod on k8s-w0',
    });
    pods[2] = pod('webpod-c', 'k8s-w0', true);
    const r = podsReady(pods, { nodes: ['k8s-ctr', 'k8s-w1', 'k8s-w0'], count: 3 });
    expect(r.done && r.value.map((p) => p.metadata?.name)).toEqual(['webpod-a', 'webpod-b', 'webpod-c']);
  });

  test('terminating pods do not count; no pods is not ready', () => {
    expect(podsReady([pod('old', 'k8s-w1', true, { deletionTimestamp: new Date() })])).toEqual({
      done: false,
      seen: 'old@k8s-w1:Terminating',
    });
    expect(podsReady([])).toEqual({ done: false, seen: 'no pods match' });
    expect(podsReady([pod('a', 'n1', true), pod('b', 'n2', true)], { count: 1 }).done).toBe(false);
  });

  test('a Service LoadBalancer IP, or what LB-IPAM said instead', () => {
    const svc = (status: object): V1Service => ({ spec: { type: 'LoadBalancer' }, status: status });
    expect(serviceLbIp(svc({ loadBalancer: { ingress: [{ ip: '192.168.10.211' }] } }))).toEqual({ done: true, value: '192.168.10.211' });
    expect(
      serviceLbIp(svc({ loadBalancer: {}, conditions: [{ type: 'cilium.io/IPAMRequestSatisfied', status: 'False', reason: 'no_pool' }] })),
    ).toEqual({
      done: false,
      seen: 'no LoadBalancer ingress IP (type LoadBalancer; cilium.io/IPAMRequestSatisfied=False (no_pool))',
    });
  });

  test('a condition with type, status and reason', () => {
    const poolObj = {
      status: {
        conditions: [
          {
            type: 'cilium.io/PoolConflict',
            status: 'True',
            reason: 'cidr_overlap',
            message: "Pool conflicts since range 'a' overlaps range 'b'",
          },
        ],
      },
    };
    expect(conditionMatches(poolObj, { type: 'cilium.io/PoolConflict', status: 'True', reason: 'cidr_overlap' }).done).toBe(true);
    expect(conditionMatches(poolObj, { type: 'cilium.io/PoolConflict', status: 'False' })).toEqual({
      done: false,
      seen: "cilium.io/PoolConflict=True (cidr_overlap): Pool conflicts since range 'a' overlaps range 'b'",
    });
    expect(conditionMatches(poolObj, { type: 'cilium.io/PoolConflict', status: 'True', reason: 'resolved' }).done).toBe(false);
    expect(conditionMatches({}, { type: 'X', status: 'True' })).toEqual({ done: false, seen: 'no X condition (no conditions)' });
  });

  test('node Ready / NotReady (Unknown counts as NotReady)', () => {
    const node = (status: string, reason?: string): V1Node => ({
      status: { conditions: [{ type: 'Ready', status, ...(reason ? { reason } : {}) }] },
    });
    expect(nodeReadiness(node('True'), true).done).toBe(true);
    expect(nodeReadiness(node('Unknown', 'NodeStatusUnknown'), false).done).toBe(true);
    expect(nodeReadiness(node('True'), false)).toEqual({ done: false, seen: 'Ready=True' });
    expect(nodeReadiness({}, true)).toEqual({ done: false, seen: 'Ready=missing' });
  });
});
