// Lean real atproto PDS + in-memory PLC on loopback (no AppView/Ozone code loaded).
//
// Run from the installed project dir (cwd = $THISDAY_TEST_CACHE/pds, see
// .ci/setup-servers.sh), with Node 22 and the preloads:
//   node --import <servers>/loopback-guard.mjs --import <servers>/faults.mjs <servers>/start-pds.mjs
// Env: PDS_PORT (2583)  PLC_PORT (2582)  ACCOUNTS ("alice.test:alice-pass,bob.test:bob-pass")
//      PDS_DATA_DIR (default: a fresh temp dir, removed on exit unless KEEP_DATA=1)
//      NODE_PROJECT_DIR (where node_modules is; default cwd)
// Prints one line "READY {json}" when the servers listen and the accounts exist.
// SIGTERM/SIGINT stop it cleanly.
import fs from 'node:fs/promises'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

// This script lives in the repo; its npm dependencies live in the cache dir.
const projectDir = process.env.NODE_PROJECT_DIR || process.cwd()
const requireFrom = createRequire(path.join(projectDir, 'package.json'))
const load = (name) => import(pathToFileURL(requireFrom.resolve(name)).href)

const t0 = performance.now()
const { Secp256k1Keypair, randomStr } = await load('@atproto/crypto')
const plc = await load('@did-plc/server')
const { PDS } = await load('@atproto/pds')
const tLoaded = performance.now()

const pdsPort = Number(process.env.PDS_PORT || 2583)
const plcPort = Number(process.env.PLC_PORT || 2582)
const accounts = (process.env.ACCOUNTS || 'alice.test:alice-pass')
  .split(',')
  .filter(Boolean)
  .map((s) => s.split(':'))
const dataDir = process.env.PDS_DATA_DIR || (await fs.mkdtemp(path.join(os.tmpdir(), 'pds-')))
await fs.mkdir(dataDir, { recursive: true })

// 1. did:plc directory, in memory
const plcServer = plc.PlcServer.create({ db: plc.Database.mock(), port: plcPort })
await plcServer.start()
const plcUrl = `http://localhost:${plcPort}`

// 2. the PDS (SQLite + disk blobstore under dataDir)
const rotation = await Secp256k1Keypair.create({ exportable: true })
const pds = await PDS.fromEnv({
  devMode: true,
  port: pdsPort,
  hostname: 'localhost',
  dataDirectory: dataDir,
  blobstoreDiskLocation: path.join(dataDir, 'blobs'),
  didPlcUrl: plcUrl,
  recoveryDidKey: (await Secp256k1Keypair.create()).did(),
  plcRotationKeyK256PrivateKeyHex: Buffer.from(await rotation.export()).toString('hex'),
  jwtSecret: process.env.PDS_JWT_SECRET || randomStr(16, 'base32'),
  adminPassword: process.env.PDS_ADMIN_PASSWORD || 'admin-pass',
  serviceHandleDomains: ['.test'],
  inviteRequired: false,
  enableDidDocWithSession: true,
  disableSsrfProtection: true,
  // No AppView: app.bsky.* reads are proxied to port 1 on loopback, which nobody can
  // listen on, so they fail at once with 502 (and never reach another test's AppView).
  bskyAppViewUrl: process.env.APPVIEW_URL || 'http://127.0.0.1:1',
  bskyAppViewDid: process.env.APPVIEW_DID || 'did:web:localhost%3A1',
  modServiceUrl: 'http://127.0.0.1:1',
  modServiceDid: 'did:web:localhost%3A1',
})
await pds.start()

// Resolve *.test handles against the PDS itself (as dev-env's mock network utilities do)
// instead of DNS TXT lookups.
pds.ctx.idResolver.handle.resolve = async (handle) => {
  try {
    const res = await fetch(`http://127.0.0.1:${pdsPort}/.well-known/atproto-did`, {
      headers: { host: handle },
    })
    return res.ok ? (await res.text()).trim() : undefined
  } catch {
    return undefined
  }
}
const tStarted = performance.now()

const created = []
for (const [handle, password] of accounts) {
  const res = await fetch(`http://127.0.0.1:${pdsPort}/xrpc/com.atproto.server.createAccount`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ handle, password, email: `${handle.split('.')[0]}@example.test` }),
  })
  const body = await res.json()
  if (!res.ok) throw new Error(`createAccount ${handle}: ${res.status} ${JSON.stringify(body)}`)
  created.push({ handle, password, did: body.did })
}
const tReady = performance.now()
console.log(
  'READY ' +
    JSON.stringify({
      pds: `http://127.0.0.1:${pdsPort}`,
      pds_did_doc_endpoint: `http://localhost:${pdsPort}`,
      plc: plcUrl,
      faults: globalThis.__thisdayFaults?.url ?? null,
      dataDir,
      accounts: created,
      load_ms: Math.round(tLoaded - t0),
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
  console.log(`got ${sig}, closing`)
  const force = setTimeout(() => process.exit(0), 5000)
  force.unref()
  try {
    await pds.destroy()
    await plcServer.destroy()
    if (!process.env.PDS_DATA_DIR && process.env.KEEP_DATA !== '1') {
      await fs.rm(dataDir, { recursive: true, force: true })
    }
  } catch (e) {
    console.error('shutdown error', e)
  } finally {
    process.exit(0)
  }
}
process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))
