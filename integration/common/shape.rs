//! Comparing JSON by shape, for differential checks against runc: the same
//! keys with values of the same kind, whatever the values are (pids, times
//! and paths differ between two runs).

use serde_json::{Map, Value};

/// `value` with every leaf replaced by the name of its kind ("string",
/// "number", "bool", "null"); objects and arrays keep their structure
/// (an array is reduced to the shape of its first element).
pub fn json_shape(value: &Value) -> Value {
    match value {
        Value::Null => Value::from("null"),
        Value::Bool(_) => Value::from("bool"),
        Value::Number(_) => Value::from("number"),
        Value::String(_) => Value::from("string"),
        Value::Array(items) => Value::Array(items.first().map(json_shape).into_iter().collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), json_shape(v)))
                .collect::<Map<String, Value>>(),
        ),
    }
}
