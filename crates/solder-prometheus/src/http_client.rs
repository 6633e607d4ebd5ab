//! Prometheus's common HTTP client configuration (`basic_auth`, `authorization`, `bearer_token`,
//! `oauth2`, `tls_config`, proxy, redirects, HTTP/2), shared by `prometheus.scrape` and
//! `prometheus.remote_write`. Being written.
