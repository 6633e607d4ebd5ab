//! Whole-request compression, shared by the OTLP exporters (gRPC message, HTTP body).

use std::io::{self, Write};

/// gzip at `level` (0–9).
pub(crate) fn gzip(data: &[u8], level: u32) -> io::Result<Vec<u8>> {
    let out = Vec::with_capacity(data.len() / 4 + 64);
    let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::new(level));
    enc.write_all(data)?;
    enc.finish()
}

/// One zstd frame at `level`.
pub(crate) fn zstd(data: &[u8], level: i32) -> io::Result<Vec<u8>> {
    zstd::bulk::compress(data, level)
}
