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

/// The longest media URL (`mediaUrl`, `thumbnailUrl`, `avatarUrl`), in characters.
pub const MAX_URL_LEN: usize = 2048;

/// Checks a media URL a client will render and returns it normalized (as the `url` crate
/// serializes it): absolute, `https` (or `http` to `localhost`/`127.0.0.1`, for
/// development), at most [`MAX_URL_LEN`] characters before and after normalizing, no
/// credentials in it, no whitespace or control characters (which parsers silently drop).
/// `javascript:` and `data:` are not `https`, so they are refused with every other scheme.
pub fn normalize_media_url(field: &str, text: &str) -> AppResult<String> {
    let refuse = |why: &str| Err(AppError::bad_input(field, format!("`{field}` {why}")));
    if text.chars().count() > MAX_URL_LEN {
        return refuse("must be at most 2,048 characters");
    }
    if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return refuse("must not contain whitespace or control characters");
    }
    let Ok(url) = url::Url::parse(text) else {
        return refuse("must be an absolute URL (https://…)");
    };
    let local = matches!(
        url.host(),
        Some(url::Host::Domain("localhost")) | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
    );
    match url.scheme() {
        "https" => {}
        "http" if local => {}
        "http" => return refuse("must use https (http only for localhost and 127.0.0.1)"),
        "javascript" | "data" => return refuse("must not be a javascript: or data: URL"),
        _ => return refuse("must use https"),
    }
    if url.host().is_none() {
        return refuse("must name a host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return refuse("must not contain credentials (user:password@)");
    }
    let normalized = String::from(url);
    if normalized.chars().count() > MAX_URL_LEN {
        return refuse("must be at most 2,048 characters");
    }
    Ok(normalized)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_urls_follow_the_rules() {
        let ok = |t: &str| normalize_media_url("f", t).expect(t);
        assert_eq!(
            ok("https://cdn.example.com/v/1.mp4"),
            "https://cdn.example.com/v/1.mp4"
        );
        assert_eq!(
            ok("http://localhost:8080/a.mp4"),
            "http://localhost:8080/a.mp4"
        );
        assert_eq!(ok("http://127.0.0.1/a.jpg"), "http://127.0.0.1/a.jpg");
        assert_eq!(ok("HTTPS://CDN.example.com/a"), "https://cdn.example.com/a");
        for bad in [
            "http://cdn.example.com/a.mp4",
            "https://user:pw@cdn.example.com/a",
            "https://user@cdn.example.com/a",
            "javascript:alert(1)",
            "data:text/html,hi",
            "/relative/path.mp4",
            "ftp://cdn.example.com/a",
            "https://cdn.example.com/a b",
            "https://cdn.example.com/\n",
            "http://localhost.evil.com/a",
            "",
        ] {
            let e = normalize_media_url("input.mediaUrl", bad).expect_err(bad);
            assert!(
                matches!(e, AppError::BadInput { ref field, .. } if field == "input.mediaUrl"),
                "{bad}"
            );
        }
        let long = format!("https://cdn.example.com/{}", "a".repeat(2048));
        assert!(normalize_media_url("f", &long).is_err());
    }
}
