//! How an account's demographics are stored in aggregates: codes or `UNKNOWN`, never the
//! free text an account typed (which might be as telling as a name).

/// What an aggregate stores where no value is known.
pub const UNKNOWN: &str = "UNKNOWN";

/// The follower-demographics dimensions ([`keys`]).
pub const BIRTH_YEAR: &str = "birth_year";
pub const REGION: &str = "region";
pub const LANGUAGE: &str = "language";

/// An account's region as aggregates store it: an ISO 3166-1 alpha-2 code (two letters,
/// upper-cased), else `UNKNOWN`.
pub fn region(given: Option<&str>) -> String {
    match given.map(str::trim) {
        Some(r) if r.len() == 2 && r.bytes().all(|b| b.is_ascii_alphabetic()) => {
            r.to_ascii_uppercase()
        }
        _ => UNKNOWN.to_owned(),
    }
}

/// An account's language as aggregates store it: the BCP 47 primary subtag (2–3 letters,
/// lower-cased: `en-GB` → `en`), else `UNKNOWN`.
pub fn language(given: Option<&str>) -> String {
    let primary = given.and_then(|l| l.trim().split(['-', '_']).next());
    match primary {
        Some(p) if (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()) => {
            p.to_ascii_lowercase()
        }
        _ => UNKNOWN.to_owned(),
    }
}

/// The follower-demographics keys of an account: its birth year (the age bracket depends
/// on the year it is read in, so the year is kept), region and language.
pub fn keys(
    birth_year: Option<i32>,
    region_given: Option<&str>,
    language_given: Option<&str>,
) -> [(&'static str, String); 3] {
    [
        (
            BIRTH_YEAR,
            birth_year.map_or_else(|| UNKNOWN.to_owned(), |y| y.to_string()),
        ),
        (REGION, region(region_given)),
        (LANGUAGE, language(language_given)),
    ]
}
