use crate::ContainerError;

/// runc's rule: letters, digits and `_+-.`, but not `.` or `..`; the id
/// becomes a directory name under --root, so nothing else may pass.
pub fn validate_id(id: &str) -> Result<(), ContainerError> {
    let bad = |reason| {
        Err(ContainerError::InvalidId {
            id: id.to_string(),
            reason,
        })
    };
    if id.is_empty() {
        return bad("must not be empty");
    }
    if id == "." || id == ".." {
        return bad("must not be . or ..");
    }
    if id.len() > 1024 {
        return bad("is longer than 1024 characters");
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.'))
    {
        return bad("may only contain letters, digits and _ + - .");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids() {
        for ok in ["a", "abc-123_x.y+z", "0123456789abcdef"] {
            super::validate_id(ok).unwrap();
        }
        for bad in ["", ".", "..", "a/b", "../x", "a b", "é", "x\n"] {
            assert!(super::validate_id(bad).is_err(), "{bad:?}");
        }
    }
}
