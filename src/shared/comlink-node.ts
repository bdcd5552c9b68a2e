/**
 * comlink's Node adapter, typed for ESM. The adapter ships as a UMD/CommonJS
 * file whose `module.exports` IS the function, while its .d.ts declares an
 * ES `export default`; under NodeNext TypeScript therefore types the default
 * import as the module object. This shim takes whichever shape is real.
 */
import type { MessagePort } from 'node:worker_threads';
import type { Endpoint } from 'comlink';
import adapterModule from 'comlink/dist/umd/node-adapter.js';

type NodeEndpointFn = (port: MessagePort) => Endpoint;

const adapter = adapterModule as unknown as NodeEndpointFn | { default: NodeEndpointFn };

/** Wraps a worker_threads MessagePort as a comlink Endpoint. */
export const nodeEndpoint: NodeEndpointFn = typeof adapter === 'function' ? adapter : adapter.default;
