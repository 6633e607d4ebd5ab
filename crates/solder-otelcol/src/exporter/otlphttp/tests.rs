#![allow(clippy::unwrap_used)]

use super::*;

fn args(endpoint: &str) -> Args {
    Args {
        client: HttpClientArgs {
            endpoint: endpoint.into(),
            proxy_url: String::new(),
            compression: default_compression(),
            compression_params: None,
            tls: TlsClientSettings::default(),
            read_buffer_size: ByteSize(0),
            write_buffer_size: default_write_buffer_size(),
            timeout: default_timeout(),
            headers: BTreeMap::new(),
            max_idle_conns: 100,
            max_idle_conns_per_host: 0,
            max_conns_per_host: 0,
            idle_conn_timeout: default_idle_conn_timeout(),
            disable_keep_alives: false,
            http2_read_idle_timeout: GoDuration::default(),
            http2_ping_timeout: default_http2_ping_timeout(),
            force_attempt_http2: true,
            auth: None,
            cookies: None,
        },
        sending_queue: QueueArgs::default(),
        retry_on_failure: RetryArgs::default(),
        debug_metrics: DebugMetricsArgs::default(),
        traces_endpoint: String::new(),
        metrics_endpoint: String::new(),
        logs_endpoint: String::new(),
        encoding: default_encoding(),
    }
}

#[test]
fn signal_urls() {
    let a = args("https://otlp.example.com:4318");
    assert_eq!(
        a.url(Signal::Traces).unwrap(),
        "https://otlp.example.com:4318/v1/traces"
    );
    let a = args("https://otlp.example.com/otlp/");
    assert_eq!(
        a.url(Signal::Logs).unwrap(),
        "https://otlp.example.com/otlp/v1/logs"
    );
    let mut a = args("http://h:4318");
    a.metrics_endpoint = "http://other/custom".into();
    assert_eq!(a.url(Signal::Metrics).unwrap(), "http://other/custom");
    assert_eq!(a.url(Signal::Traces).unwrap(), "http://h:4318/v1/traces");
    let mut a = args("");
    a.logs_endpoint = "http://l/x".into();
    assert_eq!(a.url(Signal::Traces), None);
    assert!(a.validate().is_ok());
}

#[test]
fn validation_messages() {
    assert_eq!(
        args("").validate().unwrap_err(),
        "at least one endpoint must be specified"
    );
    let mut a = args("http://h");
    a.encoding = "xml".into();
    assert_eq!(a.validate().unwrap_err(), "invalid encoding type xml");
    let mut a = args("http://h");
    a.client.compression = "snappy".into();
    assert!(a.validate().unwrap_err().contains("not supported"));
    let mut a = args("http://h");
    a.client.compression_params = Some(CompressionParams { level: 42 });
    assert!(a
        .validate()
        .unwrap_err()
        .contains("invalid compression level"));
    let mut a = args("http://h");
    a.client.cookies = Some(CookiesArgs { enabled: true });
    assert!(a.validate().unwrap_err().contains("cookies"));
}
