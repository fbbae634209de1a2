//! The gRPC codec of every Zya service: prost's encoder, and a decoder that
//! reads each message from one contiguous [`Bytes`].
//!
//! tonic hands a decoder the message as a `DecodeBuf`, a length-limited view
//! of its receive buffer (`BytesMut`). prost reading through that view pays
//! `DecodeBuf::chunk`'s length check and `BytesMut::advance` for every field
//! it reads. In a catch-up read of 128 B messages the reading client's
//! decoding thread was the busiest thread of the machine, and those two
//! were ~16 % of it (`BytesMut::advance_unchecked` alone 3.6 % of all
//! samples). Splitting the message off the buffer first is free (a
//! reference count: `BytesMut::split_to`), and prost then reads a plain
//! slice; `bytes` fields configured as [`Bytes`] (a read message's payload)
//! stay slices of the received buffer, as before.

use std::marker::PhantomData;

use bytes::{Buf, Bytes};
use prost::Message;
use tonic::codec::{Codec, DecodeBuf, Decoder};
use tonic::Status;
use tonic_prost::ProstEncoder;

#[derive(Debug, Clone)]
pub struct ContiguousCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for ContiguousCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> Codec for ContiguousCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = ContiguousDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        ContiguousDecoder(PhantomData)
    }
}

#[derive(Debug, Clone)]
pub struct ContiguousDecoder<U>(PhantomData<U>);

impl<U: Message + Default> Decoder for ContiguousDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        let message: Bytes = buf.copy_to_bytes(buf.remaining());
        U::decode(message).map(Some).map_err(|e| Status::internal(e.to_string()))
    }
}
