//! The decoder for the exporter's response message: its bytes as they are (only a
//! partial-success check reads them, see `sending::log_partial_success`).

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
