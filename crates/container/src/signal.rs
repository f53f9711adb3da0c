use nix::sys::signal::Signal;
use std::str::FromStr;

/// "KILL", "SIGKILL", "kill" or "9"; "0" is the existence probe (None),
/// as kill(2) and runc take it.
pub fn parse_signal(s: &str) -> Result<Option<Signal>, String> {
    if let Ok(n) = s.parse::<i32>() {
        if n == 0 {
            return Ok(None);
        }
        return Signal::try_from(n)
            .map(Some)
            .map_err(|_| format!("invalid signal {s:?}"));
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name)
        .map(Some)
        .map_err(|_| format!("invalid signal {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        for s in ["KILL", "SIGKILL", "kill", "9"] {
            assert_eq!(parse_signal(s).unwrap(), Some(Signal::SIGKILL));
        }
        assert_eq!(parse_signal("term").unwrap(), Some(Signal::SIGTERM));
        assert_eq!(parse_signal("SIGUSR1").unwrap(), Some(Signal::SIGUSR1));
        assert!(parse_signal("NOPE").is_err());
        assert_eq!(parse_signal("0").unwrap(), None);
        assert!(parse_signal("99").is_err());
    }
}
