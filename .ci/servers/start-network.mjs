// Full local atproto network (PLC + PDS + AppView "bsky" + Ozone + Bsync) via
// @atproto/dev-env's TestNetwork, for app.bsky.* reads such as getPostThread.
//
// Needs PostgreSQL and Redis on loopback (tests/loopback/network.py starts both), and runs from the
// installed project dir (cwd = $THISDAY_TEST_CACHE/devenv, see .ci/setup-servers.sh --full):
//   DB_POSTGRES_URL=postgresql://pg@127.0.0.1:5433/bsky REDIS_HOST=127.0.0.1:6380 \
//   node --import <servers>/loopback-guard.mjs [--import <servers>/faults.mjs] <servers>/start-network.mjs
// Env: PLC_PORT PDS_PORT APPVIEW_PORT OZONE_PORT (defaults 2582 2583 2584 2587; Bsync and the
//      helper PDS get free ports), ACCOUNTS ("handle:pass,..."), DB_POSTGRES_SCHEMA,
//      NODE_PROJECT_DIR (where node_modules is; default cwd)
// Prints "READY {json}" when up; stops on SIGTERM/SIGINT.
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const projectDir = process.env.NODE_PROJECT_DIR || process.cwd()
const requireFrom = createRequire(path.join(projectDir, 'package.json'))
const load = (name) => import(pathToFileURL(requireFrom.resolve(name)).href)

const t0 = performance.now()
const { TestNetwork } = await load('@atproto/dev-env')

const accounts = (process.env.ACCOUNTS || 'alice.test:alice-pass')
  .split(',')
  .filter(Boolean)
  .map((s) => s.split(':'))
const appviewPort = Number(process.env.APPVIEW_PORT || 2584)

const network = await TestNetwork.create({
  dbPostgresSchema:
    process.env.DB_POSTGRES_SCHEMA || `t_${Math.random().toString(36).replace(/[^a-z]/g, '').slice(0, 8)}`,
  plc: { port: Number(process.env.PLC_PORT || 2582) },
  pds: {
    port: Number(process.env.PDS_PORT || 2583),
    hostname: 'localhost',
    enableDidDocWithSession: true,
  },
  bsky: { port: appviewPort, publicUrl: `http://localhost:${appviewPort}` },
  ozone: { port: Number(process.env.OZONE_PORT || 2587) },
})
const tStarted = performance.now()

const agent = network.pds.getAgent()
const created = []
for (const [handle, password] of accounts) {
  const res = await agent.com.atproto.server.createAccount({
    handle,
    password,
    email: `${handle.split('.')[0]}@example.test`,
  })
  created.push({ handle, password, did: res.data.did })
}
await network.processAll()
const tReady = performance.now()

// The AppView indexes the PDS firehose asynchronously; keep pumping it so that reads
// shortly after writes see them (tests should still poll with a deadline).
let pumping = false
const pump = setInterval(() => {
  if (pumping) return
  pumping = true
  network
    .processAll(2000)
    .catch(() => {})
    .finally(() => {
      pumping = false
    })
}, 200)

console.log(
  'READY ' +
    JSON.stringify({
      pds: `http://127.0.0.1:${network.pds.port}`,
      appview: `http://127.0.0.1:${network.bsky.port}`,
      plc: network.plc.url,
      ozone: network.ozone.url,
      faults: globalThis.__thisdayFaults?.url ?? null,
      accounts: created,
      startup_ms: Math.round(tStarted - t0),
      accounts_ms: Math.round(tReady - tStarted),
      rss_mb: Math.round(process.memoryUsage().rss / 1e6),
      pid: process.pid,
    }),
)

let closing = false
const shutdown = async (sig) => {
  if (closing) return
  closing = true
  clearInterval(pump)
  console.log(`got ${sig}, closing`)
  const force = setTimeout(() => process.exit(0), 8000)
  force.unref()
  try {
    await network.close()
  } catch (e) {
    console.error('close error', e)
  } finally {
    process.exit(0)
  }
}
process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))
