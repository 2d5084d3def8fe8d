//! Encoding values in the little-endian D-Bus wire format.
//!
//! Offsets are counted from the start of the buffer, which must be the start
//! of the message or of its body (the body starts on an 8-byte boundary, so
//! alignment is the same either way).

use super::signature::alignment;
use super::value::Value;
use anyhow::{bail, Result};

/// The longest array the spec allows (64 MiB).
const MAX_ARRAY_LEN: usize = 1 << 26;

#[derive(Default)]
pub struct Encoder {
    pub buf: Vec<u8>,
}

impl Encoder {
    pub fn new() -> Self {
        Encoder::default()
    }

    /// Pad with zero bytes to a multiple of `n`.
    pub fn align(&mut self, n: usize) {
        while self.buf.len() % n != 0 {
            self.buf.push(0);
        }
    }

    fn put_u32(&mut self, n: u32) {
        self.align(4);
        self.buf.extend_from_slice(&n.to_le_bytes());
    }

    /// `s`/`o`: u32 length, bytes, NUL. `g`: u8 length, bytes, NUL.
    fn put_string(&mut self, s: &str, short_length: bool) -> Result<()> {
        if s.contains('\0') {
            bail!("D-Bus strings cannot contain NUL bytes: {s:?}");
        }
        if short_length {
            let Ok(len) = u8::try_from(s.len()) else {
                bail!("signature {s:?} is longer than 255 bytes");
            };
            self.buf.push(len);
        } else {
            self.put_u32(s.len() as u32);
        }
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
        Ok(())
    }

    /// Append `value`, aligned as its type requires.
    pub fn put(&mut self, value: &Value) -> Result<()> {
        match value {
            Value::Byte(b) => self.buf.push(*b),
            Value::Bool(b) => self.put_u32(u32::from(*b)),
            Value::Int16(n) => {
                self.align(2);
                self.buf.extend_from_slice(&n.to_le_bytes());
            }
            Value::Uint16(n) => {
                self.align(2);
                self.buf.extend_from_slice(&n.to_le_bytes());
            }
            Value::Int32(n) => {
                self.align(4);
                self.buf.extend_from_slice(&n.to_le_bytes());
            }
            Value::Uint32(n) => self.put_u32(*n),
            Value::Int64(n) => {
                self.align(8);
                self.buf.extend_from_slice(&n.to_le_bytes());
            }
            Value::Uint64(n) => {
                self.align(8);
                self.buf.extend_from_slice(&n.to_le_bytes());
            }
            Value::Double(d) => {
                self.align(8);
                self.buf.extend_from_slice(&d.to_bits().to_le_bytes());
            }
            Value::Str(s) | Value::ObjectPath(s) => self.put_string(s, false)?,
            Value::Signature(s) => self.put_string(s, true)?,
            Value::Array(element, items) => {
                self.put_u32(0); // the length, patched below
                let length_at = self.buf.len() - 4;
                // The padding to the first element is not part of the length,
                // and is there even when the array is empty.
                self.align(alignment(
                    element.as_bytes().first().copied().unwrap_or(b'y'),
                ));
                let start = self.buf.len();
                for item in items {
                    self.put(item)?;
                }
                let len = self.buf.len() - start;
                if len > MAX_ARRAY_LEN {
                    bail!("D-Bus array of {len} bytes is longer than 64 MiB");
                }
                self.buf[length_at..length_at + 4].copy_from_slice(&(len as u32).to_le_bytes());
            }
            Value::Struct(fields) => {
                self.align(8);
                for field in fields {
                    self.put(field)?;
                }
            }
            Value::DictEntry(key, val) => {
                self.align(8);
                self.put(key)?;
                self.put(val)?;
            }
            Value::Variant(inner) => {
                self.put_string(&inner.signature(), true)?;
                self.put(inner)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(values: &[Value]) -> Vec<u8> {
        let mut e = Encoder::new();
        for v in values {
            e.put(v).unwrap();
        }
        e.buf
    }

    #[test]
    fn basic_types_are_little_endian_and_aligned() {
        // y then u: 3 bytes of padding before the u32 (spec: align to 4).
        assert_eq!(
            encode(&[Value::Byte(7), Value::Uint32(0x01020304)]),
            vec![7, 0, 0, 0, 4, 3, 2, 1]
        );
        // y then t: padded to 8.
        assert_eq!(
            encode(&[Value::Byte(1), Value::Uint64(2)]),
            vec![1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]
        );
        // b is a u32 0/1; n and q are 2 bytes aligned to 2.
        assert_eq!(
            encode(&[Value::Bool(true), Value::Byte(9), Value::Int16(-2)]),
            vec![1, 0, 0, 0, 9, 0, 0xfe, 0xff]
        );
        assert_eq!(
            encode(&[Value::Double(1.0)]),
            1.0f64.to_bits().to_le_bytes().to_vec()
        );
    }

    #[test]
    fn strings_paths_and_signatures() {
        assert_eq!(encode(&[Value::str("ab")]), vec![2, 0, 0, 0, b'a', b'b', 0]);
        assert_eq!(
            encode(&[Value::ObjectPath("/".into())]),
            vec![1, 0, 0, 0, b'/', 0]
        );
        // g has a one-byte length and no alignment.
        assert_eq!(
            encode(&[Value::Signature("su".into())]),
            vec![2, b's', b'u', 0]
        );
        let mut e = Encoder::new();
        assert!(e.put(&Value::str("a\0b")).is_err());
    }

    #[test]
    fn array_length_excludes_padding_before_the_first_element() {
        // "at" with one element: length 8, then 4 bytes of padding to reach
        // offset 8, then the element.
        assert_eq!(
            encode(&[Value::array("t", vec![Value::Uint64(5)])]),
            vec![8, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0]
        );
        // An empty array of structs still pads to 8, length 0.
        assert_eq!(
            encode(&[Value::array("(sv)", vec![])]),
            vec![0, 0, 0, 0, 0, 0, 0, 0]
        );
        // au: no padding.
        assert_eq!(
            encode(&[Value::array("u", vec![Value::Uint32(1), Value::Uint32(2)])]),
            vec![8, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0]
        );
    }

    #[test]
    fn array_of_structs_with_variants() {
        // a(sv) holding ("A", <uint32 1>), ("B", <true>):
        let props = Value::array(
            "(sv)",
            vec![
                Value::Struct(vec![Value::str("A"), Value::variant(Value::Uint32(1))]),
                Value::Struct(vec![Value::str("B"), Value::variant(Value::Bool(true))]),
            ],
        );
        #[rustfmt::skip]
        let want = vec![
            32, 0, 0, 0,             // array length (bytes 8..40)
            0, 0, 0, 0,              // pad to 8
            1, 0, 0, 0, b'A', 0,     // s "A" (offset 8)
            1, b'u', 0,              // v: signature "u" (offset 14)
            0, 0, 0,                 // pad from 17 to 20
            1, 0, 0, 0,              // u 1 (offset 20); ends at 24, already 8-aligned
            1, 0, 0, 0, b'B', 0,     // s "B" (offset 24)
            1, b'b', 0,              // v: signature "b" (offset 30)
            0, 0, 0,                 // pad from 33 to 36
            1, 0, 0, 0,              // b true (offset 36)
        ];
        assert_eq!(encode(&[props]), want);
    }

    #[test]
    fn variant_of_array_and_dict_entries() {
        // v holding "au" [7]: sig "au", pad to 4, length 4, element.
        assert_eq!(
            encode(&[Value::variant(Value::array("u", vec![Value::Uint32(7)]))]),
            vec![2, b'a', b'u', 0, 4, 0, 0, 0, 7, 0, 0, 0]
        );
        // a{sy} {"k": 3}: length, pad to 8, entry.
        let dict = Value::array(
            "{sy}",
            vec![Value::DictEntry(
                Box::new(Value::str("k")),
                Box::new(Value::Byte(3)),
            )],
        );
        assert_eq!(
            encode(&[dict]),
            vec![7, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, b'k', 0, 3]
        );
    }
}
