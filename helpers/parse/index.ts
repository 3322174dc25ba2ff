export * from './l2announce.ts';
export * from './cilium-status.ts';
