//! Request-body decompression for OTLP/HTTP with the *decompressed* size capped, so a small
//! compressed bomb cannot expand past `max_request_body_size`.

use bytes::Bytes;
use std::io::Read;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecompressError {
    #[error("unsupported Content-Encoding {0:?}")]
    Unsupported(String),
    #[error("decompressed request body exceeds the limit of {0} bytes")]
    TooLarge(usize),
    #[error("invalid {encoding} body: {message}")]
    Corrupt { encoding: String, message: String },
}

/// Decode `body` according to `encoding` (a `Content-Encoding` value, already lowercased and
/// trimmed; empty or `identity` for none), allowing at most `limit` output bytes. `allowed` is
/// the configured `compression_algorithms`.
pub fn decompress(
    encoding: &str,
    body: Bytes,
    limit: usize,
    allowed: &[String],
) -> Result<Bytes, DecompressError> {
    let name = if encoding == "identity" { "" } else { encoding };
    if !allowed.iter().any(|a| a == name) {
        return Err(DecompressError::Unsupported(encoding.to_string()));
    }
    let corrupt = |e: std::io::Error| DecompressError::Corrupt {
        encoding: name.to_string(),
        message: e.to_string(),
    };
    match name {
        "" => {
            if body.len() > limit {
                return Err(DecompressError::TooLarge(limit));
            }
            Ok(body)
        }
        "gzip" => {
            read_capped(flate2::read::MultiGzDecoder::new(&body[..]), limit).map_err(|e| match e {
                Capped::Over => DecompressError::TooLarge(limit),
                Capped::Io(e) => corrupt(e),
            })
        }
        // HTTP "deflate" is the zlib format (RFC 9110), as the Collector reads it.
        "zlib" | "deflate" => read_capped(flate2::read::ZlibDecoder::new(&body[..]), limit)
            .map_err(|e| match e {
                Capped::Over => DecompressError::TooLarge(limit),
                Capped::Io(e) => corrupt(e),
            }),
        "zstd" => {
            let decoder = zstd::stream::read::Decoder::new(&body[..]).map_err(corrupt)?;
            read_capped(decoder, limit).map_err(|e| match e {
                Capped::Over => DecompressError::TooLarge(limit),
                Capped::Io(e) => corrupt(e),
            })
        }
        "snappy" => {
            // Block format; the header states the decoded length, checked before allocating.
            let len = snap::raw::decompress_len(&body).map_err(|e| DecompressError::Corrupt {
                encoding: name.to_string(),
                message: e.to_string(),
            })?;
            if len > limit {
                return Err(DecompressError::TooLarge(limit));
            }
            snap::raw::Decoder::new()
                .decompress_vec(&body)
                .map(Bytes::from)
                .map_err(|e| DecompressError::Corrupt {
                    encoding: name.to_string(),
                    message: e.to_string(),
                })
        }
        other => Err(DecompressError::Unsupported(other.to_string())),
    }
}

enum Capped {
    Over,
    Io(std::io::Error),
}

/// Read all of `r`, failing as soon as more than `limit` bytes come out.
fn read_capped(r: impl Read, limit: usize) -> Result<Bytes, Capped> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    r.take(cap).read_to_end(&mut out).map_err(Capped::Io)?;
    if out.len() > limit {
        return Err(Capped::Over);
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn all() -> Vec<String> {
        super::super::config::SUPPORTED_COMPRESSION
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn gzip(data: &[u8]) -> Bytes {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        Bytes::from(e.finish().unwrap())
    }

    #[test]
    fn round_trips_each_encoding() {
        let data = b"hello hello hello".repeat(10);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&data).unwrap();
        let zlib = Bytes::from(z.finish().unwrap());
        let cases: Vec<(&str, Bytes)> = vec![
            ("", Bytes::from(data.clone())),
            ("identity", Bytes::from(data.clone())),
            ("gzip", gzip(&data)),
            ("zlib", zlib.clone()),
            ("deflate", zlib),
            ("zstd", Bytes::from(zstd::encode_all(&data[..], 1).unwrap())),
            (
                "snappy",
                Bytes::from(snap::raw::Encoder::new().compress_vec(&data).unwrap()),
            ),
        ];
        for (enc, body) in cases {
            assert_eq!(
                decompress(enc, body, 1 << 20, &all()).unwrap(),
                data,
                "{enc}"
            );
        }
    }

    #[test]
    fn bombs_stop_at_the_limit() {
        let zeros = vec![0u8; 8 << 20];
        let limit = 1 << 20;
        let bombs: Vec<(&str, Bytes)> = vec![
            ("gzip", gzip(&zeros)),
            (
                "zstd",
                Bytes::from(zstd::encode_all(&zeros[..], 3).unwrap()),
            ),
            (
                "snappy",
                Bytes::from(snap::raw::Encoder::new().compress_vec(&zeros).unwrap()),
            ),
        ];
        for (enc, body) in bombs {
            assert!(body.len() < limit, "{enc} bomb is small");
            assert_eq!(
                decompress(enc, body, limit, &all()),
                Err(DecompressError::TooLarge(limit)),
                "{enc}"
            );
        }
    }

    #[test]
    fn unknown_disallowed_and_corrupt() {
        assert!(matches!(
            decompress("br", Bytes::new(), 10, &all()),
            Err(DecompressError::Unsupported(_))
        ));
        assert!(matches!(
            decompress("gzip", gzip(b"x"), 10, &["".to_string()]),
            Err(DecompressError::Unsupported(_))
        ));
        assert!(matches!(
            decompress("gzip", Bytes::from_static(b"not gzip"), 10, &all()),
            Err(DecompressError::Corrupt { .. })
        ));
        assert!(matches!(
            decompress("lz4", Bytes::from_static(b"x"), 10, &all()),
            Err(DecompressError::Unsupported(_))
        ));
    }
}
