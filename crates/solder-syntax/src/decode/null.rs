//! The zero-value deserializer: what `null` (or a recovered error) decodes to. Go sets the zero
//! value for `null`, not the default: `0`, `""`, `false`, empty lists and maps, and for a struct
//! every field's zero value.

use super::error::DecodeError;
use super::magic;
use serde::de::{self, value::MapDeserializer, value::SeqDeserializer, IntoDeserializer, Visitor};

pub(crate) struct NullDe;

type R<V> = Result<V, DecodeError>;

impl<'de> IntoDeserializer<'de, DecodeError> for NullDe {
    type Deserializer = NullDe;
    fn into_deserializer(self) -> NullDe {
        self
    }
}

impl<'de> de::Deserializer<'de> for NullDe {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_unit()
    }
    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_bool(false)
    }
    fn deserialize_i8<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_i64(0)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_i64(0)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_i64(0)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_i64(0)
    }
    fn deserialize_u8<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_u64(0)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_u64(0)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_u64(0)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_u64(0)
    }
    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_f64(0.0)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_f64(0.0)
    }
    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_char('\0')
    }
    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_str("")
    }
    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_string(String::new())
    }
    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_bytes(&[])
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_byte_buf(Vec::new())
    }
    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_none()
    }
    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_unit()
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(self, _n: &'static str, v: V) -> R<V::Value> {
        v.visit_unit()
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, v: V) -> R<V::Value> {
        match name {
            magic::SECRET => v.visit_string(String::new()),
            magic::DURATION | magic::BYTE_SIZE => v.visit_u64(0),
            // An empty slot makes the `Value` visitor produce null and a capsule visitor fail.
            magic::VALUE | magic::CAPSULE => v.visit_unit(),
            _ => v.visit_newtype_struct(self),
        }
    }
    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_seq(SeqDeserializer::new(std::iter::empty::<NullDe>()))
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, v: V) -> R<V::Value> {
        v.visit_seq(SeqDeserializer::new((0..len).map(|_| NullDe)))
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _n: &'static str,
        len: usize,
        v: V,
    ) -> R<V::Value> {
        self.deserialize_tuple(len, v)
    }
    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_map(MapDeserializer::new(std::iter::empty::<(NullDe, NullDe)>()))
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _n: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> R<V::Value> {
        v.visit_map(MapDeserializer::new(fields.iter().map(|f| (*f, NullDe))))
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _n: &'static str,
        _variants: &'static [&'static str],
        _v: V,
    ) -> R<V::Value> {
        Err(DecodeError::new("should be string, got null"))
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_str("")
    }
    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_unit()
    }
}
