//! Where sampling information travels: the span's W3C `tracestate` (`ot=rv:…;th:…`) or a log
//! record's `sampling.randomness` / `sampling.threshold` attributes.

use super::sampling::{Randomness, Threshold};
use crate::processor::attributes::value::{as_string, get, put, string};
use opentelemetry_proto::tonic::common::v1::{any_value::Value as V, KeyValue};

/// The sampling fields of one item, plus what must be kept around them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Carrier {
    pub rv: Option<Randomness>,
    pub th: Option<Threshold>,
    /// Other `ot` sub-keys (traces only), in order.
    ot_extra: Vec<(String, String)>,
    /// Other tracestate members, verbatim, in order (traces only).
    others: Vec<String>,
}

impl Carrier {
    /// `UpdateTValueWithSampling`: the threshold may only rise (probability only fall);
    /// `NEVER` clears it.
    pub fn update_threshold(&mut self, th: Threshold) {
        if th.tvalue().is_empty() {
            self.th = None;
            return;
        }
        if self.th.is_some_and(|old| old > th) {
            return;
        }
        self.th = Some(th);
    }

    /// Parse a W3C tracestate; an error for a malformed `ot` member.
    pub fn from_tracestate(raw: &str) -> Result<Carrier, String> {
        let mut c = Carrier::default();
        for member in raw.split(',').map(str::trim).filter(|m| !m.is_empty()) {
            let Some((key, value)) = member.split_once('=') else {
                return Err(format!("invalid tracestate member {member:?}"));
            };
            if key != "ot" {
                c.others.push(member.to_string());
                continue;
            }
            for field in value.split(';').filter(|f| !f.is_empty()) {
                let Some((k, v)) = field.split_once(':') else {
                    return Err(format!("invalid OTel tracestate field {field:?}"));
                };
                match k {
                    "rv" => {
                        c.rv = Some(
                            Randomness::parse(v)
                                .ok_or_else(|| format!("invalid rv value {v:?}"))?,
                        )
                    }
                    "th" => {
                        c.th = Some(
                            Threshold::parse(v).ok_or_else(|| format!("invalid th value {v:?}"))?,
                        )
                    }
                    _ => c.ot_extra.push((k.to_string(), v.to_string())),
                }
            }
        }
        Ok(c)
    }

    /// `ot` first (rv, th, then other sub-keys), then the other members, as the contrib
    /// serializer writes it.
    pub fn to_tracestate(&self) -> String {
        let mut ot = Vec::new();
        if let Some(rv) = self.rv {
            ot.push(format!("rv:{}", rv.rvalue()));
        }
        if let Some(th) = self.th {
            ot.push(format!("th:{}", th.tvalue()));
        }
        ot.extend(self.ot_extra.iter().map(|(k, v)| format!("{k}:{v}")));
        let mut members = Vec::new();
        if !ot.is_empty() {
            members.push(format!("ot={}", ot.join(";")));
        }
        members.extend(self.others.iter().cloned());
        members.join(",")
    }

    /// Read `sampling.randomness` / `sampling.threshold` from log attributes.
    pub fn from_log_attributes(attrs: &[KeyValue]) -> Result<Carrier, String> {
        let mut c = Carrier::default();
        if let Some(v) = get(attrs, "sampling.randomness") {
            let s = as_string(v);
            c.rv = Some(
                Randomness::parse(&s)
                    .ok_or_else(|| format!("invalid sampling.randomness {s:?}"))?,
            );
        }
        if let Some(v) = get(attrs, "sampling.threshold") {
            let s = as_string(v);
            c.th = Some(
                Threshold::parse(&s).ok_or_else(|| format!("invalid sampling.threshold {s:?}"))?,
            );
        }
        Ok(c)
    }

    /// Write the fields back as log attributes (a cleared threshold removes the attribute).
    pub fn to_log_attributes(&self, attrs: &mut Vec<KeyValue>) {
        if let Some(rv) = self.rv {
            put(attrs, "sampling.randomness", string(rv.rvalue()));
        }
        match self.th {
            Some(th) => put(attrs, "sampling.threshold", string(th.tvalue())),
            None => attrs.retain(|kv| kv.key != "sampling.threshold"),
        }
    }
}

/// The bytes a `from_attribute` value is hashed as.
pub fn value_bytes(attrs: &[KeyValue], key: &str) -> Option<Vec<u8>> {
    let v = get(attrs, key)?;
    Some(match &v.value {
        Some(V::BytesValue(b)) => b.clone(),
        Some(V::StringValue(s)) => s.as_bytes().to_vec(),
        _ => as_string(v).into_bytes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracestate_round_trip_puts_ot_first() {
        let c = Carrier::from_tracestate("vendor=x, ot=th:8;p:3 ,other=y").unwrap();
        assert_eq!(c.th, Threshold::parse("8"));
        assert_eq!(c.to_tracestate(), "ot=th:8;p:3,vendor=x,other=y");
        let mut c = Carrier::from_tracestate("").unwrap();
        c.rv = Some(Randomness(0x1234));
        c.update_threshold(Threshold(14746 << 42));
        assert_eq!(c.to_tracestate(), "ot=rv:00000000001234;th:e668");
        assert!(Carrier::from_tracestate("ot=rv:zz").is_err());
    }

    #[test]
    fn threshold_only_rises() {
        let mut c = Carrier {
            th: Threshold::parse("c"),
            ..Default::default()
        };
        c.update_threshold(Threshold::parse("8").unwrap());
        assert_eq!(c.th, Threshold::parse("c"));
        c.update_threshold(Threshold::parse("e").unwrap());
        assert_eq!(c.th, Threshold::parse("e"));
    }
}
