//! The thirteen 64-bit guest registers.

use core::fmt;

/// A guest register.
///
/// The numbering is the one the instruction encoding uses (`r0`..`r12`); the names are the
/// PolkaVM ABI names, which say what the calling convention uses each register for.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[repr(u8)]
pub enum Reg {
    /// `r0`: return address.
    RA = 0,
    /// `r1`: stack pointer.
    SP = 1,
    /// `r2`: temporary.
    T0 = 2,
    /// `r3`: temporary.
    T1 = 3,
    /// `r4`: temporary.
    T2 = 4,
    /// `r5`: callee-saved.
    S0 = 5,
    /// `r6`: callee-saved.
    S1 = 6,
    /// `r7`: first argument and return value.
    A0 = 7,
    /// `r8`: second argument (and second return value).
    A1 = 8,
    /// `r9`: argument.
    A2 = 9,
    /// `r10`: argument.
    A3 = 10,
    /// `r11`: argument.
    A4 = 11,
    /// `r12`: argument.
    A5 = 12,
}

/// The number of guest registers.
pub const REG_COUNT: usize = 13;

impl Reg {
    /// Every register, in encoding order.
    pub const ALL: [Reg; REG_COUNT] = [
        Reg::RA,
        Reg::SP,
        Reg::T0,
        Reg::T1,
        Reg::T2,
        Reg::S0,
        Reg::S1,
        Reg::A0,
        Reg::A1,
        Reg::A2,
        Reg::A3,
        Reg::A4,
        Reg::A5,
    ];

    /// The registers that carry call arguments, in order.
    pub const ARGS: [Reg; 6] = [Reg::A0, Reg::A1, Reg::A2, Reg::A3, Reg::A4, Reg::A5];

    /// Decodes a register nibble the way the Gray Paper does: indices above 12 mean `r12`.
    #[inline(always)]
    pub const fn from_nibble_clamped(raw: u8) -> Reg {
        let index = if raw > 12 { 12 } else { raw };
        Reg::ALL[index as usize]
    }

    /// The register of the low nibble of `byte`, clamped as [`Reg::from_nibble_clamped`]: one
    /// table load without a comparison, for the decoder (three per instruction at most).
    #[inline(always)]
    pub(crate) const fn from_low_nibble(byte: u8) -> Reg {
        const CLAMPED: [Reg; 16] = {
            let mut table = [Reg::A5; 16];
            let mut index = 0;
            while index < REG_COUNT {
                table[index] = Reg::ALL[index];
                index += 1;
            }
            table
        };
        CLAMPED[(byte & 0xf) as usize]
    }

    /// Returns the register with the given index, if it exists.
    pub const fn from_index(index: usize) -> Option<Reg> {
        if index < REG_COUNT {
            Some(Reg::ALL[index])
        } else {
            None
        }
    }

    /// The register's index (`r0`..`r12`).
    #[inline(always)]
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The ABI name (`ra`, `sp`, `t0`.. `a5`).
    pub const fn name(self) -> &'static str {
        match self {
            Reg::RA => "ra",
            Reg::SP => "sp",
            Reg::T0 => "t0",
            Reg::T1 => "t1",
            Reg::T2 => "t2",
            Reg::S0 => "s0",
            Reg::S1 => "s1",
            Reg::A0 => "a0",
            Reg::A1 => "a1",
            Reg::A2 => "a2",
            Reg::A3 => "a3",
            Reg::A4 => "a4",
            Reg::A5 => "a5",
        }
    }

    /// Parses either an ABI name (`a0`) or a numbered name (`r7`).
    pub fn parse(text: &str) -> Option<Reg> {
        if let Some(reg) = Reg::ALL.iter().find(|reg| reg.name() == text) {
            return Some(*reg);
        }
        let number = text.strip_prefix('r')?;
        if number.len() > 1 && number.starts_with('0') {
            return None;
        }
        Reg::from_index(number.parse().ok()?)
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for reg in Reg::ALL {
            assert_eq!(Reg::parse(reg.name()), Some(reg));
            assert_eq!(Reg::parse(&format!("r{}", reg.index())), Some(reg));
        }
        assert_eq!(Reg::parse("r13"), None);
        assert_eq!(Reg::parse("r07"), None);
        assert_eq!(Reg::from_nibble_clamped(15), Reg::A5);
        for byte in 0..=255u8 {
            assert_eq!(Reg::from_low_nibble(byte), Reg::from_nibble_clamped(byte & 0xf));
        }
    }
}
