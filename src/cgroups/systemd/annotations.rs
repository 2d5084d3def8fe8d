//! `org.systemd.property.NAME` annotations: extra unit properties, as runc
//! accepts them. The value is GVariant text (what `busctl`/`gdbus` print);
//! this supports the subset that unit properties use:
//!
//! - `true`, `false`;
//! - numbers: a plain integer is an int32 and a number with `.`/`e` a double
//!   (GVariant's defaults), or typed with a keyword (`uint64 100`, `int64 -1`,
//!   `byte 1`, `uint32 5`, ...) or `@t 100`;
//! - strings in `'...'` or `"..."` (with backslash escapes), optionally typed
//!   (`objectpath '/x'`, `@o '/x'`, `@g 's'`);
//! - arrays `[a, b]` of one type, `@as []` for an empty one.
//!
//! As in runc, a name ending in `Sec` after a lowercase letter
//! (`TimeoutStopSec`) is converted to its `USec` property: the number is
//! seconds, sent as uint64 microseconds. Anything else is rejected with an
//! error naming the annotation.

use crate::dbus::Value;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;

pub const PREFIX: &str = "org.systemd.property.";

/// The unit properties given by the config's annotations, sorted by name
/// so the result does not depend on the map's order.
pub fn properties_from_annotations(
    annotations: &HashMap<String, String>,
) -> Result<Vec<(String, Value)>> {
    let mut keys: Vec<&String> = annotations
        .keys()
        .filter(|k| k.starts_with(PREFIX))
        .collect();
    keys.sort();
    let mut properties = Vec::new();
    for key in keys {
        let text = &annotations[key];
        let property = property_from_annotation(&key[PREFIX.len()..], text)
            .with_context(|| format!("annotations[{key:?}] = {text:?}"))?;
        properties.push(property);
    }
    Ok(properties)
}

fn property_from_annotation(name: &str, text: &str) -> Result<(String, Value)> {
    check_property_name(name)?;
    let value = parse_gvariant(text)?;
    if let Some(stem) = name.strip_suffix("Sec") {
        if stem.ends_with(|c: char| c.is_ascii_lowercase()) {
            return Ok((format!("{stem}USec"), seconds_to_usec(&value)?));
        }
    }
    Ok((name.to_string(), value))
}

/// runc's rule: at least three characters, ASCII letters only.
fn check_property_name(name: &str) -> Result<()> {
    if name.len() < 3 {
        bail!("property name {name:?} is too short");
    }
    if !name.bytes().all(|b| b.is_ascii_alphabetic()) {
        bail!("property name {name:?} must be ASCII letters only");
    }
    Ok(())
}

/// A number of seconds as uint64 microseconds (doubles rounded).
fn seconds_to_usec(value: &Value) -> Result<Value> {
    const M: f64 = 1_000_000.0;
    let seconds: i128 = match value {
        Value::Byte(n) => i128::from(*n),
        Value::Int16(n) => i128::from(*n),
        Value::Uint16(n) => i128::from(*n),
        Value::Int32(n) => i128::from(*n),
        Value::Uint32(n) => i128::from(*n),
        Value::Int64(n) => i128::from(*n),
        Value::Uint64(n) => i128::from(*n),
        Value::Double(d) => {
            let usec = (d * M).round();
            if !(0.0..=u64::MAX as f64).contains(&usec) {
                bail!("{d} seconds is out of range");
            }
            return Ok(Value::Uint64(usec as u64));
        }
        _ => bail!("a *Sec property needs a number of seconds"),
    };
    match u64::try_from(seconds * 1_000_000) {
        Ok(usec) => Ok(Value::Uint64(usec)),
        Err(_) => bail!("{seconds} seconds is out of range"),
    }
}

/// Parse one GVariant text value (the subset in this module's doc).
pub fn parse_gvariant(text: &str) -> Result<Value> {
    let mut p = Parser { s: text, at: 0 };
    let value = p.value(None)?;
    p.skip_spaces();
    if p.at != p.s.len() {
        bail!("unexpected {:?} after the value", &p.s[p.at..]);
    }
    Ok(value)
}

struct Parser<'a> {
    s: &'a str,
    at: usize,
}

/// GVariant's type keywords and the type each gives.
const KEYWORDS: &[(&str, &str)] = &[
    ("boolean", "b"),
    ("byte", "y"),
    ("int16", "n"),
    ("uint16", "q"),
    ("int32", "i"),
    ("uint32", "u"),
    ("int64", "x"),
    ("uint64", "t"),
    ("double", "d"),
    ("string", "s"),
    ("objectpath", "o"),
    ("signature", "g"),
];

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.at..]
    }

    fn skip_spaces(&mut self) {
        let rest = self.rest();
        self.at += rest.len() - rest.trim_start().len();
    }

    /// A value, of type `want` when the context fixes it.
    fn value(&mut self, want: Option<&str>) -> Result<Value> {
        self.skip_spaces();
        if let Some(rest) = self.rest().strip_prefix('@') {
            let len = rest
                .find(char::is_whitespace)
                .ok_or_else(|| anyhow::anyhow!("'@TYPE' must be followed by a value"))?;
            let t = rest[..len].to_string();
            self.at += 1 + len;
            return self.value(Some(&t));
        }
        for (keyword, t) in KEYWORDS {
            let rest = self.rest();
            if rest.starts_with(keyword) && rest[keyword.len()..].starts_with(char::is_whitespace) {
                self.at += keyword.len();
                return self.value(Some(t));
            }
        }
        let rest = self.rest();
        if rest.starts_with('[') {
            return self.array(want);
        }
        if rest.starts_with('\'') || rest.starts_with('"') {
            let s = self.string()?;
            return match want.unwrap_or("s") {
                "s" => Ok(Value::Str(s)),
                "o" => Ok(Value::ObjectPath(s)),
                "g" => Ok(Value::Signature(s)),
                t => bail!("a string cannot be of type {t:?}"),
            };
        }
        let token_len = rest
            .find(|c: char| c == ',' || c == ']' || c.is_whitespace())
            .unwrap_or(rest.len());
        let token = &rest[..token_len];
        if token.is_empty() {
            bail!("missing value at {rest:?}");
        }
        self.at += token_len;
        scalar(token, want)
    }

    fn array(&mut self, want: Option<&str>) -> Result<Value> {
        let element_type = match want {
            Some(t) => match t.strip_prefix('a') {
                Some(e) => Some(e.to_string()),
                None => bail!("an array cannot be of type {t:?}"),
            },
            None => None,
        };
        self.at += 1; // '['
        let mut items: Vec<Value> = Vec::new();
        loop {
            self.skip_spaces();
            if self.rest().starts_with(']') {
                self.at += 1;
                break;
            }
            if !items.is_empty() {
                if !self.rest().starts_with(',') {
                    bail!("expected ',' or ']' at {:?}", self.rest());
                }
                self.at += 1;
            }
            // Later elements take the first one's type ([uint64 1, 2]).
            let first_type = items.first().map(Value::signature);
            let t = element_type.clone().or(first_type);
            items.push(self.value(t.as_deref())?);
        }
        let element = match (element_type, items.first()) {
            (Some(t), _) => t,
            (None, Some(first)) => first.signature(),
            (None, None) => bail!("an empty array needs a type, e.g. '@as []'"),
        };
        Ok(Value::Array(element, items))
    }

    /// A quoted string with backslash escapes.
    fn string(&mut self) -> Result<String> {
        let mut chars = self.rest().char_indices();
        let Some((_, quote)) = chars.next() else {
            bail!("missing string");
        };
        let mut out = String::new();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, 't')) => out.push('\t'),
                    Some((_, other)) => out.push(other),
                    None => break,
                },
                c if c == quote => {
                    self.at += i + 1;
                    return Ok(out);
                }
                c => out.push(c),
            }
        }
        bail!("unterminated string")
    }
}

/// A bare token: a boolean or a number, of type `want` if given.
fn scalar(token: &str, want: Option<&str>) -> Result<Value> {
    let t = match want {
        Some(t) => t,
        None if token == "true" || token == "false" => "b",
        None if token.contains(['.', 'e', 'E']) && !token.starts_with("0x") => "d",
        None => "i",
    };
    let int = || -> Result<i128> {
        let (negative, digits) = match token.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, token),
        };
        let n = match digits.strip_prefix("0x") {
            Some(hex) => i128::from_str_radix(hex, 16),
            None => digits.parse::<i128>(),
        }
        .with_context(|| format!("{token:?} is not a number"))?;
        Ok(if negative { -n } else { n })
    };
    let out_of_range = || anyhow::anyhow!("{token} is out of range for type {t:?}");
    Ok(match t {
        "b" => match token {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => bail!("{token:?} is not a boolean (true or false)"),
        },
        "y" => Value::Byte(u8::try_from(int()?).map_err(|_| out_of_range())?),
        "n" => Value::Int16(i16::try_from(int()?).map_err(|_| out_of_range())?),
        "q" => Value::Uint16(u16::try_from(int()?).map_err(|_| out_of_range())?),
        "i" => Value::Int32(i32::try_from(int()?).map_err(|_| out_of_range())?),
        "u" => Value::Uint32(u32::try_from(int()?).map_err(|_| out_of_range())?),
        "x" => Value::Int64(i64::try_from(int()?).map_err(|_| out_of_range())?),
        "t" => Value::Uint64(u64::try_from(int()?).map_err(|_| out_of_range())?),
        "d" => Value::Double(
            token
                .parse::<f64>()
                .with_context(|| format!("{token:?} is not a number"))?,
        ),
        t => bail!("{token:?} cannot be read as type {t:?} (supported: booleans, numbers, strings, arrays)"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Value {
        parse_gvariant(text).unwrap_or_else(|e| panic!("{text}: {e:#}"))
    }

    #[test]
    fn gvariant_defaults_and_typed_numbers() {
        assert_eq!(parse("true"), Value::Bool(true));
        assert_eq!(parse(" false "), Value::Bool(false));
        assert_eq!(parse("42"), Value::Int32(42));
        assert_eq!(parse("-1"), Value::Int32(-1));
        assert_eq!(parse("1.5"), Value::Double(1.5));
        assert_eq!(parse("uint64 100"), Value::Uint64(100));
        assert_eq!(parse("@t 100"), Value::Uint64(100));
        assert_eq!(parse("uint32 0x10"), Value::Uint32(16));
        assert_eq!(parse("byte 255"), Value::Byte(255));
        assert_eq!(parse("int64 -5"), Value::Int64(-5));
    }

    #[test]
    fn strings_and_arrays() {
        assert_eq!(
            parse("'inactive-or-failed'"),
            Value::str("inactive-or-failed")
        );
        assert_eq!(parse(r#""a \"b\"""#), Value::str("a \"b\""));
        assert_eq!(parse("@o '/x'"), Value::ObjectPath("/x".into()));
        assert_eq!(
            parse("['a', 'b']"),
            Value::array("s", vec![Value::str("a"), Value::str("b")])
        );
        assert_eq!(
            parse("[uint64 1, 2]"),
            Value::array("t", vec![Value::Uint64(1), Value::Uint64(2)])
        );
        assert_eq!(parse("@as []"), Value::array("s", vec![]));
    }

    #[test]
    fn unsupported_or_malformed_text_is_an_error() {
        for bad in [
            "",
            "yes",
            "'open",
            "[]",
            "[1, 'a']",
            "byte 256",
            "uint64 -1",
            "int32 9999999999",
            "(1, 2)",
            "{'a': 1}",
            "1 2",
            "@t",
            "<1>",
        ] {
            assert!(parse_gvariant(bad).is_err(), "{bad:?} parsed");
        }
    }

    fn annotations(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn sec_properties_become_usec_like_runc() {
        let props = properties_from_annotations(&annotations(&[
            ("org.systemd.property.TimeoutStopSec", "7"),
            ("org.systemd.property.RuntimeMaxSec", "1.5"),
            ("org.systemd.property.CollectMode", "'inactive-or-failed'"),
            ("org.systemd.property.CPUQuotaPerSecUSec", "uint64 500000"),
            ("org.systemd.property.DefaultDependenciesSec", "uint64 1"),
            ("com.example.other", "ignored"),
        ]))
        .unwrap();
        assert_eq!(
            props,
            vec![
                ("CPUQuotaPerSecUSec".to_string(), Value::Uint64(500_000)),
                ("CollectMode".to_string(), Value::str("inactive-or-failed")),
                (
                    "DefaultDependenciesUSec".to_string(),
                    Value::Uint64(1_000_000)
                ),
                ("RuntimeMaxUSec".to_string(), Value::Uint64(1_500_000)),
                ("TimeoutStopUSec".to_string(), Value::Uint64(7_000_000)),
            ]
        );
    }

    #[test]
    fn errors_name_the_annotation() {
        for (key, value) in [
            ("org.systemd.property.TimeoutStopSec", "'x'"),
            ("org.systemd.property.TimeoutStopSec", "-1"),
            ("org.systemd.property.Foo", "(1,2)"),
            ("org.systemd.property.A1b", "1"),
            ("org.systemd.property.Ab", "1"),
        ] {
            let err = properties_from_annotations(&annotations(&[(key, value)])).unwrap_err();
            assert!(format!("{err:#}").contains(key), "{key}={value}: {err:#}");
        }
    }
}
