// Imported before dev-env: every server it starts listens on 127.0.0.1 only.
// (dev-env's servers listen on all interfaces by default.)
import dns from 'node:dns'
import net from 'node:net'

// The services call each other at http://localhost:PORT; resolve that to 127.0.0.1 first,
// since ::1 has no listener.
dns.setDefaultResultOrder('ipv4first')

const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  const first = args[0]
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    // listen(port[, host][, backlog][, cb]): force the host
    const rest = args.slice(1)
    if (typeof rest[0] === 'string') rest.shift()
    return listen.call(this, Number(first), '127.0.0.1', ...rest)
  }
  if (first && typeof first === 'object' && !Array.isArray(first) && first.path === undefined && first.fd === undefined) {
    return listen.call(this, { ...first, host: '127.0.0.1' }, ...args.slice(1))
  }
  if (args.length === 0 || typeof first === 'function' || first === undefined || first === null) {
    // listen() / listen(cb): an ephemeral port on loopback
    return listen.call(this, 0, '127.0.0.1', ...args.filter((a) => typeof a === 'function'))
  }
  return listen.apply(this, args)
}
