//! The variable-length integer encoding of program blobs.
//!
//! It is the Gray Paper's general natural-number encoding restricted to `u32`: the number of
//! leading one bits in the first byte says how many little-endian bytes follow, and the
//! remaining bits of the first byte are the value's most significant bits. Only the shortest
//! encoding of a value is accepted, so every value has exactly one encoding.

/// The longest encoding of a `u32`.
pub const MAX_VARINT_LENGTH: usize = 5;

/// Decodes a varint at the start of `input`; returns the value and the number of bytes read,
/// or `None` if the input is truncated, non-canonical or larger than `u32::MAX`.
pub fn read_varint(input: &[u8]) -> Option<(u32, usize)> {
    let first = *input.first()?;
    let extra = first.leading_ones() as usize;
    if extra > 4 {
        return None;
    }
    let tail = input.get(1..1 + extra)?;
    let high_bits = u64::from(first) & (0xff >> extra);
    let mut low = 0u64;
    for (i, &byte) in tail.iter().enumerate() {
        low |= u64::from(byte) << (8 * i);
    }
    let value = (high_bits << (8 * extra)) | low;
    if value > u64::from(u32::MAX) || (extra > 0 && value < 1 << (7 * extra)) {
        return None;
    }
    Some((value as u32, 1 + extra))
}

/// Appends the shortest encoding of `value`.
pub fn write_varint(value: u32, out: &mut Vec<u8>) {
    let value = u64::from(value);
    // With `n` extra bytes the encoding holds 7 * (n + 1) bits (32 for n = 4).
    let extra = (0..4).find(|&n| value < 1 << (7 * (n + 1))).unwrap_or(4);
    let prefix = !(0xffu8 >> extra);
    out.push(prefix | (value >> (8 * extra)) as u8);
    out.extend_from_slice(&value.to_le_bytes()[..extra]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_encodings() {
        let cases: &[(u32, &[u8])] = &[
            (0, &[0]),
            (127, &[0x7f]),
            (128, &[0x80, 0x80]),
            (0x3fff, &[0xbf, 0xff]),
            (0x4000, &[0xc0, 0x00, 0x40]),
            (1 << 31, &[0xf0, 0, 0, 0, 0x80]),
            (u32::MAX, &[0xf0, 0xff, 0xff, 0xff, 0xff]),
        ];
        for &(value, bytes) in cases {
            let mut out = Vec::new();
            write_varint(value, &mut out);
            assert_eq!(out, bytes, "{value}");
            assert_eq!(read_varint(bytes), Some((value, bytes.len())));
        }
    }

    #[test]
    fn rejects_bad_encodings() {
        assert_eq!(read_varint(&[]), None);
        assert_eq!(read_varint(&[0x80]), None, "truncated");
        assert_eq!(read_varint(&[0x80, 0x01]), None, "non-canonical");
        assert_eq!(read_varint(&[0xf1, 0, 0, 0, 0]), None, "above u32::MAX");
        assert_eq!(read_varint(&[0xf8, 0, 0, 0, 0, 0]), None, "too long");
    }

    proptest! {
        #[test]
        fn round_trip(value: u32) {
            let mut out = Vec::new();
            write_varint(value, &mut out);
            prop_assert_eq!(read_varint(&out), Some((value, out.len())));
        }
    }
}
