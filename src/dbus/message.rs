//! D-Bus messages: the fixed header, the header fields and the body.

use super::marshal::Encoder;
use super::unmarshal::Decoder;
use super::value::{body_signature, check_types, Value};
use anyhow::{bail, Context, Result};

/// The longest message the spec allows (128 MiB).
pub const MAX_MESSAGE_LEN: usize = 1 << 27;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    MethodCall = 1,
    MethodReturn = 2,
    Error = 3,
    Signal = 4,
}

/// Header field codes (spec: "Header Fields").
mod field {
    pub const PATH: u8 = 1;
    pub const INTERFACE: u8 = 2;
    pub const MEMBER: u8 = 3;
    pub const ERROR_NAME: u8 = 4;
    pub const REPLY_SERIAL: u8 = 5;
    pub const DESTINATION: u8 = 6;
    pub const SENDER: u8 = 7;
    pub const SIGNATURE: u8 = 8;
    pub const UNIX_FDS: u8 = 9;
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub kind: MessageType,
    pub flags: u8,
    pub serial: u32,
    pub path: Option<String>,
    pub interface: Option<String>,
    pub member: Option<String>,
    pub error_name: Option<String>,
    pub reply_serial: Option<u32>,
    pub destination: Option<String>,
    pub sender: Option<String>,
    pub body: Vec<Value>,
}

impl Message {
    /// A method call with no body yet.
    pub fn method_call(destination: &str, path: &str, interface: &str, member: &str) -> Self {
        Message {
            kind: MessageType::MethodCall,
            flags: 0,
            serial: 0,
            path: Some(path.into()),
            interface: Some(interface.into()),
            member: Some(member.into()),
            error_name: None,
            reply_serial: None,
            destination: Some(destination.into()),
            sender: None,
            body: Vec::new(),
        }
    }

    /// The message in wire format, little-endian.
    pub fn encode(&self) -> Result<Vec<u8>> {
        for v in &self.body {
            check_types(v)?;
        }
        let mut body = Encoder::new();
        for v in &self.body {
            body.put(v)?;
        }
        let signature = body_signature(&self.body);

        let mut fields = Vec::new();
        let mut add = |code: u8, value: Value| {
            fields.push(Value::Struct(vec![
                Value::Byte(code),
                Value::variant(value),
            ]));
        };
        if let Some(p) = &self.path {
            add(field::PATH, Value::ObjectPath(p.clone()));
        }
        if let Some(i) = &self.interface {
            add(field::INTERFACE, Value::Str(i.clone()));
        }
        if let Some(m) = &self.member {
            add(field::MEMBER, Value::Str(m.clone()));
        }
        if let Some(e) = &self.error_name {
            add(field::ERROR_NAME, Value::Str(e.clone()));
        }
        if let Some(r) = self.reply_serial {
            add(field::REPLY_SERIAL, Value::Uint32(r));
        }
        if let Some(d) = &self.destination {
            add(field::DESTINATION, Value::Str(d.clone()));
        }
        if let Some(s) = &self.sender {
            add(field::SENDER, Value::Str(s.clone()));
        }
        if !signature.is_empty() {
            add(field::SIGNATURE, Value::Signature(signature));
        }

        let mut out = Encoder::new();
        out.buf
            .extend_from_slice(&[b'l', self.kind as u8, self.flags, 1]);
        out.buf
            .extend_from_slice(&(body.buf.len() as u32).to_le_bytes());
        out.buf.extend_from_slice(&self.serial.to_le_bytes());
        out.put(&Value::array("(yv)", fields))?;
        out.align(8); // the body starts on an 8-byte boundary
        out.buf.extend_from_slice(&body.buf);
        if out.buf.len() > MAX_MESSAGE_LEN {
            bail!("D-Bus message of {} bytes is too long", out.buf.len());
        }
        Ok(out.buf)
    }

    /// The total length of the message whose first 16 bytes are `fixed`.
    pub fn total_len(fixed: &[u8; 16]) -> Result<usize> {
        if fixed[0] != b'l' {
            bail!("D-Bus message is not little-endian (this client only reads 'l')");
        }
        let body = u32::from_le_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]) as usize;
        let fields = u32::from_le_bytes([fixed[12], fixed[13], fixed[14], fixed[15]]) as usize;
        let total = (16 + fields).div_ceil(8) * 8 + body;
        if total > MAX_MESSAGE_LEN {
            bail!("D-Bus message of {total} bytes is too long");
        }
        Ok(total)
    }

    /// Parse one whole message.
    pub fn decode(data: &[u8]) -> Result<Message> {
        let Some(fixed) = data.get(..16) else {
            bail!("D-Bus message shorter than its header");
        };
        let mut header = [0u8; 16];
        header.copy_from_slice(fixed);
        if Message::total_len(&header)? != data.len() {
            bail!("D-Bus message length does not match its header");
        }
        let kind = match data[1] {
            1 => MessageType::MethodCall,
            2 => MessageType::MethodReturn,
            3 => MessageType::Error,
            4 => MessageType::Signal,
            other => bail!("unknown D-Bus message type {other}"),
        };
        if data[3] != 1 {
            bail!("D-Bus protocol version {} is not 1", data[3]);
        }
        let body_len = u32::from_le_bytes([data[4], data[5], data[6], data[7]]) as usize;
        let serial = u32::from_le_bytes([data[8], data[9], data[10], data[11]]);
        let mut message = Message {
            kind,
            flags: data[2],
            serial,
            path: None,
            interface: None,
            member: None,
            error_name: None,
            reply_serial: None,
            destination: None,
            sender: None,
            body: Vec::new(),
        };

        let mut d = Decoder::new(data);
        d.pos = 12;
        let Value::Array(_, fields) = d.value("a(yv)")? else {
            bail!("D-Bus header fields are not an array");
        };
        let mut signature = String::new();
        for f in fields {
            let Value::Struct(parts) = f else { continue };
            let [Value::Byte(code), Value::Variant(value)] = &parts[..] else {
                continue;
            };
            let text = || value.as_str().map(str::to_string);
            match *code {
                field::PATH => message.path = text(),
                field::INTERFACE => message.interface = text(),
                field::MEMBER => message.member = text(),
                field::ERROR_NAME => message.error_name = text(),
                field::REPLY_SERIAL => message.reply_serial = value.as_u32(),
                field::DESTINATION => message.destination = text(),
                field::SENDER => message.sender = text(),
                field::SIGNATURE => signature = text().unwrap_or_default(),
                field::UNIX_FDS if value.as_u32().is_some_and(|n| n > 0) => {
                    bail!("D-Bus message carries Unix fds, which this client does not accept");
                }
                _ => {} // the spec says to ignore unknown fields
            }
        }
        d.align(8)?;
        let body_start = d.pos;
        let body = &data[body_start..];
        if body.len() != body_len {
            bail!("D-Bus message body length does not match its header");
        }
        let mut b = Decoder::new(body);
        message.body = b
            .values(&signature)
            .with_context(|| format!("decoding a D-Bus body of signature {signature:?}"))?;
        if b.pos != body.len() {
            bail!("D-Bus message body is longer than its signature {signature:?}");
        }
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_call_matches_the_spec_layout() {
        let mut m = Message::method_call(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "Hello",
        );
        m.serial = 1;
        let bytes = m.encode().unwrap();
        // Fixed header: 'l', METHOD_CALL, no flags, version 1, body 0, serial 1.
        assert_eq!(&bytes[..12], &[b'l', 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0]);
        // First field: code 1 (PATH), variant "o", at offset 16 after the
        // array length; a struct starts 8-aligned.
        assert_eq!(&bytes[16..20], &[1, 1, b'o', 0]);
        let fields_len = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]) as usize;
        // No body: the message ends at the header padded to 8.
        assert_eq!(bytes.len(), (16 + fields_len).div_ceil(8) * 8);
        assert_eq!(Message::decode(&bytes).unwrap(), m);
    }

    #[test]
    fn body_and_signature_round_trip() {
        let mut m = Message::method_call("d.e", "/a/b", "i.f", "M");
        m.serial = 9;
        m.body = vec![
            Value::str("x.scope"),
            Value::array(
                "(sv)",
                vec![Value::Struct(vec![
                    Value::str("PIDs"),
                    Value::variant(Value::array("u", vec![Value::Uint32(3)])),
                ])],
            ),
        ];
        let bytes = m.encode().unwrap();
        assert_eq!(bytes.len() % 8, 0, "body ends here on an 8-byte boundary");
        let back = Message::decode(&bytes).unwrap();
        assert_eq!(back, m);
        let mut fixed = [0u8; 16];
        fixed.copy_from_slice(&bytes[..16]);
        assert_eq!(Message::total_len(&fixed).unwrap(), bytes.len());
    }

    #[test]
    fn truncated_or_big_endian_messages_are_rejected() {
        let m = Message::method_call("d.e", "/", "i.f", "M");
        let bytes = m.encode().unwrap();
        assert!(Message::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut big = bytes.clone();
        big[0] = b'B';
        assert!(Message::decode(&big).is_err());
    }
}
