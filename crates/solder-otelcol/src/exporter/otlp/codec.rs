//! The decoder for the exporter's response: the encoded `Export*ServiceResponse` is kept as
//! bytes (only its partial-success fields are read, by `sending::partial`), so no prost type is
//! built for it. Requests need no encoder: `call.rs` writes them as they are.

use bytes::{Buf, Bytes};
use tonic::codec::{DecodeBuf, Decoder};
use tonic::Status;

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RawDecoder;

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        let n = src.remaining();
        Ok(Some(src.copy_to_bytes(n)))
    }
}
