//! Exact decimal numbers: BSON Decimal128 values and JSON integers too large for 64 bits.
//!
//! A [`Decimal`] is a coefficient (any number of decimal digits) times a power of ten, with a sign, or one of
//! the specials NaN and ±Infinity. Trailing zeros are kept (`1.50` stays `1.50`), as Decimal128 does. Text
//! follows the BSON Decimal128 to-string rules (plain notation, or scientific when the exponent is positive
//! or the number is very small), so `19.99` round-trips through BSON as `19.99`.
//!
//! # Why not a decimal crate
//!
//! Written here rather than taken from a decimal crate (or the `bson` crate's `Decimal128`, which only
//! parses and prints) because [`Value`] needs, in one type: **any number of digits and a 64-bit
//! exponent** (a JSON integer of any length, `1e400`), which fixed-precision decimal types (28 or 34
//! digits, small exponents) cannot hold; **trailing zeros and the exponent kept** (`1.50` is not `1.5`
//! in Decimal128); **NaN and ±Infinity** (Decimal128 has them); **exact comparison** with integers and
//! floats ([`Decimal::cmp_value`], behind the pattern matcher's numeric comparisons); and the
//! **Decimal128 BID encoding**, refusing rather than rounding what does not fit. Digits are stored as
//! text, which suits values that are compared and transported, not computed with: there is no
//! arithmetic.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::value::Value;

/// An exact decimal number.
#[derive(Clone, Debug)]
pub struct Decimal {
    negative: bool,
    kind: Special,
    /// Coefficient digits without leading zeros (`"0"` for zero). Empty for NaN and infinity.
    digits: String,
    exponent: i64,
    /// The canonical text, computed once.
    text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Special {
    Finite,
    Infinity,
    NaN,
}

/// Why a text is not a decimal number, or a decimal does not fit Decimal128.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    #[error("`{0}` is not a decimal number (expected digits with an optional sign, fraction and exponent)")]
    Syntax(String),
    #[error("decimal {0} does not fit BSON Decimal128 (at most 34 significant digits, exponent from -6176 to 6111)")]
    OutOfRange(String),
}

const BID_EXPONENT_BIAS: i64 = 6176;
const BID_MAX_EXPONENT: i64 = 6111;
const BID_MIN_EXPONENT: i64 = -6176;
const BID_MAX_DIGITS: usize = 34;

impl Decimal {
    fn finite(negative: bool, digits: String, exponent: i64) -> Decimal {
        let mut d = Decimal {
            negative,
            kind: Special::Finite,
            digits,
            exponent,
            text: String::new(),
        };
        d.text = d.render();
        d
    }

    fn special(negative: bool, kind: Special) -> Decimal {
        let mut d = Decimal {
            negative: negative && kind == Special::Infinity,
            kind,
            digits: String::new(),
            exponent: 0,
            text: String::new(),
        };
        d.text = d.render();
        d
    }

    /// An integer as an exact decimal.
    pub fn from_i128(v: i128) -> Decimal {
        Decimal::finite(v < 0, v.unsigned_abs().to_string(), 0)
    }

    /// An unsigned integer as an exact decimal.
    pub fn from_u128(v: u128) -> Decimal {
        Decimal::finite(false, v.to_string(), 0)
    }

    /// The canonical text of this decimal (`"19.99"`, `"1.2E+40"`, `"-Infinity"`, `"NaN"`).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn is_nan(&self) -> bool {
        self.kind == Special::NaN
    }

    pub fn is_finite(&self) -> bool {
        self.kind == Special::Finite
    }

    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// True when this decimal has no fractional part (`"12"`, `"1.20E+3"`, `"5.000"`).
    pub fn is_integral(&self) -> bool {
        self.kind == Special::Finite
            && (self.exponent >= 0
                || self.digits.len() as i64 + self.exponent <= 0 && self.digits == "0"
                || self
                    .digits
                    .bytes()
                    .rev()
                    .take((-self.exponent) as usize)
                    .all(|b| b == b'0'))
    }

    /// The nearest float (may round, may be ±infinity for huge values).
    pub fn to_f64(&self) -> f64 {
        match self.kind {
            Special::NaN => f64::NAN,
            Special::Infinity if self.negative => f64::NEG_INFINITY,
            Special::Infinity => f64::INFINITY,
            Special::Finite => {
                let sign = if self.negative { "-" } else { "" };
                format!("{sign}{}e{}", self.digits, self.exponent)
                    .parse()
                    .unwrap_or(f64::NAN)
            }
        }
    }

    /// Exact value as an `i64` when it is integral and fits.
    pub fn to_i64(&self) -> Option<i64> {
        if !self.is_integral() {
            return None;
        }
        if self.digits == "0" {
            return Some(0);
        }
        let mut s = String::with_capacity(self.digits.len() + 1);
        if self.negative {
            s.push('-');
        }
        if self.exponent >= 0 {
            if self.exponent > 19 {
                return None;
            }
            s.push_str(&self.digits);
            s.extend(std::iter::repeat_n('0', self.exponent as usize));
        } else {
            let keep = self.digits.len() as i64 + self.exponent;
            s.push_str(&self.digits[..keep as usize]);
        }
        s.parse().ok()
    }

    /// Compares with a number value (integer, float or decimal) exactly. `None` for non-numbers and NaN.
    pub fn cmp_value(&self, other: &Value) -> Option<Ordering> {
        match other {
            Value::Decimal(d) => self.partial_cmp_decimal(d),
            Value::Int(i) => self.partial_cmp_decimal(&Decimal::from_i128(i128::from(*i))),
            Value::Float(f) => self.partial_cmp_decimal(&Decimal::from_f64(*f)?),
            _ => None,
        }
    }

    /// The shortest decimal that reads back as this float. `None` for NaN.
    pub fn from_f64(f: f64) -> Option<Decimal> {
        if f.is_nan() {
            return None;
        }
        if f.is_infinite() {
            return Some(Decimal::special(f < 0.0, Special::Infinity));
        }
        format!("{f:e}").parse().ok()
    }

    fn is_zero(&self) -> bool {
        self.kind == Special::Finite && self.digits == "0"
    }

    /// Exact comparison; `None` when either side is NaN.
    pub fn partial_cmp_decimal(&self, other: &Decimal) -> Option<Ordering> {
        if self.is_nan() || other.is_nan() {
            return None;
        }
        let sign = |d: &Decimal| -> i8 {
            if d.is_zero() {
                0
            } else if d.negative {
                -1
            } else {
                1
            }
        };
        let (sa, sb) = (sign(self), sign(other));
        if sa != sb {
            return Some(sa.cmp(&sb));
        }
        if sa == 0 {
            return Some(Ordering::Equal);
        }
        let magnitude = match (self.kind, other.kind) {
            (Special::Infinity, Special::Infinity) => Ordering::Equal,
            (Special::Infinity, _) => Ordering::Greater,
            (_, Special::Infinity) => Ordering::Less,
            _ => {
                let adj_a = self.exponent + self.digits.len() as i64;
                let adj_b = other.exponent + other.digits.len() as i64;
                adj_a.cmp(&adj_b).then_with(|| {
                    // Same magnitude order: compare digit strings, the shorter padded with zeros.
                    let (a, b) = (self.digits.as_bytes(), other.digits.as_bytes());
                    let n = a.len().max(b.len());
                    (0..n)
                        .map(|i| {
                            a.get(i)
                                .copied()
                                .unwrap_or(b'0')
                                .cmp(&b.get(i).copied().unwrap_or(b'0'))
                        })
                        .find(|o| o.is_ne())
                        .unwrap_or(Ordering::Equal)
                })
            }
        };
        Some(if sa < 0 {
            magnitude.reverse()
        } else {
            magnitude
        })
    }

    /// Decodes the 16 little-endian bytes of a BSON Decimal128 (IEEE 754-2008 BID encoding).
    pub fn from_bid_bytes(bytes: [u8; 16]) -> Decimal {
        let bits = u128::from_le_bytes(bytes);
        let high = (bits >> 64) as u64;
        let negative = high >> 63 == 1;
        let combination = (high >> 58) & 0x1f;
        if combination == 0x1f {
            return Decimal::special(false, Special::NaN);
        }
        if combination == 0x1e {
            return Decimal::special(negative, Special::Infinity);
        }
        let (biased_exponent, coefficient) = if (high >> 61) & 0b11 == 0b11 {
            // The "large coefficient" form: its implied coefficient exceeds 10^34 - 1, so it is
            // non-canonical and its value is zero (per IEEE 754-2008 and the BSON spec).
            (((high >> 47) & 0x3fff) as i64, 0u128)
        } else {
            let coefficient = bits & ((1u128 << 113) - 1);
            let coefficient = if coefficient > 9_999_999_999_999_999_999_999_999_999_999_999 {
                0
            } else {
                coefficient
            };
            (((high >> 49) & 0x3fff) as i64, coefficient)
        };
        Decimal::finite(
            negative,
            coefficient.to_string(),
            biased_exponent - BID_EXPONENT_BIAS,
        )
    }

    /// Encodes as the 16 little-endian bytes of a BSON Decimal128. Trailing zeros are dropped only when
    /// needed to fit 34 digits; a value that still does not fit is an error, never silently rounded.
    pub fn to_bid_bytes(&self) -> Result<[u8; 16], DecimalError> {
        let sign = if self.negative { 1u128 << 127 } else { 0 };
        match self.kind {
            Special::NaN => return Ok((0x7cu128 << 120).to_le_bytes()),
            Special::Infinity => return Ok((sign | (0x78u128 << 120)).to_le_bytes()),
            Special::Finite => {}
        }
        let mut digits = self.digits.clone();
        let mut exponent = self.exponent;
        if digits == "0" {
            exponent = exponent.clamp(BID_MIN_EXPONENT, BID_MAX_EXPONENT);
        }
        // Too many digits: fold trailing zeros into the exponent.
        while digits.len() > BID_MAX_DIGITS && digits.ends_with('0') {
            digits.pop();
            exponent += 1;
        }
        // Exponent too large: move it into trailing zeros, while the digits allow it.
        while exponent > BID_MAX_EXPONENT && digits.len() < BID_MAX_DIGITS {
            digits.push('0');
            exponent -= 1;
        }
        if digits.len() > BID_MAX_DIGITS
            || !(BID_MIN_EXPONENT..=BID_MAX_EXPONENT).contains(&exponent)
        {
            return Err(DecimalError::OutOfRange(self.text.clone()));
        }
        let coefficient: u128 = digits
            .parse()
            .map_err(|_| DecimalError::OutOfRange(self.text.clone()))?;
        let biased = (exponent + BID_EXPONENT_BIAS) as u128;
        Ok((sign | (biased << 113) | coefficient).to_le_bytes())
    }

    fn render(&self) -> String {
        match self.kind {
            Special::NaN => return "NaN".to_owned(),
            Special::Infinity => {
                return if self.negative {
                    "-Infinity"
                } else {
                    "Infinity"
                }
                .to_owned()
            }
            Special::Finite => {}
        }
        let mut out = String::with_capacity(self.digits.len() + 8);
        if self.negative {
            out.push('-');
        }
        let n = self.digits.len() as i64;
        let adjusted = self.exponent + n - 1;
        if self.exponent <= 0 && adjusted >= -6 {
            if self.exponent == 0 {
                out.push_str(&self.digits);
            } else if n > -self.exponent {
                let point = (n + self.exponent) as usize;
                out.push_str(&self.digits[..point]);
                out.push('.');
                out.push_str(&self.digits[point..]);
            } else {
                out.push_str("0.");
                out.extend(std::iter::repeat_n('0', (-self.exponent - n) as usize));
                out.push_str(&self.digits);
            }
        } else {
            out.push_str(&self.digits[..1]);
            if n > 1 {
                out.push('.');
                out.push_str(&self.digits[1..]);
            }
            out.push('E');
            out.push(if adjusted >= 0 { '+' } else { '-' });
            out.push_str(&adjusted.unsigned_abs().to_string());
        }
        out
    }
}

impl FromStr for Decimal {
    type Err = DecimalError;

    /// Parses `[+-]digits[.digits][(e|E)[+-]digits]`, `NaN`, `Infinity` / `Inf` (case-insensitive).
    fn from_str(s: &str) -> Result<Decimal, DecimalError> {
        let err = || DecimalError::Syntax(truncate_for_message(s));
        let (negative, rest) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        if rest.eq_ignore_ascii_case("nan") {
            return Ok(Decimal::special(false, Special::NaN));
        }
        if rest.eq_ignore_ascii_case("infinity") || rest.eq_ignore_ascii_case("inf") {
            return Ok(Decimal::special(negative, Special::Infinity));
        }
        let (mantissa, exp_text) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let (int_part, frac_part) = match mantissa.find('.') {
            Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
            None => (mantissa, ""),
        };
        let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if int_part.len() + frac_part.len() == 0 || !all_digits(int_part) || !all_digits(frac_part)
        {
            return Err(err());
        }
        let mut exponent: i64 = match exp_text {
            None => 0,
            Some(t) => {
                let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
                if digits.is_empty() || !all_digits(digits) || digits.len() > 12 {
                    return Err(err());
                }
                t.parse().map_err(|_| err())?
            }
        };
        exponent -= frac_part.len() as i64;
        let mut digits = String::with_capacity(int_part.len() + frac_part.len());
        digits.push_str(int_part);
        digits.push_str(frac_part);
        let first_nonzero = digits.bytes().position(|b| b != b'0');
        let digits = match first_nonzero {
            Some(i) => digits[i..].to_owned(),
            None => "0".to_owned(),
        };
        Ok(Decimal::finite(negative, digits, exponent))
    }
}

pub(crate) fn truncate_for_message(s: &str) -> String {
    const MAX: usize = 64;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Numeric equality (`1.0 == 1.00`); NaN is not equal to itself.
impl PartialEq for Decimal {
    fn eq(&self, other: &Decimal) -> bool {
        self.partial_cmp_decimal(other) == Some(Ordering::Equal)
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Decimal) -> Option<Ordering> {
        self.partial_cmp_decimal(other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn text_follows_the_bson_decimal128_rules() {
        for (input, text) in [
            ("19.99", "19.99"),
            ("1.50", "1.50"),
            ("-0", "-0"),
            ("0.001", "0.001"),
            ("0.0000001", "1E-7"),
            ("123e3", "1.23E+5"),
            ("1E+3", "1E+3"),
            ("000123.4500", "123.4500"),
            (
                "123456789012345678901234567890",
                "123456789012345678901234567890",
            ),
            ("-inf", "-Infinity"),
            ("NaN", "NaN"),
        ] {
            assert_eq!(d(input).as_str(), text, "input {input}");
        }
    }

    #[test]
    fn rejects_non_numbers_with_the_input_named() {
        for bad in ["", "-", "1.2.3", "1e", "abc", "1e+", ".", "0x10", "1_000"] {
            let err = bad.parse::<Decimal>().unwrap_err();
            assert!(err.to_string().contains(&format!("`{bad}`")), "{err}");
        }
    }

    #[test]
    fn compares_exactly() {
        assert!(d("19.99") < d("20"));
        assert!(d("-5") < d("-4.999999999999999999999999999"));
        assert_eq!(d("1.0"), d("1.000"));
        assert_eq!(d("0"), d("-0.00"));
        assert!(d("1E+400") > d("99999999999999999999"));
        assert!(d("-Infinity") < d("-1E+400"));
        assert!(d("NaN").partial_cmp(&d("NaN")).is_none());
        assert_eq!(
            d("0.1").cmp_value(&Value::Float(0.1)),
            Some(Ordering::Equal)
        );
        assert_eq!(
            d("9223372036854775808").cmp_value(&Value::Int(i64::MAX)),
            Some(Ordering::Greater)
        );
    }

    #[test]
    fn integral_detection_and_i64() {
        assert_eq!(d("12.000").to_i64(), Some(12));
        assert_eq!(d("1.2E+3").to_i64(), Some(1200));
        assert_eq!(d("-0.0").to_i64(), Some(0));
        assert_eq!(d("12.5").to_i64(), None);
        assert_eq!(d("9223372036854775808").to_i64(), None);
    }

    #[test]
    fn decimal128_round_trips() {
        for s in [
            "0",
            "-0",
            "19.99",
            "1.50",
            "-1234567890123456789012345678901234",
            "1E+6111",
            "1E-6176",
            "Infinity",
            "-Infinity",
            "NaN",
            "1.000000000000000000000000000000000E+6144",
        ] {
            let v = d(s);
            let back = Decimal::from_bid_bytes(v.to_bid_bytes().unwrap());
            assert_eq!(back.as_str(), v.as_str(), "round trip of {s}");
        }
        // Known encoding from the BSON corpus: 1 is 0x3040000000000000_0000000000000001.
        let one = d("1").to_bid_bytes().unwrap();
        assert_eq!(
            u128::from_le_bytes(one),
            0x3040_0000_0000_0000_0000_0000_0000_0001
        );
        // Trailing zeros beyond 34 digits are folded into the exponent.
        let big = d("12345678901234567890123456789012340000");
        assert_eq!(Decimal::from_bid_bytes(big.to_bid_bytes().unwrap()), big);
        assert!(matches!(
            d("1234567890123456789012345678901234567").to_bid_bytes(),
            Err(DecimalError::OutOfRange(_))
        ));
        assert!(d("1E-7000").to_bid_bytes().is_err());
    }
}
