//! `otelcol.receiver.otlp` with a server `tls` block on both servers: an OTLP/gRPC client and
//! an HTTPS client that trust the test CA get through; a plaintext client does not.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use solder_core::consume::ConsumeError;
use solder_core::signals::otlp::{OtlpConsumer, OtlpConsumerRef, OtlpPayload};
use solder_core::{
    Component, ComponentOptions, ExportSink, HealthReporter, HostInfo, TypedComponent,
};
use solder_otelcol::receiver::otlp::{Args, OtlpReceiver};
use solder_syntax::eval::{eval_body, EmptyScope};
use solder_syntax::parser::parse_file;
use solder_syntax::span::{FileId, Span as SrcSpan};
use solder_syntax::types::CapsuleOf;
use solder_syntax::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct Recorder(Mutex<Vec<OtlpPayload>>);

#[async_trait]
impl OtlpConsumer for Recorder {
    async fn consume(&self, payload: OtlpPayload) -> Result<(), ConsumeError> {
        self.0.lock().unwrap().push(payload);
        Ok(())
    }
}

struct NullSink;
impl ExportSink for NullSink {
    fn publish(&self, _: Value) {}
}

fn options() -> ComponentOptions {
    ComponentOptions {
        id: "otelcol.receiver.otlp.tls".into(),
        data_dir: std::env::temp_dir(),
        registry: prometheus::Registry::new(),
        health: HealthReporter::new(),
        host: Arc::new(HostInfo {
            http_listen_addr: "127.0.0.1:12345".into(),
            http_memory_addr: "alloy.internal:12345".into(),
            hostname: "test".into(),
            self_registry: prometheus::Registry::new(),
        }),
        exports: Arc::new(NullSink),
    }
}

struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

fn request() -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    name: "s".into(),
                    trace_id: vec![1; 16],
                    span_id: vec![2; 8],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[tokio::test]
async fn grpc_and_http_serve_tls() {
    let pki = pki();
    let tls = format!(
        "tls {{\n cert_pem = {:?}\n key_pem = {:?}\n }}",
        pki.cert_pem, pki.key_pem
    );
    let src = format!(
        "grpc {{\n endpoint = \"127.0.0.1:0\"\n {tls}\n}}\nhttp {{\n endpoint = \"127.0.0.1:0\"\n {tls}\n}}\noutput {{}}\n"
    );
    let (file, diags) = parse_file(&src, FileId(0));
    assert!(!diags.has_errors(), "{diags}");
    let body = eval_body(
        &file.body,
        SrcSpan::new(FileId(0), 0, src.len() as u32),
        &EmptyScope,
    )
    .unwrap();
    let mut args: Args = solder_syntax::decode::decode(&body).unwrap();
    assert!(<OtlpReceiver as TypedComponent>::validate(&args).is_ok());
    let recorder = Arc::new(Recorder::default());
    let consumer: OtlpConsumerRef = recorder.clone();
    args.output.traces = vec![CapsuleOf(consumer)];

    let receiver = Arc::new(OtlpReceiver::build(options(), args).unwrap());
    let token = CancellationToken::new();
    let task = tokio::spawn(Arc::clone(&receiver).run(token.clone()));
    let mut addrs = receiver.bound_addrs();
    for _ in 0..300 {
        addrs = receiver.bound_addrs();
        if addrs.grpc.is_some() && addrs.http.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (grpc, http) = (addrs.grpc.unwrap(), addrs.http.unwrap());

    // gRPC over TLS.
    let channel = tonic::transport::Endpoint::from_shared(format!("https://{grpc}"))
        .unwrap()
        .tls_config(
            tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(&pki.ca_pem))
                .domain_name("localhost"),
        )
        .unwrap()
        .connect()
        .await
        .unwrap();
    TraceServiceClient::new(channel)
        .export(request())
        .await
        .unwrap();

    // HTTPS.
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap())
        .resolve("localhost", http)
        .build()
        .unwrap();
    let resp = client
        .post(format!("https://localhost:{}/v1/traces", http.port()))
        .header("content-type", "application/x-protobuf")
        .body(request().encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // Plaintext HTTP to the TLS port fails rather than being served.
    let plain = reqwest::Client::new()
        .post(format!("http://{http}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(request().encode_to_vec())
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());

    let got = recorder.0.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|p| p.encoded == request().encode_to_vec()));

    token.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
