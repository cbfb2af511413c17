//! Checks of text that clients send, shared by every use case that stores it.
use crate::error::{AppError, AppResult};

/// Lower-cases and checks a handle: 3–30 characters of `a-z 0-9 _ .`.
pub fn normalize_handle(field: &str, handle: &str) -> AppResult<String> {
    let h = handle.to_lowercase();
    let ok_len = (3..=30).contains(&h.chars().count());
    let ok_chars = h
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
    if ok_len && ok_chars {
        Ok(h)
    } else {
        Err(AppError::bad_input(
            field,
            "handle must be 3–30 characters of a-z, 0-9, _ and .",
        ))
    }
}

pub fn check_len(field: &str, value: &str, min: usize, max: usize) -> AppResult<()> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(AppError::bad_input(
            field,
            format!("`{field}` must be {min}–{max} characters"),
        ));
    }
    Ok(())
}

/// Refuses text the database cannot store (PostgreSQL text holds no NUL).
pub fn check_no_nul(field: &str, value: &str) -> AppResult<()> {
    if value.contains('\0') {
        return Err(AppError::bad_input(
            field,
            format!("`{field}` must not contain NUL characters"),
        ));
    }
    Ok(())
}
