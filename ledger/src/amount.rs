//! Amounts of the native currency: an integer number of base units, with
//! 9 decimals (1 sherd = 1,000,000,000 base units).
//!
//! Text form: digits, optionally `.` and 1 to 9 more digits: `12.5`,
//! `0.000000001`, `18446744073.709551615` (the maximum). Printing gives the
//! shortest such form (`12.5`, `12`), and parsing it gives the same amount
//! back. Rejected with a reason: the empty string, a sign, any other
//! character (spaces, `_`, exponents), a missing integer or fraction part
//! (`.5`, `5.`), more than 9 decimals, and values above `u64::MAX` base
//! units. In the canonical codec an amount is `u64_le(base units)`.

use std::{fmt, str::FromStr};

use crate::codec::{Decode, DecodeError, Encode, EncodeError, Reader, Writer};

/// Decimal places of the text form.
pub const DECIMALS: u32 = 9;

/// Base units in one whole unit.
pub const BASE_UNITS_PER_UNIT: u64 = 1_000_000_000;

/// An amount in base units.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct Amount(pub u64);

impl Amount {
    /// Nothing.
    pub const ZERO: Self = Self(0);
    /// The largest amount.
    pub const MAX: Self = Self(u64::MAX);

    /// `base_units` base units.
    pub const fn from_base_units(base_units: u64) -> Self {
        Self(base_units)
    }

    /// The amount in base units.
    pub const fn base_units(self) -> u64 {
        self.0
    }

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0.checked_add(other.0).map(Self)
    }

    /// `self - other`, or `None` if `other` is larger.
    pub fn checked_sub(self, other: Self) -> Option<Self> {
        self.0.checked_sub(other.0).map(Self)
    }

    /// Whether the amount is zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / BASE_UNITS_PER_UNIT;
        let frac = self.0 % BASE_UNITS_PER_UNIT;
        if frac == 0 {
            return write!(f, "{whole}");
        }
        let digits = format!("{frac:09}");
        write!(f, "{whole}.{}", digits.trim_end_matches('0'))
    }
}

/// Why a string is not an amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseAmountError {
    /// Nothing to parse.
    #[error("an amount cannot be empty")]
    Empty,
    /// A leading `-` (or `+`).
    #[error("`{input}`: an amount has no sign, write digits only")]
    Signed {
        /// The input.
        input: String,
    },
    /// A character that is neither a digit nor the one `.`.
    #[error("`{input}`: unexpected character {found:?} at position {position}")]
    InvalidChar {
        /// The input.
        input: String,
        /// The character.
        found: char,
        /// Its byte offset.
        position: usize,
    },
    /// `.5` or `5.`.
    #[error("`{input}`: write digits on both sides of the `.`, e.g. 0.5 or 5")]
    MissingDigits {
        /// The input.
        input: String,
    },
    /// More than [`DECIMALS`] digits after the `.`.
    #[error("`{input}` has {found} decimals, at most {DECIMALS} are allowed")]
    TooManyDecimals {
        /// The input.
        input: String,
        /// Decimals found.
        found: usize,
    },
    /// More than `u64::MAX` base units.
    #[error("`{input}` is larger than the maximum amount {}", Amount::MAX)]
    Overflow {
        /// The input.
        input: String,
    },
}

impl FromStr for Amount {
    type Err = ParseAmountError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let input = || s.to_owned();
        if s.is_empty() {
            return Err(ParseAmountError::Empty);
        }
        if s.starts_with(['-', '+']) {
            return Err(ParseAmountError::Signed { input: input() });
        }
        let (whole, frac) = match s.split_once('.') {
            Some((whole, frac)) => (whole, Some(frac)),
            None => (s, None),
        };
        // Any character but digits and the first `.` is an error, with its position.
        let mut dot_seen = false;
        for (position, found) in s.char_indices() {
            let ok = found.is_ascii_digit() || (found == '.' && !dot_seen);
            dot_seen |= found == '.';
            if !ok {
                return Err(ParseAmountError::InvalidChar {
                    input: input(),
                    found,
                    position,
                });
            }
        }
        if whole.is_empty() || frac.is_some_and(str::is_empty) {
            return Err(ParseAmountError::MissingDigits { input: input() });
        }
        let frac = frac.unwrap_or("");
        if frac.len() > DECIMALS as usize {
            return Err(ParseAmountError::TooManyDecimals {
                input: input(),
                found: frac.len(),
            });
        }
        let overflow = || ParseAmountError::Overflow { input: input() };
        // Digits only from here on, so the only parse failure is overflow.
        let whole: u64 = whole.parse().map_err(|_| overflow())?;
        let frac_units: u64 = format!("{frac:0<9}").parse().map_err(|_| overflow())?;
        whole
            .checked_mul(BASE_UNITS_PER_UNIT)
            .and_then(|w| w.checked_add(frac_units))
            .map(Self)
            .ok_or_else(overflow)
    }
}

impl Encode for Amount {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.u64(self.0);
        Ok(())
    }
}

impl Decode for Amount {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u64("amount").map(Self)
    }
}

impl serde::Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn parse(s: &str) -> Result<u64, ParseAmountError> {
        s.parse::<Amount>().map(Amount::base_units)
    }

    #[test]
    fn parses_and_prints_exactly() {
        for (text, units, printed) in [
            ("12.5", 12_500_000_000, "12.5"),
            ("12", 12_000_000_000, "12"),
            ("12.50", 12_500_000_000, "12.5"),
            ("0", 0, "0"),
            ("0.000000001", 1, "0.000000001"),
            ("007.1", 7_100_000_000, "7.1"),
            ("18446744073.709551615", u64::MAX, "18446744073.709551615"),
        ] {
            assert_eq!(parse(text), Ok(units), "{text}");
            assert_eq!(Amount(units).to_string(), printed);
        }
    }

    #[test]
    fn rejects_bad_text_with_the_reason() {
        use ParseAmountError::*;
        assert_eq!(parse(""), Err(Empty));
        assert!(matches!(parse("-1"), Err(Signed { .. })));
        assert!(matches!(parse("+1"), Err(Signed { .. })));
        assert!(matches!(
            parse("1.0000000001"),
            Err(TooManyDecimals { found: 10, .. })
        ));
        assert!(matches!(
            parse("18446744073.709551616"),
            Err(Overflow { .. })
        ));
        assert!(matches!(
            parse("99999999999999999999999"),
            Err(Overflow { .. })
        ));
        assert!(matches!(parse(".5"), Err(MissingDigits { .. })));
        assert!(matches!(parse("5."), Err(MissingDigits { .. })));
        assert!(matches!(
            parse("1.2.3"),
            Err(InvalidChar {
                found: '.',
                position: 3,
                ..
            })
        ));
        assert!(matches!(
            parse(" 1"),
            Err(InvalidChar {
                found: ' ',
                position: 0,
                ..
            })
        ));
        assert!(matches!(
            parse("1e9"),
            Err(InvalidChar {
                found: 'e',
                position: 1,
                ..
            })
        ));
        assert!(matches!(
            parse("1_000"),
            Err(InvalidChar { found: '_', .. })
        ));
        assert!(matches!(parse("١"), Err(InvalidChar { .. })));
    }

    proptest! {
        #[test]
        fn print_then_parse_is_identity(units in any::<u64>()) {
            prop_assert_eq!(Amount(units).to_string().parse::<Amount>(), Ok(Amount(units)));
        }

        #[test]
        fn parse_never_panics(s in "[-+0-9._ a-z]{0,30}") {
            let _ = s.parse::<Amount>();
        }
    }
}
