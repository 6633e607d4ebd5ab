//! Picking up rotated TLS files. Prometheus reads `ca_file` on every request and the client
//! certificate on every handshake, so a renewed certificate is used without a reload. reqwest
//! fixes the TLS configuration when a client is built, so Solder rebuilds the client instead:
//! at most once per [`RECHECK_INTERVAL`] the files are read again, and if their contents
//! changed a new client (with a new connection pool) replaces the old one. A rebuild that fails
//! (say the certificate was replaced but the matching key not yet) keeps the old client and is
//! tried again at the next check.

use super::{base_client, HttpClientError, ProxyConfig, TlsConfig};
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// How often the TLS files are compared with what the client was built from.
pub(crate) const RECHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Everything [`base_client`] needs, kept to rebuild the client.
pub(crate) struct ClientParams {
    pub tls: TlsConfig,
    pub proxy: ProxyConfig,
    pub user_agent: String,
    pub timeout: Option<Duration>,
    pub follow_redirects: bool,
    pub enable_http2: bool,
}

impl ClientParams {
    pub(crate) fn build(&self) -> Result<reqwest::Client, HttpClientError> {
        base_client(
            &self.tls,
            &self.proxy,
            &self.user_agent,
            self.timeout,
            self.follow_redirects,
            self.enable_http2,
        )
    }

    /// The TLS files in use (inline PEM needs no watching).
    fn files(&self) -> Vec<&str> {
        [&self.tls.ca_file, &self.tls.cert_file, &self.tls.key_file]
            .into_iter()
            .filter(|f| !f.is_empty())
            .map(String::as_str)
            .collect()
    }
}

/// The current client, and what is needed to notice that its TLS files changed.
pub(crate) struct ClientSlot {
    current: RwLock<reqwest::Client>,
    watch: Option<Watch>,
}

struct Watch {
    params: ClientParams,
    state: Mutex<WatchState>,
}

struct WatchState {
    checked_at: Instant,
    /// The files' contents the current client was built from.
    contents: Vec<Vec<u8>>,
}

impl ClientSlot {
    /// Builds the first client; watches the TLS files if there are any.
    pub(crate) fn new(params: ClientParams) -> Result<Self, HttpClientError> {
        let contents = read_all(&params.files());
        let client = params.build()?;
        let watch = if params.files().is_empty() {
            None
        } else {
            Some(Watch {
                state: Mutex::new(WatchState {
                    checked_at: Instant::now(),
                    // Unreadable now means the build above failed already; empty is fine.
                    contents: contents.unwrap_or_default(),
                }),
                params,
            })
        };
        Ok(ClientSlot {
            current: RwLock::new(client),
            watch,
        })
    }

    /// The client to use now, rebuilt first if the TLS files changed since the last build.
    pub(crate) fn get(&self) -> reqwest::Client {
        if let Some(w) = &self.watch {
            if let Some(client) = w.rebuilt_if_changed() {
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = client;
            }
        }
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Watch {
    fn rebuilt_if_changed(&self) -> Option<reqwest::Client> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.checked_at.elapsed() < RECHECK_INTERVAL {
            return None;
        }
        state.checked_at = Instant::now();
        // A file missing for a moment (mid-rotation) keeps the client that works.
        let contents = read_all(&self.params.files()).ok()?;
        if contents == state.contents {
            return None;
        }
        match self.params.build() {
            Ok(client) => {
                state.contents = contents;
                Some(client)
            }
            Err(e) => {
                tracing::warn!(error = %e, "TLS files changed but the new client could not be built; keeping the old one");
                None
            }
        }
    }
}

fn read_all(files: &[&str]) -> std::io::Result<Vec<Vec<u8>>> {
    files.iter().map(std::fs::read).collect()
}
