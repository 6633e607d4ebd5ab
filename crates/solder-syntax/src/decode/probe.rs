//! A deserializer that only observes what a field's type asks for: a struct, map or enum means
//! the field is a block; anything else an attribute. Used to word "missing required" errors.

use super::error::DecodeError;
use super::Ctx;
use serde::de::{self, Visitor};

pub(crate) struct ProbeDe<'a> {
    pub(crate) ctx: &'a Ctx,
}

type R<V> = Result<V, DecodeError>;

impl ProbeDe<'_> {
    fn answer<T>(&self, is_block: bool) -> R<T> {
        if self.ctx.probe_is_block.get().is_none() {
            self.ctx.probe_is_block.set(Some(is_block));
        }
        // Stop decoding: the probing pass only wants the answer.
        Err(DecodeError::aborted())
    }
}

impl<'de> de::IntoDeserializer<'de, DecodeError> for ProbeDe<'de> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> de::Deserializer<'de> for ProbeDe<'de> {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, _v: V) -> R<V::Value> {
        self.answer(false)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _n: &'static str,
        _f: &'static [&'static str],
        _v: V,
    ) -> R<V::Value> {
        self.answer(true)
    }

    fn deserialize_map<V: Visitor<'de>>(self, _v: V) -> R<V::Value> {
        // A map field is usually an object attribute (`external_labels = {…}`).
        self.answer(false)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _n: &'static str,
        _variants: &'static [&'static str],
        _v: V,
    ) -> R<V::Value> {
        self.answer(true)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_some(self)
    }

    /// A list is a block when its elements are (repeated blocks).
    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        let ctx = self.ctx;
        v.visit_seq(de::value::SeqDeserializer::new(std::iter::once(ProbeDe {
            ctx,
        })))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, v: V) -> R<V::Value> {
        if name.starts_with("$solder::") {
            return self.answer(false);
        }
        v.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct tuple tuple_struct identifier ignored_any
    }
}
