"""Send known traces, metrics and logs with the real OpenTelemetry Python SDK and print what was
sent as one JSON document on stdout, for Solder's OTLP end-to-end tests to compare against what
arrived at the backend.

    send.py --protocol grpc|http --endpoint URL --run RUN [--spans N] [--signals traces,metrics,logs]

grpc: URL is http://host:port; http (protobuf): URL is http://host:port (the /v1/<signal>
paths are appended). Ids are deterministic (derived from --run and the span index) so the test
can also predict them; timestamps are explicit nanoseconds. Exit status 0 only if every export
the SDK made reported SUCCESS.
"""

import argparse
import json
import sys

from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    LogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

# A fixed wall-clock base (2024-01-02T03:04:05Z) plus odd offsets, so any rounding shows.
BASE_NS = 1_704_164_645_000_000_000


class FixedIds(IdGenerator):
    """Sequential ids under a per-run prefix: unique across runs, predictable within one."""

    def __init__(self, run_seed: int):
        self.seed = run_seed
        self.next_span = 1
        self.next_trace = 1

    def generate_span_id(self) -> int:
        v = (self.seed << 32) | self.next_span
        self.next_span += 1
        return v & 0xFFFF_FFFF_FFFF_FFFF

    def generate_trace_id(self) -> int:
        v = (self.seed << 64) | self.next_trace
        self.next_trace += 1
        return v & ((1 << 128) - 1)


class Recording:
    """Remembers every export result of the wrapped exporter."""

    def __init__(self):
        self.results = []

    def ok(self) -> bool:
        return bool(self.results) and all(self.results)


def recording_span_exporter(inner, rec):
    class _E(SpanExporter):
        def export(self, spans):
            r = inner.export(spans)
            rec.results.append(r == SpanExportResult.SUCCESS)
            return r

        def shutdown(self):
            inner.shutdown()

        def force_flush(self, timeout_millis=30000):
            return True

    return _E()


def recording_metric_exporter(inner, rec):
    class _E(MetricExporter):
        def __init__(self):
            super().__init__(
                preferred_temporality=inner._preferred_temporality,
                preferred_aggregation=inner._preferred_aggregation,
            )

        def export(self, metrics_data, timeout_millis=10_000, **kwargs):
            r = inner.export(metrics_data, timeout_millis=timeout_millis)
            rec.results.append(r == MetricExportResult.SUCCESS)
            return r

        def shutdown(self, timeout_millis=30_000, **kwargs):
            inner.shutdown()

        def force_flush(self, timeout_millis=10_000):
            return True

    return _E()


def recording_log_exporter(inner, rec):
    class _E(LogRecordExporter):
        def export(self, batch):
            r = inner.export(batch)
            rec.results.append(r == LogRecordExportResult.SUCCESS)
            return r

        def shutdown(self):
            inner.shutdown()

        def force_flush(self, timeout_millis=30000):
            return True

    return _E()


def exporters(protocol: str, endpoint: str):
    endpoint = endpoint.rstrip("/")
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return (
            OTLPSpanExporter(endpoint=endpoint, insecure=True, timeout=10),
            OTLPMetricExporter(endpoint=endpoint, insecure=True, timeout=10),
            OTLPLogExporter(endpoint=endpoint, insecure=True, timeout=10),
        )
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return (
        OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", timeout=10),
        OTLPMetricExporter(endpoint=f"{endpoint}/v1/metrics", timeout=10),
        OTLPLogExporter(endpoint=f"{endpoint}/v1/logs", timeout=10),
    )


def resource_attrs(run: str, protocol: str) -> dict:
    return {
        "service.name": f"e2e-python-{protocol}",
        "service.version": "1.2.3",
        "test.run": run,
        "host.cpu.count": 2,
    }


def send_traces(args, span_exp, rec, out):
    resource = Resource.create(resource_attrs(args.run, args.protocol))
    provider = TracerProvider(resource=resource, id_generator=FixedIds(args.seed))
    provider.add_span_processor(SimpleSpanProcessor(recording_span_exporter(span_exp, rec)))
    tracer = provider.get_tracer("solder.e2e.python", "0.9.1")
    spans = []
    root_ctx = None
    for i in range(args.spans):
        start = BASE_NS + i * 1_000_003 + 7
        end = start + 250_000 + i * 11
        attrs = {
            "index": i,
            "http.method": "GET" if i % 2 == 0 else "POST",
            "ratio": i + 0.5,
            "ok": i % 3 != 0,
            "tags": ["a", f"t{i}"],
        }
        kind = [SpanKind.INTERNAL, SpanKind.SERVER, SpanKind.CLIENT][i % 3]
        span = tracer.start_span(
            f"op-{i}", context=root_ctx, kind=kind, attributes=attrs, start_time=start
        )
        ctx = span.get_span_context()
        if i == 0:
            # Every later span is a child of the first: parent ids must survive too.
            root_ctx = trace.set_span_in_context(span)
            parent = ""
        else:
            parent = spans[0]["span_id"]
        span.end(end_time=end)
        spans.append(
            {
                "trace_id": format(ctx.trace_id, "032x"),
                "span_id": format(ctx.span_id, "016x"),
                "parent_span_id": parent,
                "name": f"op-{i}",
                "kind": {SpanKind.INTERNAL: 1, SpanKind.SERVER: 2, SpanKind.CLIENT: 3}[kind],
                "start": str(start),
                "end": str(end),
                "attributes": attrs,
            }
        )
    provider.shutdown()
    out["resource"] = resource_attrs(args.run, args.protocol)
    out["scope"] = {"name": "solder.e2e.python", "version": "0.9.1"}
    out["spans"] = spans


def send_metrics(args, metric_exp, rec, out):
    resource = Resource.create(resource_attrs(args.run, args.protocol))
    reader = PeriodicExportingMetricReader(
        recording_metric_exporter(metric_exp, rec), export_interval_millis=3_600_000
    )
    provider = MeterProvider(resource=resource, metric_readers=[reader])
    meter = provider.get_meter("solder.e2e.python", "0.9.1")
    counter = meter.create_counter(f"e2e.requests.{args.run}", unit="1")
    hist = meter.create_histogram(f"e2e.latency.{args.run}", unit="ms")
    counter.add(5, {"route": "/a"})
    counter.add(7, {"route": "/b"})
    counter.add(1, {"route": "/a"})
    for v in (1.0, 2.0, 40.0):
        hist.record(v, {"route": "/a"})
    # Shutdown collects and exports exactly once (a flush first would send the points twice).
    provider.shutdown()
    out["metrics"] = [
        {
            "name": f"e2e.requests.{args.run}",
            "kind": "sum",
            "points": [
                {"attributes": {"route": "/a"}, "value": 6},
                {"attributes": {"route": "/b"}, "value": 7},
            ],
        },
        {
            "name": f"e2e.latency.{args.run}",
            "kind": "histogram",
            "points": [{"attributes": {"route": "/a"}, "count": 3, "sum": 43.0}],
        },
    ]


def send_logs(args, log_exp, rec, out):
    resource = Resource.create(resource_attrs(args.run, args.protocol))
    provider = LoggerProvider(resource=resource)
    provider.add_log_record_processor(SimpleLogRecordProcessor(recording_log_exporter(log_exp, rec)))
    logger = provider.get_logger("solder.e2e.python", "0.9.1")
    logs = []
    for i in range(args.logs):
        ts = BASE_NS + i * 2_000_001 + 3
        trace_id = (args.seed << 64) | (1000 + i)
        span_id = (args.seed << 32) | (1000 + i)
        ctx = trace.set_span_in_context(
            NonRecordingSpan(
                SpanContext(trace_id, span_id, is_remote=False, trace_flags=TraceFlags(1))
            )
        )
        attrs = {"index": i, "user": f"u{i}"}
        body = f"log line {i} of run {args.run}"
        logger.emit(
            timestamp=ts,
            context=ctx,
            severity_number=SeverityNumber.WARN,
            severity_text="WARN",
            body=body,
            attributes=attrs,
        )
        logs.append(
            {
                "body": body,
                "time": str(ts),
                "severity_number": 13,
                "severity_text": "WARN",
                "trace_id": format(trace_id, "032x"),
                "span_id": format(span_id, "016x"),
                "attributes": attrs,
            }
        )
    provider.shutdown()
    out["logs"] = logs


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--protocol", choices=["grpc", "http"], required=True)
    p.add_argument("--endpoint", required=True)
    p.add_argument("--run", required=True, help="a short unique token for this run")
    p.add_argument("--seed", type=int, default=1, help="id prefix (keeps runs apart)")
    p.add_argument("--spans", type=int, default=20)
    p.add_argument("--logs", type=int, default=5)
    p.add_argument("--signals", default="traces,metrics,logs")
    args = p.parse_args()
    span_exp, metric_exp, log_exp = exporters(args.protocol, args.endpoint)
    out = {"client": f"python-{args.protocol}"}
    signals = args.signals.split(",")
    recs = {}
    if "traces" in signals:
        recs["traces"] = Recording()
        send_traces(args, span_exp, recs["traces"], out)
    if "metrics" in signals:
        recs["metrics"] = Recording()
        send_metrics(args, metric_exp, recs["metrics"], out)
    if "logs" in signals:
        recs["logs"] = Recording()
        send_logs(args, log_exp, recs["logs"], out)
    out["export_ok"] = {k: r.ok() for k, r in recs.items()}
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0 if all(r.ok() for r in recs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
