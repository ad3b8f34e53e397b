// Fault injection INSIDE a Node HTTP server process, for loopback tests.
//
// Preload it: `node --import ./faults.mjs start-pds.mjs`. It wraps
// http.Server.prototype.emit('request', ...) so that every XRPC request (path /xrpc/<nsid>)
// that reaches a server of this process is counted per method and may be faulted. A proxy
// on another port would not do: after login the atproto SDK talks to the PDS endpoint named
// in the account's DID document (http://localhost:<pds port>), bypassing any proxy.
//
// Env:
//   FAULTS_PORT           control port on 127.0.0.1 (default 2590; 0 = any free port)
//   FAULTS_TARGET_PORTS   comma list of server ports whose requests are counted/faulted
//                         (default: every HTTP server of the process)
//
// Control API (JSON), on http://127.0.0.1:$FAULTS_PORT:
//   POST   /faults       add rule(s): a rule object, a list, or {"rules": [...]}
//   GET    /faults       active rules with their remaining budget
//   DELETE /faults       drop every rule and release hung requests
//   GET    /faults/log   {"counts": {nsid: n}, "faulted": {nsid: {mode: n}}, "entries": [...]}
//   DELETE /faults/log   reset counts and log
//   POST   /faults/reset both DELETEs at once
//   GET    /health       {"ok": true}
//
// A rule: {"method": "com.atproto.repo.applyWrites" | "*", "mode": ..., "times": 1, ...}
//   times        how many matching requests it applies to (default 1; null = forever)
//   http_method  optional "GET"/"POST" filter
//   ms           for "delay": the delay; for other modes: an extra delay before the fault
//   mode "status"  answer at once (after ms) with `status` (default 500), `headers`, `body`
//                  (default an XRPC error body). 429 gets RateLimit-Limit/-Remaining/-Reset
//                  (epoch seconds, now + reset_in, default 2)/-Policy headers unless given.
//                  With "commit": true the server first processes (commits) the request,
//                  its real answer is thrown away and `status` is sent instead (an ambiguous
//                  5xx from a gateway after the write happened).
//   mode "delay"   wait ms, then let the server handle it normally
//   mode "drop"    let the server process and COMMIT the request, then destroy the socket
//                  instead of sending the response (a lost response)
//   mode "hang"    never answer; the socket stays open until the client gives up, the rules
//                  are cleared, or ms (default 120000) passes
//   mode "reset"   destroy the socket at once, before the server sees the request
// The first active rule that matches a request is used. Requests with no rule pass through.
import http from 'node:http'

const CONTROL = Symbol('faults-control')
const MODES = new Set(['status', 'delay', 'drop', 'hang', 'reset'])
const ERROR_NAMES = {
  400: 'InvalidRequest',
  401: 'AuthenticationRequired',
  403: 'Forbidden',
  404: 'NotFound',
  413: 'PayloadTooLarge',
  429: 'RateLimitExceeded',
  500: 'InternalServerError',
  501: 'MethodNotImplemented',
  502: 'UpstreamFailure',
  503: 'NotEnoughResources',
  504: 'UpstreamTimeout',
}
const MAX_LOG = 2000

const targetPorts = (process.env.FAULTS_TARGET_PORTS || '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean)
  .map(Number)

const state = {
  rules: [],
  nextId: 1,
  seq: 0,
  counts: {},
  faulted: {},
  entries: [],
  hung: new Set(),
}

const xrpcMethod = (url) => {
  const m = /^\/xrpc\/([^/?#]+)/.exec(url || '')
  if (!m || m[1].startsWith('_')) return null // skip /xrpc/_health
  return decodeURIComponent(m[1])
}

const record = (nsid, req, mode, extra) => {
  const entry = { seq: ++state.seq, t: Date.now(), method: nsid, http_method: req.method, mode }
  if (extra) Object.assign(entry, extra)
  state.entries.push(entry)
  if (state.entries.length > MAX_LOG) state.entries.splice(0, state.entries.length - MAX_LOG)
  if (mode) {
    const f = (state.faulted[nsid] ||= {})
    f[mode] = (f[mode] || 0) + 1
  }
}

const takeRule = (nsid, req) => {
  for (const rule of state.rules) {
    if (rule.method !== '*' && rule.method !== nsid) continue
    if (rule.http_method && rule.http_method !== req.method) continue
    if (rule.remaining !== null) {
      rule.remaining -= 1
      if (rule.remaining <= 0) state.rules.splice(state.rules.indexOf(rule), 1)
    }
    return rule
  }
  return null
}

const normalizeRule = (spec) => {
  if (!spec || typeof spec !== 'object') throw new Error('a rule must be an object')
  const mode = spec.mode || 'status'
  if (!MODES.has(mode)) throw new Error(`unknown mode ${mode}; valid: ${[...MODES].join(', ')}`)
  if (!spec.method || typeof spec.method !== 'string') throw new Error('rule.method (an NSID or "*") is required')
  const times = spec.times === undefined ? 1 : spec.times
  if (times !== null && !(Number.isInteger(times) && times > 0)) throw new Error('times must be a positive integer or null')
  if (mode === 'delay' && !(Number(spec.ms) >= 0)) throw new Error('mode "delay" needs ms')
  return {
    id: `f${state.nextId++}`,
    method: spec.method,
    http_method: spec.http_method ? String(spec.http_method).toUpperCase() : null,
    mode,
    status: Number(spec.status || 500),
    headers: spec.headers || {},
    body: spec.body === undefined ? null : spec.body,
    ms: Number(spec.ms || 0),
    reset_in: spec.reset_in === undefined ? 2 : Number(spec.reset_in),
    commit: Boolean(spec.commit),
    times,
    remaining: times,
  }
}

const statusHeaders = (rule) => {
  const headers = { 'content-type': 'application/json; charset=utf-8' }
  if (rule.status === 429) {
    const reset = Math.ceil(Date.now() / 1000 + rule.reset_in)
    Object.assign(headers, {
      'ratelimit-limit': '3000',
      'ratelimit-remaining': '0',
      'ratelimit-reset': String(reset),
      'ratelimit-policy': '3000;w=300',
    })
  }
  for (const [k, v] of Object.entries(rule.headers)) headers[k.toLowerCase()] = String(v)
  return headers
}

const statusBody = (rule) =>
  JSON.stringify(
    rule.body ?? {
      error: ERROR_NAMES[rule.status] || 'InternalServerError',
      message: `injected fault: HTTP ${rule.status}`,
    },
  )

// Swallow whatever the real handler writes; call onEnd once it has finished (committed).
const interceptResponse = (res, onEnd) => {
  let ended = false
  res.writeHead = function () {
    return this
  }
  res.flushHeaders = () => {}
  res.write = function (chunk, encoding, cb) {
    const done = typeof encoding === 'function' ? encoding : cb
    if (typeof done === 'function') process.nextTick(done)
    return true
  }
  res.end = function (chunk, encoding, cb) {
    if (!ended) {
      ended = true
      setImmediate(onEnd)
    }
    const done = [chunk, encoding, cb].find((x) => typeof x === 'function')
    if (done) process.nextTick(done)
    return this
  }
}

const proto = http.ServerResponse.prototype

const origEmit = http.Server.prototype.emit
http.Server.prototype.emit = function faultingEmit(event, ...args) {
  if (event !== 'request' || this[CONTROL]) return origEmit.call(this, event, ...args)
  const [req, res] = args
  if (targetPorts.length) {
    const port = this.address()?.port
    if (!targetPorts.includes(port)) return origEmit.call(this, event, ...args)
  }
  const nsid = xrpcMethod(req.url)
  if (!nsid) return origEmit.call(this, event, ...args)
  state.counts[nsid] = (state.counts[nsid] || 0) + 1
  const rule = takeRule(nsid, req)
  if (!rule) {
    record(nsid, req, null)
    return origEmit.call(this, event, ...args)
  }
  record(nsid, req, rule.mode, { rule: rule.id, ...(rule.mode === 'status' ? { status: rule.status } : {}) })
  const server = this
  const sock = req.socket
  const proceed = () => origEmit.call(server, 'request', req, res)
  const later = (fn) => (rule.ms > 0 ? setTimeout(fn, rule.ms) : fn())

  switch (rule.mode) {
    case 'delay':
      setTimeout(proceed, rule.ms)
      break
    case 'reset':
      later(() => sock.destroy())
      break
    case 'hang': {
      state.hung.add(sock)
      const timer = setTimeout(() => sock.destroy(), rule.ms > 0 ? rule.ms : 120000)
      sock.once('close', () => {
        clearTimeout(timer)
        state.hung.delete(sock)
      })
      req.resume()
      break
    }
    case 'drop':
      later(() => {
        interceptResponse(res, () => sock.destroy())
        proceed()
      })
      break
    case 'status':
      later(() => {
        if (rule.commit) {
          interceptResponse(res, () => {
            for (const name of res.getHeaderNames()) res.removeHeader(name)
            proto.writeHead.call(res, rule.status, statusHeaders(rule))
            proto.end.call(res, statusBody(rule))
          })
          proceed()
        } else {
          req.resume()
          res.writeHead(rule.status, statusHeaders(rule))
          res.end(statusBody(rule))
        }
      })
      break
  }
  return true
}

// ---------------------------------------------------------------- control server
const readJson = (req) =>
  new Promise((resolve, reject) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim()
      try {
        resolve(text ? JSON.parse(text) : null)
      } catch (e) {
        reject(e)
      }
    })
    req.on('error', reject)
  })

const send = (res, status, obj) => {
  const body = JSON.stringify(obj)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

const clearRules = () => {
  const n = state.rules.length
  state.rules = []
  for (const sock of state.hung) sock.destroy()
  state.hung.clear()
  return n
}
const clearLog = () => {
  state.counts = {}
  state.faulted = {}
  state.entries = []
}

const control = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1')
  const route = `${req.method} ${url.pathname.replace(/\/+$/, '')}`
  try {
    switch (route) {
      case 'GET /health':
        return send(res, 200, { ok: true })
      case 'GET /faults':
        return send(res, 200, { rules: state.rules })
      case 'POST /faults': {
        const body = await readJson(req)
        const specs = Array.isArray(body) ? body : body && Array.isArray(body.rules) ? body.rules : [body]
        const added = specs.map(normalizeRule)
        state.rules.push(...added)
        return send(res, 200, { added })
      }
      case 'DELETE /faults':
        return send(res, 200, { cleared: clearRules() })
      case 'GET /faults/log':
        return send(res, 200, { counts: state.counts, faulted: state.faulted, entries: state.entries })
      case 'DELETE /faults/log':
        clearLog()
        return send(res, 200, { ok: true })
      case 'POST /faults/reset':
        clearLog()
        return send(res, 200, { cleared: clearRules() })
      default:
        return send(res, 404, { error: 'NotFound', message: `no route ${route}` })
    }
  } catch (e) {
    return send(res, 400, { error: 'InvalidRequest', message: String(e?.message || e) })
  }
})
control[CONTROL] = true

const controlPort = Number(process.env.FAULTS_PORT ?? 2590)
await new Promise((resolve, reject) => {
  control.once('error', reject)
  control.listen(controlPort, '127.0.0.1', resolve)
})
control.unref() // never keeps the process alive on its own
const url = `http://127.0.0.1:${control.address().port}`
globalThis.__thisdayFaults = { url }
process.stdout.write(`FAULTS ${JSON.stringify({ url })}\n`)
