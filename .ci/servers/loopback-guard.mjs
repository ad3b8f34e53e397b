// Preload: `node --import ./loopback-guard.mjs script.mjs`.
//
// Keeps a test server on this machine:
//  - every DNS lookup of a name other than localhost fails at once with ENOTFOUND, so no
//    query (e.g. for dev-env's *.invalid placeholder hosts) ever leaves the machine. IP
//    literals are not looked up by Node and pass through; every URL our scripts configure
//    is localhost / 127.0.0.1.
//  - a server that listens without naming a host (express's app.listen(port) listens on
//    all interfaces) is bound to LOOPBACK_BIND (default 127.0.0.1) instead.
//  - with PARENT_PID set, the process stops when its parent (the test runner) is gone.
import dns from 'node:dns'
import net from 'node:net'

const ALLOWED = new Set(['localhost', '127.0.0.1', '::1', 'ip6-localhost'])
const seen = new Set()
const isAllowed = (host) => {
  const h = String(host).toLowerCase()
  return ALLOWED.has(h) || h.endsWith('.localhost')
}

const block = (hostname) => {
  if (!seen.has(hostname)) {
    seen.add(hostname)
    process.stderr.write(`[loopback-guard] blocked DNS lookup of ${hostname}\n`)
  }
  const err = new Error(`getaddrinfo ENOTFOUND ${hostname} (loopback-guard)`)
  err.code = 'ENOTFOUND'
  err.hostname = hostname
  return err
}

const origLookup = dns.lookup
dns.lookup = function guardedLookup(hostname, options, callback) {
  if (typeof options === 'function') {
    callback = options
    options = {}
  }
  if (!isAllowed(hostname)) {
    const err = block(hostname)
    process.nextTick(() => callback(err))
    return {}
  }
  return origLookup.call(dns, hostname, options, callback)
}

const origPromiseLookup = dns.promises.lookup
dns.promises.lookup = async function guardedPromiseLookup(hostname, options) {
  if (!isAllowed(hostname)) throw block(hostname)
  return origPromiseLookup.call(dns.promises, hostname, options)
}

for (const fn of ['resolve', 'resolve4', 'resolve6', 'resolveTxt', 'resolveAny', 'resolveCname']) {
  const orig = dns[fn]
  if (typeof orig === 'function') {
    dns[fn] = function (hostname, ...rest) {
      const cb = rest[rest.length - 1]
      if (!isAllowed(hostname)) return process.nextTick(() => cb(block(hostname)))
      return orig.call(dns, hostname, ...rest)
    }
  }
  const origP = dns.promises[fn]
  if (typeof origP === 'function') {
    dns.promises[fn] = async (hostname, ...rest) => {
      if (!isAllowed(hostname)) throw block(hostname)
      return origP.call(dns.promises, hostname, ...rest)
    }
  }
}

// Bind host-less listens to loopback.
const BIND = process.env.LOOPBACK_BIND || '127.0.0.1'
const origListen = net.Server.prototype.listen
net.Server.prototype.listen = function guardedListen(...args) {
  const a0 = args[0]
  if (typeof a0 === 'number' || (typeof a0 === 'string' && /^\d+$/.test(a0))) {
    if (typeof args[1] !== 'string') args.splice(1, 0, BIND)
  } else if (a0 && typeof a0 === 'object' && !Array.isArray(a0) && a0.path === undefined && a0.fd === undefined && a0.handle === undefined && !(a0 instanceof net.Server) && a0._handle === undefined) {
    if (!a0.host) args[0] = { ...a0, host: BIND }
  } else if (a0 === undefined || typeof a0 === 'function') {
    args.unshift(0, BIND)
  }
  return origListen.apply(this, args)
}

// Stop with the test runner: if PARENT_PID is set and our parent changes (the runner died
// without stopping us), shut down as on SIGTERM.
const parentPid = Number(process.env.PARENT_PID || 0)
if (parentPid > 0) {
  const watchdog = setInterval(() => {
    if (process.ppid !== parentPid) {
      clearInterval(watchdog)
      process.stderr.write('[loopback-guard] parent process gone, stopping\n')
      process.kill(process.pid, 'SIGTERM')
      setTimeout(() => process.exit(1), 10000).unref()
    }
  }, 1000)
  watchdog.unref()
}
