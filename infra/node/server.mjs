// PGlite (PostgreSQL 17 compiled to WASM) with the TimescaleDB extension, served over the PostgreSQL
// wire protocol on 127.0.0.1:<port> so the project's own psycopg code (migrate, PgStorage) runs
// against TimescaleDB in CI: tests/integration/test_timescaledb.py. One database, one session at a
// time (pglite-socket queues further connections). Known limit: COPY ... FROM STDIN over this socket
// aborts the WASM instance ("RuntimeError: unreachable"), so the tests ingest with INSERTs.
//
//   node infra/node/server.mjs <port>      (prints "ready <port>" once it accepts connections)
import { PGlite } from '@electric-sql/pglite'
import { timescaledb } from '@electric-sql/pglite/timescaledb'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'

const port = Number(process.argv[2])
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node server.mjs <port>')
  process.exit(2)
}
const db = await PGlite.create({ extensions: { timescaledb } })
const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1' })
await server.start()
console.log(`ready ${port}`)
const stop = async () => {
  await server.stop()
  await db.close()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
