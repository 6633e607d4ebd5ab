//! One batcher per signal: collects encoded requests, sends them on size or timeout (the
//! Collector's `shard.startLoop`/`processItem`/`sendItems`), and tells every caller the fate of
//! its data.

use super::split::split_request;
use super::Shared;
use bytes::{Bytes, BytesMut};
use solder_core::consume::ConsumeError;
use solder_core::signals::otlp::{OtlpPayload, Signal};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The outcome a caller waits for. A caller's data may leave in several batches (when split),
/// so the caller is answered once every part was resolved; any failure makes the answer an
/// error (the worst one, as in a fan-out).
pub struct Ack(Mutex<AckState>);

struct AckState {
    parts: usize,
    err: Option<ConsumeError>,
    tx: Option<oneshot::Sender<Result<(), ConsumeError>>>,
}

impl Ack {
    pub fn new(tx: oneshot::Sender<Result<(), ConsumeError>>) -> Arc<Ack> {
        Arc::new(Ack(Mutex::new(AckState {
            parts: 1,
            err: None,
            tx: Some(tx),
        })))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, AckState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add_part(&self) {
        self.state().parts += 1;
    }

    fn resolve(&self, result: &Result<(), ConsumeError>) {
        let mut st = self.state();
        if let Err(e) = result {
            st.err = Some(match st.err.take() {
                Some(prev) => ConsumeError::worst(prev, e.clone()),
                None => e.clone(),
            });
        }
        st.parts = st.parts.saturating_sub(1);
        if st.parts == 0 {
            if let Some(tx) = st.tx.take() {
                let answer = st.err.take().map_or(Ok(()), Err);
                // The caller may have given up waiting; nothing to do then.
                let _ = tx.send(answer);
            }
        }
    }
}

/// Part of one caller's request waiting in a batch.
pub struct Piece {
    pub bytes: Bytes,
    pub items: u64,
    pub ack: Arc<Ack>,
}

#[derive(Default)]
struct Pending {
    pieces: Vec<Piece>,
    items: u64,
    /// The buffer batches are concatenated into. Each batch is split off it and frozen; once
    /// downstream has dropped that batch (it has, when `consume` returns with the durable queue
    /// or a synchronous send), `reserve` takes the same allocation back, so a steady stream of
    /// multi-megabyte batches does not map, fault in and unmap fresh memory every time.
    scratch: BytesMut,
}

impl Pending {
    fn push(&mut self, p: Piece) {
        self.items += p.items;
        self.pieces.push(p);
    }

    /// Take the next batch: everything, or exactly `max` items when `max > 0` and more are
    /// pending (the Collector's `split`). The piece straddling the cut is split in two.
    fn take(&mut self, signal: Signal, max: u64) -> (Vec<Piece>, u64) {
        if max == 0 || self.items <= max {
            let items = std::mem::take(&mut self.items);
            return (std::mem::take(&mut self.pieces), items);
        }
        let mut out = Vec::new();
        let mut taken = 0u64;
        let mut rest = std::mem::take(&mut self.pieces).into_iter();
        for piece in rest.by_ref() {
            let room = max - taken;
            if piece.items <= room {
                taken += piece.items;
                out.push(piece);
            } else {
                match split_request(signal, &piece.bytes, room) {
                    Ok(((head, head_items), (tail, tail_items))) => {
                        piece.ack.add_part();
                        taken += head_items;
                        out.push(Piece {
                            bytes: head,
                            items: head_items,
                            ack: Arc::clone(&piece.ack),
                        });
                        self.pieces.push(Piece {
                            bytes: tail,
                            items: tail_items,
                            ack: piece.ack,
                        });
                    }
                    Err(e) => {
                        // Cannot cut it: send it whole rather than lose it; the batch is
                        // oversized but still valid for whatever accepts the rest.
                        tracing::warn!(error = %e, "batch: cannot split request; sending it unsplit");
                        taken += piece.items;
                        out.push(piece);
                    }
                }
            }
            if taken >= max {
                break;
            }
        }
        self.pieces.extend(rest);
        self.items = self.pieces.iter().map(|p| p.items).sum();
        (out, taken)
    }
}

#[derive(Clone, Copy)]
enum Trigger {
    Size,
    Timeout,
}

/// The batching loop of one signal; ends on shutdown (after flushing) or when every sender
/// is gone.
pub async fn run_shard(
    shared: Arc<Shared>,
    signal: Signal,
    mut rx: mpsc::Receiver<Piece>,
    shutdown: CancellationToken,
) {
    let mut pending = Pending::default();
    let mut deadline = Instant::now() + shared.config().timeout;
    loop {
        let cfg = shared.config();
        let timer_on = !cfg.timeout.is_zero() && cfg.send_batch_size > 0;
        tokio::select! {
            () = shutdown.cancelled() => {
                while let Ok(piece) = rx.try_recv() {
                    process(&shared, signal, &mut pending, piece, &mut deadline).await;
                }
                rx.close();
                while pending.items > 0 {
                    send(&shared, signal, &mut pending, Trigger::Timeout).await;
                }
                return;
            }
            piece = rx.recv() => match piece {
                Some(piece) => process(&shared, signal, &mut pending, piece, &mut deadline).await,
                None => return,
            },
            () = tokio::time::sleep_until(deadline), if timer_on => {
                if pending.items > 0 {
                    send(&shared, signal, &mut pending, Trigger::Timeout).await;
                }
                deadline = Instant::now() + cfg.timeout;
            }
        }
    }
}

/// Add one request and send while the size trigger holds (always, without a timer).
async fn process(
    shared: &Shared,
    signal: Signal,
    pending: &mut Pending,
    piece: Piece,
    deadline: &mut Instant,
) {
    pending.push(piece);
    let cfg = shared.config();
    let timer_on = !cfg.timeout.is_zero() && cfg.send_batch_size > 0;
    let mut sent = false;
    while pending.items > 0 && (!timer_on || pending.items >= u64::from(cfg.send_batch_size)) {
        send(shared, signal, pending, Trigger::Size).await;
        sent = true;
    }
    if sent {
        *deadline = Instant::now() + cfg.timeout;
    }
}

async fn send(shared: &Shared, signal: Signal, pending: &mut Pending, trigger: Trigger) {
    let max = u64::from(shared.config().send_batch_max_size);
    let (pieces, items) = pending.take(signal, max);
    if pieces.is_empty() {
        return;
    }
    let encoded = match pieces.as_slice() {
        // One request on its own is already the batch: no copy.
        [one] => one.bytes.clone(),
        many => {
            let buf = &mut pending.scratch;
            buf.clear();
            buf.reserve(many.iter().map(|p| p.bytes.len()).sum());
            for p in many {
                buf.extend_from_slice(&p.bytes);
            }
            buf.split().freeze()
        }
    };
    let size_bytes = encoded.len();
    let output = shared.output();
    let result = output
        .consume(OtlpPayload {
            signal,
            encoded,
            items,
        })
        .await;
    match &result {
        Ok(()) => {
            let m = &shared.metrics;
            match trigger {
                Trigger::Size => m.size_trigger.inc(),
                Trigger::Timeout => m.timeout_trigger.inc(),
            }
            m.send_size.observe(items as f64);
            m.send_size_bytes.observe(size_bytes as f64);
            shared.flow.outgoing(signal, items);
        }
        Err(e) => tracing::warn!(error = %e, "Sender failed"),
    }
    for p in pieces {
        p.ack.resolve(&result);
    }
}
