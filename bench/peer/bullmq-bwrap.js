// The peer of bench/queue-bench: BullMQ (a Redis job queue for Node.js)
// whose workers run each job with bubblewrap. The same job as sandq's:
// /bin/true with a 4 KiB gzip'ed tarball as input, its exit code and
// output sent back through Redis.
//
// It gets the easier half of the work: the input is written into the
// job's directory as it came, not unpacked, nothing is packed after the
// run, and bwrap sets no cgroup, seccomp filter or capability drop.
//
//   node bullmq-bwrap.js drain   SOCKET QUEUE INPUT JOBS WORKERS CONCURRENCY
//   node bullmq-bwrap.js latency SOCKET QUEUE INPUT JOBS GAP_MS
//   node bullmq-bwrap.js worker  SOCKET QUEUE CONCURRENCY     (used by the two)
//
// Each mode prints one line of JSON: jobs_s, cpu_ms_job (the whole
// machine's busy CPU over the timed part, from /proc/stat), procs_job
// (processes the machine created, /proc/stat's "processes"), faults_job
// (page faults the machine took, /proc/vmstat's "pgfault"), and for
// latency p50_ms and p99_ms from enqueue to the completion event.
'use strict';

const { Queue, Worker, QueueEvents } = require('bullmq');
const IORedis = require('ioredis');
const { spawn } = require('child_process');
const fs = require('fs');
const fsp = require('fs/promises');
const path = require('path');

const [mode, sock, qname, ...rest] = process.argv.slice(2);
const conn = () => new IORedis({ path: sock, maxRetriesPerRequest: null });

function machine() {
  const stat = fs.readFileSync('/proc/stat', 'utf8');
  const cpu = stat.split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: busy = all but idle,
  // iowait and steal, in clock ticks.
  const busy = cpu[0] + cpu[1] + cpu[2] + cpu[5] + cpu[6];
  const procs = Number(/^processes (\d+)/m.exec(stat)[1]);
  const faults = Number(/^pgfault (\d+)/m.exec(fs.readFileSync('/proc/vmstat', 'utf8'))[1]);
  return { busy, procs, faults, t: process.hrtime.bigint() };
}

const HZ = 100; // USER_HZ on Linux

function perJob(a, b, jobs) {
  return {
    jobs_s: jobs / (Number(b.t - a.t) / 1e9),
    cpu_ms_job: ((b.busy - a.busy) * 1000) / HZ / jobs,
    procs_job: (b.procs - a.procs) / jobs,
    faults_job: (b.faults - a.faults) / jobs,
  };
}

const ETC = ['ld.so.cache', 'ld.so.conf', 'ld.so.conf.d', 'timezone', 'alternatives'];

function bwrapArgs(dir) {
  const a = ['--unshare-all', '--die-with-parent', '--ro-bind', '/usr', '/usr',
    '--symlink', 'usr/bin', '/bin', '--symlink', 'usr/lib', '/lib',
    '--symlink', 'usr/lib64', '/lib64'];
  for (const e of ETC)
    if (fs.existsSync('/etc/' + e)) a.push('--ro-bind', '/etc/' + e, '/etc/' + e);
  a.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp',
    '--bind', dir, '/work', '--chdir', '/work', '/bin/true');
  return a;
}

function run(dir) {
  return new Promise((resolve, reject) => {
    const p = spawn('/usr/bin/bwrap', bwrapArgs(dir), { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [], err = [];
    p.stdout.on('data', (d) => out.push(d));
    p.stderr.on('data', (d) => err.push(d));
    p.on('error', reject);
    p.on('close', (code) => resolve({
      exit_code: code,
      stdout: Buffer.concat(out).toString('base64'),
      stderr: Buffer.concat(err).toString('base64'),
    }));
  });
}

async function worker(conc) {
  const base = fs.mkdtempSync('/tmp/bullmq-peer-');
  const w = new Worker(qname, async (job) => {
    const dir = await fsp.mkdtemp(path.join(base, 'j'));
    try {
      await fsp.writeFile(path.join(dir, 'input.tar.gz'), Buffer.from(job.data.input, 'base64'));
      return await run(dir);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  }, { connection: conn(), concurrency: conc });
  const stop = async () => {
    await w.close();
    fs.rmSync(base, { recursive: true, force: true });
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  await w.waitUntilReady();
  process.stdout.write('ready\n');
}

function startWorkers(n, conc) {
  return Promise.all(Array.from({ length: n }, () => new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [__filename, 'worker', sock, qname, String(conc)],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    p.stdout.once('data', () => resolve(p));
    p.on('error', reject);
    p.on('exit', (c) => reject(new Error('peer worker exited ' + c)));
  })));
}

async function stopWorkers(ps) {
  await Promise.all(ps.map((p) => new Promise((r) => {
    p.removeAllListeners('exit');
    p.on('exit', r);
    p.kill('SIGTERM');
  })));
}

async function drain(inputFile, jobs, nworkers, conc) {
  const input = fs.readFileSync(inputFile).toString('base64');
  const q = new Queue(qname, { connection: conn() });
  const ev = new QueueEvents(qname, { connection: conn() });
  await ev.waitUntilReady();
  const bulk = [];
  for (let i = 0; i < jobs; i++)
    bulk.push({ name: 'j', data: { input }, opts: { removeOnComplete: 1000, removeOnFail: 1000 } });
  for (let i = 0; i < jobs; i += 500) await q.addBulk(bulk.slice(i, i + 500));
  let done = 0, a, b;
  const finished = new Promise((resolve) => ev.on('completed', () => {
    // The clock starts at the first finished job, as sandq's does.
    if (++done === 1) a = machine();
    if (done === jobs) { b = machine(); resolve(); }
  }));
  const ws = await startWorkers(nworkers, conc);
  await finished;
  await stopWorkers(ws);
  await ev.close();
  await q.close();
  return perJob(a, b, jobs - 1);
}

async function latency(inputFile, jobs, gap) {
  const input = fs.readFileSync(inputFile).toString('base64');
  const q = new Queue(qname, { connection: conn() });
  const ev = new QueueEvents(qname, { connection: conn() });
  await ev.waitUntilReady();
  const ws = await startWorkers(1, 1);
  const t = [];
  for (let i = 0; i < jobs; i++) {
    await new Promise((r) => setTimeout(r, gap));
    const t0 = process.hrtime.bigint();
    const job = await q.add('l', { input }, { removeOnComplete: 1000 });
    await job.waitUntilFinished(ev);
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  await stopWorkers(ws);
  await ev.close();
  await q.close();
  t.sort((x, y) => x - y);
  return { p50_ms: t[Math.floor(jobs / 2)], p99_ms: t[Math.floor((jobs * 99) / 100)] };
}

(async () => {
  let r;
  if (mode === 'worker') return worker(Number(rest[0]));
  if (mode === 'drain') r = await drain(rest[0], Number(rest[1]), Number(rest[2]), Number(rest[3]));
  else if (mode === 'latency') r = await latency(rest[0], Number(rest[1]), Number(rest[2]));
  else throw new Error('usage: bullmq-bwrap.js drain|latency|worker SOCKET QUEUE ...');
  process.stdout.write(JSON.stringify(r) + '\n');
  process.exit(0);
})().catch((e) => {
  process.stderr.write('bullmq-bwrap: ' + e.message + '\n');
  process.exit(1);
});
