// Send known traces, metrics and logs with the real OpenTelemetry JS SDK over OTLP/HTTP JSON
// and print what was sent as one JSON document on stdout (same shape as send.py), for Solder's
// OTLP end-to-end tests.
//
//   node send.js --endpoint http://host:port --run RUN [--seed N] [--spans N] [--logs N]
//                [--signals traces,metrics,logs]
//
// Modules come from NODE_PATH (scripts/install-otlp-clients.sh installs them). Exit status 0
// only if every export reported SUCCESS.
'use strict';

const api = require('@opentelemetry/api');
const { ExportResultCode } = require('@opentelemetry/core');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { TracerProvider, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace');
const { MeterProvider, PeriodicExportingMetricReader } = require('@opentelemetry/sdk-metrics');
const { LoggerProvider, SimpleLogRecordProcessor } = require('@opentelemetry/sdk-logs');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-http');
const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-http');

// 2024-01-02T03:04:05Z, as in send.py; HrTime keeps full nanosecond precision.
const BASE_SEC = 1704164645n;

function args() {
  const a = { seed: 2, spans: 20, logs: 5, signals: 'traces,metrics,logs' };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) a[argv[i].replace(/^--/, '')] = argv[i + 1];
  if (!a.endpoint || !a.run) throw new Error('--endpoint and --run are required');
  a.seed = BigInt(a.seed);
  a.spans = Number(a.spans);
  a.logs = Number(a.logs);
  return a;
}

const hex = (v, width) => v.toString(16).padStart(width, '0');
const nsOf = (offset) => BASE_SEC * 1000000000n + BigInt(offset);
const hrOf = (ns) => [Number(ns / 1000000000n), Number(ns % 1000000000n)];

// Wraps an exporter so every export result is remembered.
function recording(inner, results) {
  return {
    export(items, cb) {
      inner.export(items, (r) => {
        results.push(r.code === ExportResultCode.SUCCESS);
        cb(r);
      });
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => (inner.forceFlush ? inner.forceFlush() : Promise.resolve()),
    selectAggregationTemporality: inner.selectAggregationTemporality
      ? (t) => inner.selectAggregationTemporality(t)
      : undefined,
    selectAggregation: inner.selectAggregation ? (t) => inner.selectAggregation(t) : undefined,
  };
}

function resourceAttrs(a) {
  return {
    'service.name': 'e2e-node-http-json',
    'service.version': '4.5.6',
    'test.run': a.run,
    'host.cpu.count': 2,
  };
}

async function sendTraces(a, results, out) {
  let nextSpan = 1n;
  let nextTrace = 1n;
  const idGenerator = {
    generateTraceId: () => hex((a.seed << 64n) | nextTrace++, 32),
    generateSpanId: () => hex((a.seed << 32n) | nextSpan++, 16),
  };
  const exporter = recording(new OTLPTraceExporter({ url: `${a.endpoint}/v1/traces` }), results);
  const provider = new TracerProvider({
    resource: resourceFromAttributes(resourceAttrs(a)),
    idGenerator,
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const tracer = provider.getTracer('solder.e2e.node', '0.9.2');
  const kinds = [api.SpanKind.INTERNAL, api.SpanKind.SERVER, api.SpanKind.CLIENT];
  const spans = [];
  let rootCtx;
  for (let i = 0; i < a.spans; i++) {
    const start = nsOf(i * 1000003 + 9);
    const end = start + BigInt(250000 + i * 13);
    const attributes = {
      index: i,
      'http.method': i % 2 === 0 ? 'GET' : 'POST',
      ratio: i + 0.5,
      ok: i % 3 !== 0,
      tags: ['a', `t${i}`],
    };
    const kind = kinds[i % 3];
    const span = tracer.startSpan(
      `op-${i}`,
      { kind, attributes, startTime: hrOf(start) },
      rootCtx || api.ROOT_CONTEXT,
    );
    const sc = span.spanContext();
    if (i === 0) rootCtx = api.trace.setSpan(api.ROOT_CONTEXT, span);
    span.end(hrOf(end));
    spans.push({
      trace_id: sc.traceId,
      span_id: sc.spanId,
      parent_span_id: i === 0 ? '' : spans[0].span_id,
      name: `op-${i}`,
      // OTLP numbering: INTERNAL=1, SERVER=2, CLIENT=3 (the JS API enum starts at 0).
      kind: kind + 1,
      start: start.toString(),
      end: end.toString(),
      attributes,
    });
  }
  // Shutdown waits for the pending exports (TracerProvider.forceFlush is broken in 3.1.0).
  await provider.shutdown();
  out.resource = resourceAttrs(a);
  out.scope = { name: 'solder.e2e.node', version: '0.9.2' };
  out.spans = spans;
}

async function sendMetrics(a, results, out) {
  const inner = new OTLPMetricExporter({ url: `${a.endpoint}/v1/metrics` });
  const reader = new PeriodicExportingMetricReader({
    exporter: recording(inner, results),
    exportIntervalMillis: 3600000,
  });
  const provider = new MeterProvider({
    resource: resourceFromAttributes(resourceAttrs(a)),
    readers: [reader],
  });
  const meter = provider.getMeter('solder.e2e.node', '0.9.2');
  const counter = meter.createCounter(`e2e.requests.${a.run}`, { unit: '1' });
  const hist = meter.createHistogram(`e2e.latency.${a.run}`, { unit: 'ms' });
  counter.add(5, { route: '/a' });
  counter.add(7, { route: '/b' });
  counter.add(1, { route: '/a' });
  for (const v of [1, 2, 40]) hist.record(v, { route: '/a' });
  // Shutdown collects and exports exactly once (a flush first would send the points twice).
  await provider.shutdown();
  out.metrics = [
    {
      name: `e2e.requests.${a.run}`,
      kind: 'sum',
      points: [
        { attributes: { route: '/a' }, value: 6 },
        { attributes: { route: '/b' }, value: 7 },
      ],
    },
    {
      name: `e2e.latency.${a.run}`,
      kind: 'histogram',
      points: [{ attributes: { route: '/a' }, count: 3, sum: 43.0 }],
    },
  ];
}

async function sendLogs(a, results, out) {
  const exporter = recording(new OTLPLogExporter({ url: `${a.endpoint}/v1/logs` }), results);
  const provider = new LoggerProvider({
    resource: resourceFromAttributes(resourceAttrs(a)),
    processors: [new SimpleLogRecordProcessor({ exporter })],
  });
  const logger = provider.getLogger('solder.e2e.node', '0.9.2');
  const logs = [];
  for (let i = 0; i < a.logs; i++) {
    const ts = nsOf(i * 2000001 + 5);
    const traceId = hex((a.seed << 64n) | BigInt(1000 + i), 32);
    const spanId = hex((a.seed << 32n) | BigInt(1000 + i), 16);
    const context = api.trace.setSpanContext(api.ROOT_CONTEXT, {
      traceId,
      spanId,
      traceFlags: api.TraceFlags.SAMPLED,
    });
    const attributes = { index: i, user: `u${i}` };
    const body = `log line ${i} of run ${a.run}`;
    logger.emit({
      timestamp: hrOf(ts),
      context,
      severityNumber: api.SeverityNumber.WARN,
      severityText: 'WARN',
      body,
      attributes,
    });
    logs.push({
      body,
      time: ts.toString(),
      severity_number: 13,
      severity_text: 'WARN',
      trace_id: traceId,
      span_id: spanId,
      attributes,
    });
  }
  // Shutdown waits for the pending exports (TracerProvider.forceFlush is broken in 3.1.0).
  await provider.shutdown();
  out.logs = logs;
}

async function main() {
  const a = args();
  a.endpoint = a.endpoint.replace(/\/+$/, '');
  const signals = a.signals.split(',');
  const out = { client: 'node-http-json' };
  const results = {};
  if (signals.includes('traces')) await sendTraces(a, (results.traces = []), out);
  if (signals.includes('metrics')) await sendMetrics(a, (results.metrics = []), out);
  if (signals.includes('logs')) await sendLogs(a, (results.logs = []), out);
  out.export_ok = {};
  let ok = true;
  for (const [k, r] of Object.entries(results)) {
    out.export_ok[k] = r.length > 0 && r.every(Boolean);
    ok = ok && out.export_ok[k];
  }
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exitCode = ok ? 0 : 1;
}

main().catch((e) => {
  process.stderr.write(`send.js failed: ${e && e.stack ? e.stack : e}\n`);
  process.exitCode = 2;
});
