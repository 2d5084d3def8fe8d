//! D-Bus values and their type signatures.

use anyhow::{bail, Result};

/// One D-Bus value of a type this client supports.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Byte(u8),
    Bool(bool),
    Int16(i16),
    Uint16(u16),
    Int32(i32),
    Uint32(u32),
    Int64(i64),
    Uint64(u64),
    Double(f64),
    Str(String),
    ObjectPath(String),
    Signature(String),
    /// An array: the element signature is kept so an empty array has a type.
    Array(String, Vec<Value>),
    Struct(Vec<Value>),
    /// A dictionary entry `{kv}`; only valid as an array element.
    DictEntry(Box<Value>, Box<Value>),
    Variant(Box<Value>),
}

impl Value {
    /// An array of `elements`, all of type `element_signature`.
    pub fn array(element_signature: &str, elements: Vec<Value>) -> Value {
        Value::Array(element_signature.to_string(), elements)
    }

    pub fn variant(inner: Value) -> Value {
        Value::Variant(Box::new(inner))
    }

    pub fn str(s: &str) -> Value {
        Value::Str(s.to_string())
    }

    /// The value's type signature (`a(sv)`, `u`, ...).
    pub fn signature(&self) -> String {
        match self {
            Value::Byte(_) => "y".into(),
            Value::Bool(_) => "b".into(),
            Value::Int16(_) => "n".into(),
            Value::Uint16(_) => "q".into(),
            Value::Int32(_) => "i".into(),
            Value::Uint32(_) => "u".into(),
            Value::Int64(_) => "x".into(),
            Value::Uint64(_) => "t".into(),
            Value::Double(_) => "d".into(),
            Value::Str(_) => "s".into(),
            Value::ObjectPath(_) => "o".into(),
            Value::Signature(_) => "g".into(),
            Value::Array(element, _) => format!("a{element}"),
            Value::Struct(fields) => {
                let inner: String = fields.iter().map(Value::signature).collect();
                format!("({inner})")
            }
            Value::DictEntry(k, v) => format!("{{{}{}}}", k.signature(), v.signature()),
            Value::Variant(_) => "v".into(),
        }
    }

    /// The string inside `s`, `o` or `g`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::ObjectPath(s) | Value::Signature(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_u32(&self) -> Option<u32> {
        match self {
            Value::Uint32(n) => Some(*n),
            _ => None,
        }
    }
}

/// The signature of a message body: its values' signatures, concatenated.
pub fn body_signature(body: &[Value]) -> String {
    body.iter().map(Value::signature).collect()
}

/// Check that every array's elements match its declared element signature,
/// so a wrong-typed array is reported here rather than by the peer.
pub fn check_types(value: &Value) -> Result<()> {
    match value {
        Value::Array(element, items) => {
            for item in items {
                if item.signature() != *element {
                    bail!(
                        "array of {element:?} holds a value of type {:?}",
                        item.signature()
                    );
                }
                check_types(item)?;
            }
        }
        Value::Struct(fields) => {
            if fields.is_empty() {
                bail!("empty structs are not allowed in D-Bus");
            }
            fields.iter().try_for_each(check_types)?;
        }
        Value::DictEntry(k, v) => {
            check_types(k)?;
            check_types(v)?;
        }
        Value::Variant(inner) => check_types(inner)?,
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_of_nested_values() {
        let prop = Value::Struct(vec![
            Value::str("PIDs"),
            Value::variant(Value::array("u", vec![Value::Uint32(1)])),
        ]);
        assert_eq!(prop.signature(), "(sv)");
        assert_eq!(Value::array("(sv)", vec![prop]).signature(), "a(sv)");
        let entry = Value::DictEntry(
            Box::new(Value::str("k")),
            Box::new(Value::variant(Value::Bool(true))),
        );
        assert_eq!(Value::array("{sv}", vec![entry]).signature(), "a{sv}");
    }

    #[test]
    fn mismatched_array_elements_are_rejected() {
        let bad = Value::array("u", vec![Value::Uint32(1), Value::Uint64(2)]);
        assert!(check_types(&bad).is_err());
        assert!(check_types(&Value::Struct(vec![])).is_err());
        assert!(check_types(&Value::array("t", vec![Value::Uint64(2)])).is_ok());
    }
}
