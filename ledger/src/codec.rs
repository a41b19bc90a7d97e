//! The canonical binary codec: the one encoding of everything the ledger
//! hashes or signs.
//!
//! It is written out by hand so that every byte is specified here and
//! nowhere else:
//!
//! * integers (`u8`, `u16`, `u32`, `u64`) are fixed width, little-endian;
//! * fixed-size byte arrays (hashes, keys, signatures) are their bytes, no
//!   length;
//! * variable-length byte strings are `u32_le(length) ‖ bytes`, and every
//!   field has its own maximum length, checked by the encoder and the
//!   decoder;
//! * sequences are `u32_le(count) ‖ element…`, with a maximum count per field;
//! * enums are a `u8` tag followed by the variant's fields;
//! * a top-level value ([`encode_versioned`]) starts with one byte,
//!   [`CODEC_VERSION`], and must be followed by nothing.
//!
//! Decoding is strict: a value has exactly one encoding, so a truncated
//! input, a length over its field's limit, an unknown tag, an unknown version
//! and trailing bytes are all errors, each naming the field it was reading.
//! Nothing is allocated before the length that asks for it has been checked
//! against its limit and against the bytes actually left.

/// Version byte that starts every top-level encoded value.
pub const CODEC_VERSION: u8 = 1;

/// Why bytes do not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended inside a field.
    #[error("`{field}` needs {needed} bytes but only {remaining} remain")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Bytes the field needs.
        needed: u64,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// A length or count is over its field's limit.
    #[error("`{field}` has length {found}, the limit is {max}")]
    TooLong {
        /// The field being read.
        field: &'static str,
        /// The field's limit.
        max: usize,
        /// The length the input claims.
        found: u64,
    },
    /// An enum tag no variant has.
    #[error("`{field}` has unknown tag {tag}")]
    UnknownTag {
        /// The field being read.
        field: &'static str,
        /// The tag found.
        tag: u8,
    },
    /// A top-level value of a version this build does not read.
    #[error("encoding version {found} is not supported; this build reads version {expected}")]
    UnsupportedVersion {
        /// [`CODEC_VERSION`].
        expected: u8,
        /// The version byte found.
        found: u8,
    },
    /// Bytes left over after a complete value.
    #[error("{count} trailing bytes after a complete value")]
    TrailingBytes {
        /// How many bytes are left over.
        count: usize,
    },
    /// The whole input is longer than any value of this type may be.
    #[error("input is {found} bytes, the limit is {max}")]
    InputTooLarge {
        /// The limit for this type.
        max: usize,
        /// The input's length.
        found: usize,
    },
    /// A field's bytes are well-formed but not a valid value.
    #[error("`{field}` is invalid: {reason}")]
    Invalid {
        /// The field being read.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// Why a value cannot be encoded: one of its fields is over its limit, so
/// no decoder would accept the bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` has length {found}, the limit is {max}")]
pub struct EncodeError {
    /// The field over its limit.
    pub field: &'static str,
    /// The field's limit.
    pub max: usize,
    /// Its length.
    pub found: usize,
}

/// A value with a canonical encoding.
pub trait Encode {
    /// Appends the value's encoding to `w`.
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError>;
}

/// A value that can be read back from its canonical encoding.
pub trait Decode: Sized {
    /// Reads one value from `r`.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
}

/// `CODEC_VERSION ‖ encoding(value)`.
pub fn encode_versioned<T: Encode>(value: &T) -> Result<Vec<u8>, EncodeError> {
    let mut w = Writer::new();
    w.u8(CODEC_VERSION);
    value.encode(&mut w)?;
    Ok(w.into_bytes())
}

/// Reads a value written by [`encode_versioned`]; `max_len` bounds the whole
/// input, and nothing may follow the value.
pub fn decode_versioned<T: Decode>(bytes: &[u8], max_len: usize) -> Result<T, DecodeError> {
    if bytes.len() > max_len {
        return Err(DecodeError::InputTooLarge {
            max: max_len,
            found: bytes.len(),
        });
    }
    let mut r = Reader::new(bytes);
    let version = r.u8("version")?;
    if version != CODEC_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            expected: CODEC_VERSION,
            found: version,
        });
    }
    let value = T::decode(&mut r)?;
    r.finish()?;
    Ok(value)
}

/// Appends canonical encodings to a buffer.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// The bytes written so far.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// One byte.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// Two bytes, little-endian.
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Four bytes, little-endian.
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Eight bytes, little-endian.
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Bytes of a fixed-size field, without a length.
    pub fn fixed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// `u32_le(len) ‖ bytes`, refusing more than `max` bytes.
    pub fn bytes(
        &mut self,
        field: &'static str,
        max: usize,
        bytes: &[u8],
    ) -> Result<(), EncodeError> {
        self.len(field, max, bytes.len())?;
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    /// `u32_le(count) ‖ encoding(item)…`, refusing more than `max` items.
    pub fn seq<T: Encode>(
        &mut self,
        field: &'static str,
        max: usize,
        items: &[T],
    ) -> Result<(), EncodeError> {
        self.len(field, max, items.len())?;
        items.iter().try_for_each(|item| item.encode(self))
    }

    /// A `u32_le` length, refusing more than `max` (and so more than `u32::MAX`).
    fn len(&mut self, field: &'static str, max: usize, found: usize) -> Result<(), EncodeError> {
        let too_long = EncodeError { field, max, found };
        if found > max {
            return Err(too_long);
        }
        self.u32(u32::try_from(found).map_err(|_| too_long)?);
        Ok(())
    }
}

/// Reads canonical encodings from a byte slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// Fails unless every byte has been read.
    pub fn finish(self) -> Result<(), DecodeError> {
        match self.rest.len() {
            0 => Ok(()),
            count => Err(DecodeError::TrailingBytes { count }),
        }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, field: &'static str, n: usize) -> Result<&'a [u8], DecodeError> {
        let (head, tail) = self
            .rest
            .split_at_checked(n)
            .ok_or(DecodeError::Truncated {
                field,
                needed: n as u64,
                remaining: self.rest.len(),
            })?;
        self.rest = tail;
        Ok(head)
    }

    /// A fixed-size field.
    pub fn fixed<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(field, N)?);
        Ok(out)
    }

    /// One byte.
    pub fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(u8::from_le_bytes(self.fixed(field)?))
    }

    /// Two bytes, little-endian.
    pub fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.fixed(field)?))
    }

    /// Four bytes, little-endian.
    pub fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.fixed(field)?))
    }

    /// Eight bytes, little-endian.
    pub fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.fixed(field)?))
    }

    /// A length-prefixed byte string of at most `max` bytes.
    pub fn bytes(&mut self, field: &'static str, max: usize) -> Result<&'a [u8], DecodeError> {
        let len = self.len(field, max)?;
        self.take(field, len)
    }

    /// A sequence of at most `max` items; `min_item_len` (the smallest
    /// encoding an item can have) lets an impossible count fail before any
    /// allocation.
    pub fn seq<T: Decode>(
        &mut self,
        field: &'static str,
        max: usize,
        min_item_len: usize,
    ) -> Result<Vec<T>, DecodeError> {
        let count = self.len(field, max)?;
        let needed = count.saturating_mul(min_item_len);
        if needed > self.rest.len() {
            return Err(DecodeError::Truncated {
                field,
                needed: needed as u64,
                remaining: self.rest.len(),
            });
        }
        (0..count).map(|_| T::decode(self)).collect()
    }

    /// A `u32_le` length or count of at most `max`.
    fn len(&mut self, field: &'static str, max: usize) -> Result<usize, DecodeError> {
        let found = self.u32(field)?;
        match usize::try_from(found) {
            Ok(len) if len <= max => Ok(len),
            _ => Err(DecodeError::TooLong {
                field,
                max,
                found: u64::from(found),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_little_endian() {
        let mut w = Writer::new();
        w.u8(1);
        w.u16(0x0302);
        w.u32(0x0706_0504);
        w.u64(0x0f0e_0d0c_0b0a_0908);
        let bytes = w.into_bytes();
        assert_eq!(bytes, (1..=15).collect::<Vec<u8>>());
        let mut r = Reader::new(&bytes);
        assert_eq!(r.u8("a").unwrap(), 1);
        assert_eq!(r.u16("b").unwrap(), 0x0302);
        assert_eq!(r.u32("c").unwrap(), 0x0706_0504);
        assert_eq!(r.u64("d").unwrap(), 0x0f0e_0d0c_0b0a_0908);
        r.finish().unwrap();
    }

    #[test]
    fn byte_strings_are_length_prefixed_and_bounded() {
        let mut w = Writer::new();
        w.bytes("s", 3, b"abc").unwrap();
        assert_eq!(w.clone().into_bytes(), b"\x03\0\0\0abc");
        assert_eq!(
            w.bytes("s", 2, b"abc"),
            Err(EncodeError {
                field: "s",
                max: 2,
                found: 3
            })
        );
        let bytes = w.into_bytes();
        assert_eq!(Reader::new(&bytes).bytes("s", 3).unwrap(), b"abc");
        assert_eq!(
            Reader::new(&bytes).bytes("s", 2),
            Err(DecodeError::TooLong {
                field: "s",
                max: 2,
                found: 3
            })
        );
        assert_eq!(
            Reader::new(&bytes[..5]).bytes("s", 3),
            Err(DecodeError::Truncated {
                field: "s",
                needed: 3,
                remaining: 1
            })
        );
    }

    #[test]
    fn a_huge_count_fails_before_allocating() {
        #[derive(Debug)]
        struct Item;
        impl Decode for Item {
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                r.u64("item").map(|_| Item)
            }
        }
        let bytes = 1000u32.to_le_bytes();
        let err = Reader::new(&bytes)
            .seq::<Item>("items", 1000, 8)
            .unwrap_err();
        assert_eq!(
            err,
            DecodeError::Truncated {
                field: "items",
                needed: 8000,
                remaining: 0
            }
        );
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut r = Reader::new(&[1, 2, 3]);
        r.u8("x").unwrap();
        assert_eq!(r.finish(), Err(DecodeError::TrailingBytes { count: 2 }));
    }
}
