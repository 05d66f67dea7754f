//! Timed key events for `pvm doom --keys FILE`: scripted input, so a run is reproducible.
//!
//! One event per line, `TIC KEY ACTION`; `#` starts a comment, blank lines are ignored:
//!
//! ```text
//! # tic  key    action
//!   10   enter  tap       # press at tic 10, release at tic 11
//!   90   up     down      # hold "forward" from tic 90 ...
//!  160   up     up        # ... to tic 160
//! ```
//!
//! * `TIC`: the game tic before which the event is delivered (0 is the first `ext_tick` after
//!   `ext_initialize`); events may come in any order, ties keep file order.
//! * `KEY`: a name from [`KEY_NAMES`] (Doom's default bindings in the doomgeneric port: arrows
//!   walk and turn, `fire`, `use` opens doors, `enter`/`escape` drive the menus, `run`,
//!   `strafe-left`/`strafe-right`), a single letter or digit (`y`, `1`..`7` pick weapons), or a
//!   key code (`163`, `0xa3`).
//! * `ACTION`: `down` (pressed), `up` (released), or `tap` (pressed, then released a tic later).

/// A key press or release delivered before a tic.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct KeyEvent {
    /// The tic it is delivered before.
    pub tic: u32,
    /// The key code the guest sees.
    pub key: u8,
    /// Pressed (`true`) or released.
    pub pressed: bool,
}

/// Key names and the doomgeneric key codes they stand for.
pub const KEY_NAMES: [(&str, u8); 16] = [
    ("right", 0xae),
    ("left", 0xac),
    ("up", 0xad),
    ("down", 0xaf),
    ("strafe-left", 0xa0),
    ("strafe-right", 0xa1),
    ("use", 0xa2),
    ("fire", 0xa3),
    ("escape", 27),
    ("enter", 13),
    ("tab", 9),
    ("space", b' '),
    ("backspace", 0x7f),
    ("run", 0x80 + 0x36),
    ("ctrl", 0x80 + 0x1d),
    ("alt", 0x80 + 0x38),
];

fn parse_key(text: &str) -> Option<u8> {
    if let Some((_, code)) = KEY_NAMES.iter().find(|(name, _)| name.eq_ignore_ascii_case(text)) {
        return Some(*code);
    }
    if let Some(hex) = text.strip_prefix("0x") {
        return u8::from_str_radix(hex, 16).ok();
    }
    match text.as_bytes() {
        [c] if c.is_ascii_alphabetic() => Some(c.to_ascii_lowercase()),
        [c] if c.is_ascii_digit() => Some(*c),
        _ => text.parse().ok(),
    }
}

/// Parses a key-event file (the format above) into events sorted by tic.
pub fn parse(text: &str) -> Result<Vec<KeyEvent>, String> {
    let mut events = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        let content = line.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let fields: Vec<&str> = content.split_whitespace().collect();
        let [tic, key, action] = fields[..] else {
            return Err(format!("line {line_number}: expected `TIC KEY down|up|tap`, found `{content}`"));
        };
        let tic: u32 = tic.parse().map_err(|_| format!("line {line_number}: `{tic}` is not a tic number"))?;
        let key = parse_key(key).ok_or_else(|| {
            let names: Vec<&str> = KEY_NAMES.iter().map(|(name, _)| *name).collect();
            format!(
                "line {line_number}: unknown key `{key}` (names: {}, a letter, a digit, or a code)",
                names.join(", ")
            )
        })?;
        match action {
            "down" => events.push(KeyEvent { tic, key, pressed: true }),
            "up" => events.push(KeyEvent { tic, key, pressed: false }),
            "tap" => {
                events.push(KeyEvent { tic, key, pressed: true });
                events.push(KeyEvent { tic: tic + 1, key, pressed: false });
            }
            other => return Err(format!("line {line_number}: unknown action `{other}` (expected down, up or tap)")),
        }
    }
    events.sort_by_key(|event| event.tic);
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_codes_and_taps() {
        let events = parse("# menu\n 5 enter tap\n\n3 0xa3 down # fire\n4 y up\n4 163 up\n").unwrap();
        assert_eq!(
            events,
            [
                KeyEvent { tic: 3, key: 0xa3, pressed: true },
                KeyEvent { tic: 4, key: b'y', pressed: false },
                KeyEvent { tic: 4, key: 163, pressed: false },
                KeyEvent { tic: 5, key: 13, pressed: true },
                KeyEvent { tic: 6, key: 13, pressed: false },
            ]
        );
    }

    #[test]
    fn reports_the_bad_line() {
        assert!(parse("1 enter tap\n2 nosuchkey down").unwrap_err().starts_with("line 2: unknown key"));
        assert!(parse("x enter tap").unwrap_err().contains("not a tic number"));
        assert!(parse("1 enter hold").unwrap_err().contains("unknown action"));
        assert!(parse("1 enter").unwrap_err().contains("expected `TIC KEY"));
    }
}
