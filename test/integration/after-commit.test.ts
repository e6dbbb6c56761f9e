import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import pg from 'pg';
import { z } from 'zod';

import { defineJob } from '../../server/index.js';
import { startStack, type TestStack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

const PG = { host: '127.0.0.1', port: 5432, user: process.env.PGUSER ?? 'postgres', database: 'test' };
const table = `jobcast_after_commit_${Math.random().toString(36).slice(2, 8)}`;

/** Reads the row its input names: it must exist when the job runs. */
const readRowJob = defineJob({
  name: 'read-row',
  input: z.object({ id: z.number().int() }),
  async handler({ id }) {
    const client = new pg.Client(PG);
    await client.connect();
    try {
      const { rows } = await client.query(`SELECT title FROM ${table} WHERE id = $1`, [id]);
      if (rows.length === 0) throw new Error(`row ${id} does not exist`);
      return { title: rows[0].title as string };
    } finally {
      await client.end();
    }
  },
});

async function postgresAvailable(): Promise<boolean> {
  const client = new pg.Client({ ...PG, connectionTimeoutMillis: 1000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

describe('starting a job only after the database transaction commits', () => {
  let stack: TestStack;
  let db: pg.Client;
  let available = false;
  before(async () => {
    available = await postgresAvailable();
    if (!available) return;
    stack = await startStack({ jobs: [readRowJob] });
    db = new pg.Client(PG);
    await db.connect();
    await db.query(`CREATE TABLE ${table} (id serial PRIMARY KEY, title text NOT NULL)`);
  });
  after(async () => {
    if (!available) return;
    await db.query(`DROP TABLE IF EXISTS ${table}`);
    await db.end();
    await stack.close();
  });

  it('the job sees the rows of the transaction that started it', async (t) => {
    if (!available) return t.skip('no PostgreSQL on 127.0.0.1:5432 (trust auth, database test)');
    const later = stack.jobcast.afterCommit();
    await db.query('BEGIN');
    const { rows } = await db.query(`INSERT INTO ${table} (title) VALUES ('quarterly report') RETURNING id`);
    const pending = later.start(readRowJob, { id: rows[0].id });
    // Nothing is queued while the transaction is open: a worker could not see the row yet.
    assert.deepEqual(await stack.jobcast.queues.queue('read-row').getJobCounts('waiting', 'active'), { waiting: 0, active: 0 });
    await new Promise((r) => setTimeout(r, 200));
    await db.query('COMMIT');
    await later.commit();
    const started = await pending;
    await waitFor(async () => (await stack.jobcast.status(started.jobId)).state === 'completed', 'the job to complete');
    assert.deepEqual((await stack.jobcast.status(started.jobId)).result, { title: 'quarterly report' });
  });

  it('a rolled-back transaction starts nothing; bad input throws inside the transaction', async (t) => {
    if (!available) return t.skip('no PostgreSQL on 127.0.0.1:5432 (trust auth, database test)');
    const later = stack.jobcast.afterCommit();
    await db.query('BEGIN');
    const { rows } = await db.query(`INSERT INTO ${table} (title) VALUES ('never') RETURNING id`);
    const pending = later.start(readRowJob, { id: rows[0].id });
    assert.throws(() => later.start(readRowJob, { id: 'x' }), /id/);
    await db.query('ROLLBACK');
    later.discard();
    await assert.rejects(pending, /not started: the transaction rolled back/);
    const counts = await stack.jobcast.queues.queue('read-row').getJobCounts('waiting', 'active', 'completed', 'failed');
    assert.equal((counts.waiting ?? 0) + (counts.active ?? 0) + (counts.failed ?? 0), 0, 'no job for the rolled-back row');
  });
});
