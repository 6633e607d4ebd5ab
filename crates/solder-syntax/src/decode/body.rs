//! Deserializing block bodies: attributes and blocks become struct fields, repeated blocks a
//! sequence, dotted enum blocks a sequence of enum variants, the label the `$label` field.

use super::error::DecodeError;
use super::null::NullDe;
use super::value_de::ValueDe;
use super::{Ctx, LABEL_FIELD};
use crate::eval::{AttrValue, BlockValue, BodyItem, BodyValue};
use crate::span::Span;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use std::collections::HashMap;

type R<V> = Result<V, DecodeError>;

/// A body (the top level, or one block's).
pub(crate) struct BodyDe<'a> {
    body: &'a BodyValue,
    /// The block this body belongs to (`None` at the top level).
    block: Option<&'a BlockValue>,
    ctx: &'a Ctx,
    /// Set aside unknown top-level names instead of reporting them ([`super::decode_squashed`]).
    lenient: bool,
}

impl<'a> BodyDe<'a> {
    pub(crate) fn top(body: &'a BodyValue, ctx: &'a Ctx) -> Self {
        BodyDe {
            body,
            block: None,
            ctx,
            lenient: false,
        }
    }

    pub(crate) fn top_lenient(body: &'a BodyValue, ctx: &'a Ctx) -> Self {
        BodyDe {
            lenient: true,
            ..Self::top(body, ctx)
        }
    }

    fn block(block: &'a BlockValue, ctx: &'a Ctx) -> Self {
        BodyDe {
            body: &block.body,
            block: Some(block),
            ctx,
            lenient: false,
        }
    }

    /// Where errors about the whole body point: the block's name, or the body's span.
    fn span(&self) -> Span {
        self.block.map(|b| b.span).unwrap_or(self.body.span)
    }

    fn unknown(&self, span: Span, message: String) {
        if self.lenient && self.block.is_none() {
            self.ctx
                .top_unknowns
                .borrow_mut()
                .push(crate::diag::Diagnostic::error(span, message));
        } else {
            self.ctx.record(span, message);
        }
    }

    fn misuse(&self) {
        match self.block {
            Some(b) => self.ctx.record(
                b.span,
                format!("{:?} must be an attribute, but is used as a block", b.name),
            ),
            None => self.ctx.record(
                self.body.span,
                "a block body can only be decoded into a struct or map",
            ),
        }
    }

    /// A block that takes no content (a unit enum variant): everything inside is unknown.
    fn expect_empty(&self) {
        for item in &self.body.items {
            match item {
                BodyItem::Attr(a) => self.unknown(
                    a.name_span,
                    format!("unrecognized attribute name {:?}", a.name),
                ),
                BodyItem::Block(b) => {
                    self.unknown(b.span, format!("unrecognized block name {:?}", b.name))
                }
            }
        }
    }

    fn struct_entries(&self, fields: &'static [&'static str]) -> Vec<(String, Entry<'a>)> {
        let mut entries: Vec<(String, Entry<'a>)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();

        if let Some(b) = self.block {
            let label = b.label.as_deref().filter(|l| !l.is_empty());
            let wants_label = fields.contains(&LABEL_FIELD);
            match (label, wants_label) {
                (None, true) => {
                    self.ctx.record(
                        b.span,
                        format!("block {:?} requires non-empty label", b.name),
                    );
                    entries.push((LABEL_FIELD.to_string(), Entry::Label(String::new())));
                }
                (Some(_), false) => self.ctx.record(
                    b.span,
                    format!("block {:?} does not support specifying labels", b.name),
                ),
                (Some(l), true) => {
                    entries.push((LABEL_FIELD.to_string(), Entry::Label(l.to_string())))
                }
                (None, false) => {}
            }
        }

        let known = |name: &str| name != LABEL_FIELD && fields.contains(&name);
        for item in &self.body.items {
            match item {
                BodyItem::Attr(a) => {
                    if !known(&a.name) {
                        self.unknown(
                            a.name_span,
                            format!("unrecognized attribute name {:?}", a.name),
                        );
                        continue;
                    }
                    match index.get(&a.name).map(|i| &entries[*i].1) {
                        None => {
                            index.insert(a.name.clone(), entries.len());
                            entries.push((a.name.clone(), Entry::Attr(a)));
                        }
                        Some(Entry::Attr(_)) => self.ctx.record(
                            a.name_span,
                            format!("attribute {:?} may only be provided once", a.name),
                        ),
                        Some(_) => self.ctx.record(
                            a.name_span,
                            format!("{:?} must be a block, but is used as an attribute", a.name),
                        ),
                    }
                }
                BodyItem::Block(b) => {
                    let (key, prefix_len) = if known(&b.name) {
                        (b.name.clone(), None)
                    } else if let Some(prefix) = enum_prefix(&b.name, &known) {
                        (prefix.to_string(), Some(prefix.len()))
                    } else {
                        self.unknown(b.span, format!("unrecognized block name {:?}", b.name));
                        continue;
                    };
                    match (index.get(&key).map(|i| &mut entries[*i].1), prefix_len) {
                        (None, None) => {
                            index.insert(key.clone(), entries.len());
                            entries.push((key, Entry::Blocks(vec![b])));
                        }
                        (None, Some(prefix_len)) => {
                            index.insert(key.clone(), entries.len());
                            entries.push((
                                key,
                                Entry::Enum {
                                    prefix_len,
                                    blocks: vec![b],
                                },
                            ));
                        }
                        (Some(Entry::Blocks(v)), None) => v.push(b),
                        (Some(Entry::Enum { blocks, .. }), Some(_)) => blocks.push(b),
                        (Some(Entry::Attr(_)), _) => self.ctx.record(
                            b.span,
                            format!("{:?} must be an attribute, but is used as a block", b.name),
                        ),
                        (Some(_), _) => {
                            self.unknown(b.span, format!("unrecognized block name {:?}", b.name))
                        }
                    }
                }
            }
        }
        entries
    }

    fn map_entries(&self) -> Vec<(String, Entry<'a>)> {
        if let Some(b) = self.block {
            if b.label.as_deref().is_some_and(|l| !l.is_empty()) {
                self.ctx
                    .record(b.span, format!("block {:?} requires empty label", b.name));
            }
        }
        let mut entries: Vec<(String, Entry<'a>)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for item in &self.body.items {
            match item {
                BodyItem::Attr(a) => {
                    if index.contains_key(&a.name) {
                        self.ctx.record(
                            a.name_span,
                            format!("attribute {:?} may only be provided once", a.name),
                        );
                        continue;
                    }
                    index.insert(a.name.clone(), entries.len());
                    entries.push((a.name.clone(), Entry::MapAttr(a)));
                }
                BodyItem::Block(b) => match index.get(&b.name).map(|i| &mut entries[*i].1) {
                    Some(Entry::Blocks(v)) => v.push(b),
                    Some(_) => self.ctx.record(
                        b.span,
                        format!("{:?} must be an attribute, but is used as a block", b.name),
                    ),
                    None => {
                        index.insert(b.name.clone(), entries.len());
                        entries.push((b.name.clone(), Entry::Blocks(vec![b])));
                    }
                },
            }
        }
        entries
    }
}

/// For a block `a.b.c` not known by its full name, the longest known dotted prefix (`a.b`, then
/// `a`): the field holding a list of enum variants.
fn enum_prefix<'n>(name: &'n str, known: &dyn Fn(&str) -> bool) -> Option<&'n str> {
    let mut end = name.len();
    while let Some(dot) = name[..end].rfind('.') {
        if known(&name[..dot]) {
            return Some(&name[..dot]);
        }
        end = dot;
    }
    None
}

enum Entry<'a> {
    Attr(&'a AttrValue),
    /// An attribute of a body decoded as a map (its value may be anything).
    MapAttr(&'a AttrValue),
    Blocks(Vec<&'a BlockValue>),
    Enum {
        prefix_len: usize,
        blocks: Vec<&'a BlockValue>,
    },
    Label(String),
    /// A stand-in for a missing field while probing its kind.
    Probe,
}

struct BodyAccess<'a> {
    entries: std::vec::IntoIter<(String, Entry<'a>)>,
    pending: Option<Entry<'a>>,
    ctx: &'a Ctx,
}

impl<'de> MapAccess<'de> for BodyAccess<'de> {
    type Error = DecodeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> R<Option<K::Value>> {
        match self.entries.next() {
            None => Ok(None),
            Some((key, entry)) => {
                self.pending = Some(entry);
                let de: de::value::StringDeserializer<DecodeError> = key.into_deserializer();
                seed.deserialize(de).map(Some)
            }
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> R<S::Value> {
        let ctx = self.ctx;
        match self.pending.take() {
            Some(Entry::Attr(a)) => seed.deserialize(ValueDe::attr(a, ctx)),
            Some(Entry::MapAttr(a)) => {
                seed.deserialize(ValueDe::root(&a.value, a.value_span, &a.name, ctx))
            }
            Some(Entry::Blocks(blocks)) => seed.deserialize(BlockGroupDe { blocks, ctx }),
            Some(Entry::Enum { prefix_len, blocks }) => seed.deserialize(EnumGroupDe {
                blocks,
                prefix_len,
                ctx,
            }),
            Some(Entry::Probe) => seed.deserialize(super::probe::ProbeDe { ctx }),
            Some(Entry::Label(l)) => {
                let de: de::value::StringDeserializer<DecodeError> = l.into_deserializer();
                seed.deserialize(de)
            }
            None => Err(DecodeError::new("value requested before key")),
        }
    }
}

macro_rules! forward_misuse {
    ($($m:ident),*) => {$(
        fn $m<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
            self.misuse();
            NullDe.$m(v)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for BodyDe<'de> {
    type Error = DecodeError;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> R<V::Value> {
        let mut entries = self.struct_entries(fields);
        let span = self.span();
        if let Some((probe_span, field)) = &self.ctx.probe {
            if *probe_span == span && !entries.iter().any(|(k, _)| k == field) {
                entries.push((field.clone(), Entry::Probe));
            }
        }
        let access = BodyAccess {
            entries: entries.into_iter(),
            pending: None,
            ctx: self.ctx,
        };
        v.visit_map(access).map_err(|e| self.ctx.abort(e, span))
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        let entries = self.map_entries();
        let span = self.span();
        let access = BodyAccess {
            entries: entries.into_iter(),
            pending: None,
            ctx: self.ctx,
        };
        v.visit_map(access).map_err(|e| self.ctx.abort(e, span))
    }

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        self.deserialize_map(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, v: V) -> R<V::Value> {
        if name.starts_with("$solder::") {
            self.misuse();
            return NullDe.deserialize_newtype_struct(name, v);
        }
        v.visit_newtype_struct(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        self.expect_empty();
        v.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _n: &'static str, v: V) -> R<V::Value> {
        self.expect_empty();
        v.visit_unit()
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_unit()
    }

    forward_misuse!(
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_seq,
        deserialize_identifier
    );

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, v: V) -> R<V::Value> {
        self.misuse();
        NullDe.deserialize_tuple(len, v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        v: V,
    ) -> R<V::Value> {
        self.misuse();
        NullDe.deserialize_tuple_struct(name, len, v)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> R<V::Value> {
        self.misuse();
        NullDe.deserialize_enum(name, variants, v)
    }
}

/// Every block of one name: a sequence for `Vec` fields, otherwise exactly one.
struct BlockGroupDe<'a> {
    blocks: Vec<&'a BlockValue>,
    ctx: &'a Ctx,
}

impl<'a> BlockGroupDe<'a> {
    fn single(self) -> BodyDe<'a> {
        if let Some(second) = self.blocks.get(1) {
            self.ctx.record(
                second.span,
                format!("block {:?} may only be specified once", second.name),
            );
        }
        // A group always holds at least one block; the fallback keeps this total.
        match self.blocks.first() {
            Some(b) => BodyDe::block(b, self.ctx),
            None => unreachable_group(self.ctx),
        }
    }
}

/// An empty body standing in for a group that cannot be empty (keeps the code panic-free).
fn unreachable_group(ctx: &Ctx) -> BodyDe<'_> {
    static EMPTY: BodyValue = BodyValue {
        items: Vec::new(),
        span: Span {
            file: crate::span::FileId(0),
            lo: 0,
            hi: 0,
        },
    };
    BodyDe::top(&EMPTY, ctx)
}

macro_rules! forward_single {
    ($($m:ident),*) => {$(
        fn $m<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
            self.single().$m(v)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for BlockGroupDe<'de> {
    type Error = DecodeError;

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        let ctx = self.ctx;
        let items: Vec<BodyDe<'de>> = self
            .blocks
            .into_iter()
            .map(|b| BodyDe::block(b, ctx))
            .collect();
        v.visit_seq(de::value::SeqDeserializer::new(items.into_iter()))
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, v: V) -> R<V::Value> {
        self.single().deserialize_newtype_struct(name, v)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> R<V::Value> {
        self.single().deserialize_struct(name, fields, v)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, name: &'static str, v: V) -> R<V::Value> {
        self.single().deserialize_unit_struct(name, v)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, v: V) -> R<V::Value> {
        self.single().deserialize_tuple(len, v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        v: V,
    ) -> R<V::Value> {
        self.single().deserialize_tuple_struct(name, len, v)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> R<V::Value> {
        self.single().deserialize_enum(name, variants, v)
    }

    forward_single!(
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_unit,
        deserialize_map,
        deserialize_identifier,
        deserialize_ignored_any
    );
}

impl<'de> IntoDeserializer<'de, DecodeError> for BodyDe<'de> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

/// The blocks `prefix.<kind>` of one enum-block field, in source order.
struct EnumGroupDe<'a> {
    blocks: Vec<&'a BlockValue>,
    prefix_len: usize,
    ctx: &'a Ctx,
}

impl<'a> EnumGroupDe<'a> {
    fn unrecognized(&self) {
        for b in &self.blocks {
            self.ctx
                .record(b.span, format!("unrecognized block name {:?}", b.name));
        }
    }
}

macro_rules! forward_unrecognized {
    ($($m:ident),*) => {$(
        fn $m<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
            self.unrecognized();
            NullDe.$m(v)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for EnumGroupDe<'de> {
    type Error = DecodeError;

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        let (ctx, prefix_len) = (self.ctx, self.prefix_len);
        let items: Vec<EnumBlockDe<'de>> = self
            .blocks
            .into_iter()
            .map(|block| EnumBlockDe {
                block,
                prefix_len,
                ctx,
            })
            .collect();
        v.visit_seq(de::value::SeqDeserializer::new(items.into_iter()))
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, v: V) -> R<V::Value> {
        if name.starts_with("$solder::") {
            self.unrecognized();
            return NullDe.deserialize_newtype_struct(name, v);
        }
        v.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> R<V::Value> {
        if let Some(second) = self.blocks.get(1) {
            self.ctx.record(
                second.span,
                format!("block {:?} may only be specified once", second.name),
            );
        }
        match self.blocks.first() {
            Some(block) => EnumBlockDe {
                block,
                prefix_len: self.prefix_len,
                ctx: self.ctx,
            }
            .deserialize_enum(name, variants, v),
            None => NullDe.deserialize_enum(name, variants, v),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> R<V::Value> {
        self.unrecognized();
        NullDe.deserialize_struct(name, fields, v)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, name: &'static str, v: V) -> R<V::Value> {
        self.unrecognized();
        NullDe.deserialize_unit_struct(name, v)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, v: V) -> R<V::Value> {
        self.unrecognized();
        NullDe.deserialize_tuple(len, v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        v: V,
    ) -> R<V::Value> {
        self.unrecognized();
        NullDe.deserialize_tuple_struct(name, len, v)
    }

    forward_unrecognized!(
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_unit,
        deserialize_map,
        deserialize_identifier,
        deserialize_ignored_any
    );
}

/// One `prefix.kind { … }` block decoded as the enum variant `kind`.
struct EnumBlockDe<'a> {
    block: &'a BlockValue,
    prefix_len: usize,
    ctx: &'a Ctx,
}

impl<'a> EnumBlockDe<'a> {
    fn kind(&self) -> &'a str {
        self.block.name.get(self.prefix_len + 1..).unwrap_or("")
    }
}

impl<'de> IntoDeserializer<'de, DecodeError> for EnumBlockDe<'de> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> de::Deserializer<'de> for EnumBlockDe<'de> {
    type Error = DecodeError;

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> R<V::Value> {
        let mut kind = self.kind();
        if !variants.contains(&kind) {
            self.ctx.record(
                self.block.span,
                format!("unrecognized block name {:?}", self.block.name),
            );
            // Decoding continues with any variant so later errors are found too; the result is
            // discarded because an error was recorded.
            match variants.first() {
                Some(first) => kind = first,
                None => return Err(DecodeError::aborted()),
            }
        }
        let span = self.block.span;
        let ctx = self.ctx;
        v.visit_enum(EnumBlockAccess {
            kind,
            block: self.block,
            ctx,
        })
        .map_err(|e| ctx.abort(e, span))
    }

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        BodyDe::block(self.block, self.ctx).deserialize_any(v)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

struct EnumBlockAccess<'a> {
    kind: &'a str,
    block: &'a BlockValue,
    ctx: &'a Ctx,
}

impl<'de> de::EnumAccess<'de> for EnumBlockAccess<'de> {
    type Error = DecodeError;
    type Variant = Self;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> R<(S::Value, Self)> {
        let de: de::value::StrDeserializer<DecodeError> = self.kind.into_deserializer();
        let v = seed.deserialize(de)?;
        Ok((v, self))
    }
}

impl<'de> de::VariantAccess<'de> for EnumBlockAccess<'de> {
    type Error = DecodeError;

    fn unit_variant(self) -> R<()> {
        BodyDe::block(self.block, self.ctx).expect_empty();
        Ok(())
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> R<S::Value> {
        seed.deserialize(BodyDe::block(self.block, self.ctx))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, v: V) -> R<V::Value> {
        de::Deserializer::deserialize_tuple(BodyDe::block(self.block, self.ctx), len, v)
    }

    fn struct_variant<V: Visitor<'de>>(self, fields: &'static [&'static str], v: V) -> R<V::Value> {
        de::Deserializer::deserialize_struct(BodyDe::block(self.block, self.ctx), "", fields, v)
    }
}
