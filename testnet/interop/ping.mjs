// Dials a sherd node from js-libp2p (TCP, noise, yamux), then runs
// identify and ping against it and prints what the node said, as JSON.
// Usage: node ping.mjs /ip4/127.0.0.1/tcp/30333/p2p/12D3Koo...   (testnet/interop.sh runs it)
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { multiaddr } from '@multiformats/multiaddr'

// Node 20 lacks Promise.withResolvers, which js-libp2p 3 uses.
if (!Promise.withResolvers) {
  Promise.withResolvers = function () {
    let resolve, reject
    const promise = new this((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}

const target = multiaddr(process.argv[2])
const node = await createLibp2p({
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: { identify: identify(), ping: ping() },
})
const done = new Promise((resolve) => {
  node.addEventListener('peer:identify', (evt) => resolve(evt.detail))
})
const conn = await node.dial(target)
const rtt = await node.services.ping.ping(target)
const id = await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error('no identify in 10 s')), 10000))])
console.log(JSON.stringify({
  remote_peer: conn.remotePeer.toString(),
  ping_rtt_ms: rtt,
  agent_version: id.agentVersion,
  protocol_version: id.protocolVersion,
  protocols: id.protocols,
  listen_addrs: id.listenAddrs.map(String),
}, null, 2))
await node.stop()
