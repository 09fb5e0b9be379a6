//! Small helpers: clocks, identifiers, digests, a seeded RNG.

use md5::{Digest, Md5};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A tiny, fast, seedable PRNG (xorshift64*). Good enough for ids and anomaly draws;
/// not cryptographic.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        // splitmix64 to spread poor seeds (0, 1, 2...)
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Rng(if z == 0 { 0x1234_5678_9ABC_DEF1 } else { z })
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in [0, n) (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

static ID_COUNTER: AtomicU64 = AtomicU64::new(0);

fn id_entropy() -> u64 {
    let c = ID_COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let pid = std::process::id() as u64;
    let mut r = Rng::new(t ^ (c.wrapping_mul(0x9E37_79B9_7F4A_7C15)) ^ (pid << 32));
    r.next_u64() ^ c
}

/// A random UUID v4 string (for MessageId, SNS ids, task handles).
pub fn uuid() -> String {
    format_uuid(uuid_u128())
}

/// A random UUID v4 as a number (16 bytes, no allocation: how messages store their id).
pub fn uuid_u128() -> u128 {
    let a = id_entropy() as u128;
    let b = id_entropy() as u128;
    let v = (a << 64) | b;
    // version 4, variant 10
    (v & !(0xF000u128 << 64) | (0x4000u128 << 64)) & !(0xC000_0000_0000_0000u128)
        | 0x8000_0000_0000_0000u128
}

/// Parses the canonical UUID text form.
pub fn parse_uuid(s: &str) -> Option<u128> {
    let h: String = s.chars().filter(|c| *c != '-').collect();
    if h.len() != 32 {
        return None;
    }
    u128::from_str_radix(&h, 16).ok()
}

/// Formats a UUID number as `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
pub fn format_uuid(v: u128) -> String {
    let h = hex(&v.to_be_bytes());
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Random 64-bit value.
pub fn random_u64() -> u64 {
    id_entropy()
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}

pub fn md5_hex(data: &[u8]) -> String {
    hex(&Md5::digest(data))
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Sha256;
    hex(&Sha256::digest(data))
}

/// A message attribute value as SQS stores it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AttrValue {
    /// `String`, `Number`, `Binary`, optionally with a custom suffix (`String.foo`).
    pub data_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    /// Raw bytes (not base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary_value: Option<Vec<u8>>,
}

impl AttrValue {
    pub fn is_binary(&self) -> bool {
        self.data_type.starts_with("Binary")
    }
}

/// MD5 of message attributes as AWS computes it: attributes sorted by name; for each,
/// the 4-byte big-endian length then bytes of the name, of the data type, then a
/// transport byte (1 = String/Number, 2 = Binary), then the length-prefixed value.
pub fn md5_of_attributes(attrs: &BTreeMap<String, AttrValue>) -> Option<String> {
    if attrs.is_empty() {
        return None;
    }
    let mut buf = Vec::with_capacity(64);
    fn put(buf: &mut Vec<u8>, data: &[u8]) {
        buf.extend_from_slice(&(data.len() as u32).to_be_bytes());
        buf.extend_from_slice(data);
    }
    for (name, v) in attrs {
        put(&mut buf, name.as_bytes());
        put(&mut buf, v.data_type.as_bytes());
        if v.is_binary() {
            buf.push(2);
            put(&mut buf, v.binary_value.as_deref().unwrap_or(&[]));
        } else {
            buf.push(1);
            put(
                &mut buf,
                v.string_value.as_deref().unwrap_or_default().as_bytes(),
            );
        }
    }
    Some(md5_hex(&buf))
}

/// Why a `Number` message attribute value is not a number SQS/SNS accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberError {
    /// Not a decimal number (`abc`, `NaN`, `inf`, `1e`, `0x10`...).
    Syntax,
    /// More than 38 significant digits.
    Precision,
    /// Outside 10^-128 .. 10^126 in magnitude.
    Range,
}

/// Checks a `Number` attribute value as SQS documents it: a decimal integer or floating point
/// number (optional sign, digits with an optional fraction, optional exponent), up to 38
/// digits of precision, between 10^-128 and 10^+126 in magnitude (zero allowed). Leading and
/// trailing whitespace is ignored. `NaN` and infinities are not numbers.
pub fn check_number(s: &str) -> Result<(), NumberError> {
    let t = s.trim();
    let t = t.strip_prefix(['+', '-']).unwrap_or(t);
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return Err(NumberError::Syntax);
    }
    let exp: i64 = match exp {
        None => 0,
        Some(e) => {
            let body = e.strip_prefix(['+', '-']).unwrap_or(e);
            if body.is_empty() || !digits(body) {
                return Err(NumberError::Syntax);
            }
            // Long exponents are out of range whatever their value.
            e.parse::<i64>().unwrap_or(if e.starts_with('-') {
                i64::MIN / 2
            } else {
                i64::MAX / 2
            })
        }
    };
    // The value is 0.D x 10^m, D the significant digits (first one non-zero).
    let all = format!("{int}{frac}");
    let sig = all.trim_start_matches('0');
    if sig.is_empty() {
        return Ok(()); // zero
    }
    let sig = sig.trim_end_matches('0');
    if sig.len() > 38 {
        return Err(NumberError::Precision);
    }
    let m = int.len() as i64 - (all.len() - all.trim_start_matches('0').len()) as i64 + exp;
    // 10^-128 <= |value| <= 10^126, i.e. 10^(m-1) >= 10^-128, and m <= 126 or value = 10^126.
    if !(-127..=127).contains(&m) || (m == 127 && sig != "1") {
        return Err(NumberError::Range);
    }
    Ok(())
}

/// ISO-8601 timestamp with milliseconds, as SNS uses.
pub fn iso8601_ms(ms: u64) -> String {
    let dt = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms as i64).unwrap_or_default();
    dt.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Minimal XML escaping for text nodes.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_of_body_matches_known_value() {
        assert_eq!(md5_hex(b"hello"), "5d41402abc4b2a76b9719d911017c592");
    }

    #[test]
    fn md5_of_attributes_is_order_independent_and_typed() {
        let mut a = BTreeMap::new();
        a.insert(
            "b".to_string(),
            AttrValue {
                data_type: "Number".into(),
                string_value: Some("1".into()),
                binary_value: None,
            },
        );
        a.insert(
            "a".to_string(),
            AttrValue {
                data_type: "String".into(),
                string_value: Some("x".into()),
                binary_value: None,
            },
        );
        // Computed by hand from the documented algorithm.
        let mut buf = Vec::new();
        for (n, t, v) in [("a", "String", "x"), ("b", "Number", "1")] {
            for part in [n, t] {
                buf.extend_from_slice(&(part.len() as u32).to_be_bytes());
                buf.extend_from_slice(part.as_bytes());
            }
            buf.push(1);
            buf.extend_from_slice(&(v.len() as u32).to_be_bytes());
            buf.extend_from_slice(v.as_bytes());
        }
        assert_eq!(md5_of_attributes(&a).unwrap(), md5_hex(&buf));
        assert!(md5_of_attributes(&BTreeMap::new()).is_none());
    }

    #[test]
    fn uuids_round_trip_and_are_v4() {
        let u = uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(format_uuid(parse_uuid(&u).unwrap()), u);
        assert_ne!(uuid(), uuid());
    }

    #[test]
    fn rng_is_repeatable() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..10 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }
    #[test]
    fn number_attribute_values() {
        for ok in [
            "0",
            "-0",
            "+1",
            "1.5",
            ".5",
            "5.",
            "1e3",
            "1E-3",
            " 42 ",
            "0.000",
            "1e126",
            "1.000e126",
            "1e-128",
            "12345678901234567890123456789012345678",
            "1234567890123456789012345678901234567800000",
        ] {
            assert_eq!(check_number(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "abc",
            "NaN",
            "nan",
            "inf",
            "-Infinity",
            "1e",
            "e5",
            "0x10",
            "1.2.3",
            "--1",
            ".",
        ] {
            assert_eq!(check_number(bad), Err(NumberError::Syntax), "{bad}");
        }
        assert_eq!(
            check_number("123456789012345678901234567890123456789"),
            Err(NumberError::Precision)
        );
        assert_eq!(check_number("1e127"), Err(NumberError::Range));
        assert_eq!(check_number("9.99e126"), Err(NumberError::Range));
        assert_eq!(check_number("1e-129"), Err(NumberError::Range));
        assert_eq!(check_number("0.0001e-125"), Err(NumberError::Range));
        assert_eq!(
            check_number("1e99999999999999999999"),
            Err(NumberError::Range)
        );
    }
}
