//! Decoding little-endian D-Bus wire data, driven by a signature.
//! Every length is checked against the data: a malformed message from the
//! bus is an error, never a panic.

use super::signature::{alignment, split};
use super::value::Value;
use anyhow::{bail, Context, Result};

pub struct Decoder<'a> {
    data: &'a [u8],
    pub pos: usize,
    /// Variant nesting, bounded so hostile input cannot recurse forever.
    depth: usize,
}

impl<'a> Decoder<'a> {
    /// Decode `data`, whose offset 0 is 8-aligned in the message.
    pub fn new(data: &'a [u8]) -> Self {
        Decoder {
            data,
            pos: 0,
            depth: 0,
        }
    }

    pub fn align(&mut self, n: usize) -> Result<()> {
        let padded = self.pos.div_ceil(n) * n;
        if padded > self.data.len() {
            bail!("D-Bus data ends inside padding");
        }
        if self.data[self.pos..padded].iter().any(|&b| b != 0) {
            bail!("D-Bus padding is not zero at offset {}", self.pos);
        }
        self.pos = padded;
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            bail!(
                "D-Bus data ends early (need {n} bytes at offset {})",
                self.pos
            );
        };
        let bytes = &self.data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N]> {
        self.align(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.fixed::<4>()?))
    }

    fn string(&mut self, short_length: bool) -> Result<String> {
        let len = if short_length {
            usize::from(self.take(1)?[0])
        } else {
            self.u32()? as usize
        };
        let bytes = self.take(len)?;
        if self.take(1)? != [0] {
            bail!("D-Bus string is not NUL-terminated");
        }
        String::from_utf8(bytes.to_vec()).context("D-Bus string is not UTF-8")
    }

    /// Decode every value of the signature `signature`, in order.
    pub fn values(&mut self, signature: &str) -> Result<Vec<Value>> {
        split(signature)?
            .into_iter()
            .map(|t| self.value(t))
            .collect()
    }

    /// Decode one value of the single complete type `t`.
    pub fn value(&mut self, t: &str) -> Result<Value> {
        let code = t.as_bytes().first().copied().unwrap_or(0);
        Ok(match code {
            b'y' => Value::Byte(self.take(1)?[0]),
            b'b' => match self.u32()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                n => bail!("D-Bus boolean holds {n}"),
            },
            b'n' => Value::Int16(i16::from_le_bytes(self.fixed()?)),
            b'q' => Value::Uint16(u16::from_le_bytes(self.fixed()?)),
            b'i' => Value::Int32(i32::from_le_bytes(self.fixed()?)),
            b'u' => Value::Uint32(self.u32()?),
            b'x' => Value::Int64(i64::from_le_bytes(self.fixed()?)),
            b't' => Value::Uint64(u64::from_le_bytes(self.fixed()?)),
            b'd' => Value::Double(f64::from_bits(u64::from_le_bytes(self.fixed()?))),
            b's' => Value::Str(self.string(false)?),
            b'o' => Value::ObjectPath(self.string(false)?),
            b'g' => Value::Signature(self.string(true)?),
            b'a' => {
                let element = &t[1..];
                let len = self.u32()? as usize;
                self.align(alignment(element.as_bytes()[0]))?;
                let end = self.pos.checked_add(len).filter(|&e| e <= self.data.len());
                let Some(end) = end else {
                    bail!("D-Bus array of {len} bytes runs past the data");
                };
                let mut items = Vec::new();
                while self.pos < end {
                    items.push(self.value(element)?);
                }
                if self.pos != end {
                    bail!("D-Bus array elements overrun the array length");
                }
                Value::Array(element.to_string(), items)
            }
            b'(' => {
                self.align(8)?;
                let fields = split(&t[1..t.len() - 1])?
                    .into_iter()
                    .map(|f| self.value(f))
                    .collect::<Result<Vec<_>>>()?;
                Value::Struct(fields)
            }
            b'{' => {
                self.align(8)?;
                let key = self.value(&t[1..2])?;
                let val = self.value(&t[2..t.len() - 1])?;
                Value::DictEntry(Box::new(key), Box::new(val))
            }
            b'v' => {
                let signature = self.string(true)?;
                let types = split(&signature)?;
                if types.len() != 1 {
                    bail!("D-Bus variant signature {signature:?} is not one type");
                }
                self.depth += 1;
                if self.depth > 64 {
                    bail!("D-Bus variants nest too deeply");
                }
                let inner = self.value(types[0]);
                self.depth -= 1;
                Value::variant(inner?)
            }
            _ => bail!("unsupported D-Bus type {t:?}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::marshal::Encoder;
    use super::*;

    fn round_trip(values: Vec<Value>) {
        let signature: String = values.iter().map(Value::signature).collect();
        let mut e = Encoder::new();
        for v in &values {
            e.put(v).unwrap();
        }
        let mut d = Decoder::new(&e.buf);
        assert_eq!(d.values(&signature).unwrap(), values);
        assert_eq!(d.pos, e.buf.len());
    }

    #[test]
    fn every_type_round_trips() {
        round_trip(vec![
            Value::Byte(1),
            Value::Bool(false),
            Value::Int16(-3),
            Value::Uint16(4),
            Value::Int32(-5),
            Value::Uint32(6),
            Value::Int64(-7),
            Value::Uint64(u64::MAX),
            Value::Double(0.5),
            Value::str("unit.scope"),
            Value::ObjectPath("/org/freedesktop/systemd1/job/42".into()),
            Value::Signature("a(sv)".into()),
            Value::array(
                "(sv)",
                vec![Value::Struct(vec![
                    Value::str("AllowedCPUs"),
                    Value::variant(Value::array("y", vec![Value::Byte(3)])),
                ])],
            ),
            Value::array("(sa(sv))", vec![]),
            Value::array(
                "{sv}",
                vec![Value::DictEntry(
                    Box::new(Value::str("k")),
                    Box::new(Value::variant(Value::Int64(1))),
                )],
            ),
        ]);
    }

    #[test]
    fn decodes_spec_derived_bytes() {
        // (uoss) as in systemd's JobRemoved signal: u 7, o "/j", s "x", s "done".
        #[rustfmt::skip]
        let bytes = [
            7, 0, 0, 0,
            2, 0, 0, 0, b'/', b'j', 0, 0,
            1, 0, 0, 0, b'x', 0, 0, 0,
            4, 0, 0, 0, b'd', b'o', b'n', b'e', 0,
        ];
        let values = Decoder::new(&bytes).values("uoss").unwrap();
        assert_eq!(
            values,
            vec![
                Value::Uint32(7),
                Value::ObjectPath("/j".into()),
                Value::str("x"),
                Value::str("done"),
            ]
        );
    }

    #[test]
    fn malformed_data_is_an_error() {
        for (bytes, sig) in [
            (vec![5u8, 0, 0, 0, b'a'], "s"),        // string runs past the end
            (vec![1, 0, 0, 0, b'a', 1], "s"),       // no NUL
            (vec![2, 0, 0, 0], "b"),                // boolean 2
            (vec![100, 0, 0, 0, 0, 0, 0, 0], "at"), // array past the end
            (vec![1, b'z', 0], "v"),                // unknown variant type
            (vec![1, 1, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0], "yt"), // non-zero padding
            (vec![5, 0, 0, 0, 1, 0, 0, 0, 0], "au"), // element overruns
        ] {
            assert!(Decoder::new(&bytes).values(sig).is_err(), "{sig} {bytes:?}");
        }
    }
}
