// Start the Bluesky reference network (PLC + PDS + AppView + ozone + bsync) in this process,
// bound to 127.0.0.1, then take commands as JSON lines on stdin, answering on stdout:
//   {"cmd": "process"}                      wait until the AppView has indexed everything
//   {"cmd": "feed", "uri": U, "posts": [..]}  serve custom feed U (owner's generator record
//                                           is written by the caller with the returned did)
//   {"cmd": "counts"}                       XRPC calls the PDS has served, by method (so a
//                                           test can count createSession calls)
//   {"cmd": "stop"}                         close the network and exit
// The first stdout line is {"ready": true, "pds": URL, "appview": URL, "plc": URL, ...}.
// Environment: DB_POSTGRES_URL (required), PLN_SCHEMA, TMPDIR (a private folder).
import './loopback.mjs'
import readline from 'node:readline'

process.env.REDIS_HOST ??= 'unused' // TestNetwork.create asserts it is set, never connects
process.env.LOG_ENABLED ??= 'false'

const started = Date.now()
const { TestNetwork } = await import('@atproto/dev-env')

const schema = process.env.PLN_SCHEMA || 'pln'
// Only pass ports that were asked for: `{port: undefined}` overrides dev-env's own choice.
const port = (name) => (process.env[name] ? { port: Number(process.env[name]) } : {})
const network = await TestNetwork.create({
  dbPostgresSchema: schema,
  plc: port('PLN_PLC_PORT'),
  pds: { ...port('PLN_PDS_PORT'), hostname: 'localhost' },
  bsky: port('PLN_APPVIEW_PORT'),
})

const counts = {}
network.pds.server.server.on('request', (req) => {
  const match = /^\/xrpc\/([^?]+)/.exec(req.url || '')
  if (match) counts[match[1]] = (counts[match[1]] || 0) + 1
})

const feeds = {}
let feedGen = null
const send = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')

send({
  ready: true,
  pds: network.pds.url.replace('localhost', '127.0.0.1'),
  appview: network.bsky.url.replace('localhost', '127.0.0.1'),
  plc: network.plc.url.replace('localhost', '127.0.0.1'),
  seconds: (Date.now() - started) / 1000,
})

async function handle(message) {
  if (message.cmd === 'process') {
    await network.processAll()
    return { ok: true }
  }
  if (message.cmd === 'feed') {
    const uris = message.posts || []
    feeds[message.uri] = async () => ({
      encoding: 'application/json',
      body: { feed: uris.map((post) => ({ post })) },
    })
    feedGen ??= await network.createFeedGen(feeds)
    return { ok: true, did: feedGen.did }
  }
  if (message.cmd === 'counts') {
    return { ok: true, counts }
  }
  if (message.cmd === 'stop') {
    await stop()
    return { ok: true }
  }
  return { ok: false, error: `unknown command ${message.cmd}` }
}

let stopping = null
async function stop() {
  stopping ??= network.close().catch((err) => process.stderr.write(`close: ${err}\n`))
  await stopping
  send({ ok: true, stopped: true })
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)

const lines = readline.createInterface({ input: process.stdin })
let queue = Promise.resolve()
lines.on('line', (line) => {
  if (!line.trim()) return
  queue = queue.then(async () => {
    try {
      send(await handle(JSON.parse(line)))
    } catch (err) {
      send({ ok: false, error: String(err && err.stack ? err.stack : err) })
    }
  })
})
lines.on('close', () => queue.then(stop)) // the test session ended or died: clean up
