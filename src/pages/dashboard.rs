//! The creator dashboard at `/dashboard`: one HTML page, its stylesheet and its script
//! (`web/dashboard/`, plain JavaScript, no build step). It signs in with `logIn`, keeps the
//! token in `sessionStorage` and reads `creatorAnalytics` and the video queries over
//! `POST /graphql` like any other client.
use actix_web::{web, HttpResponse};

use super::{Asset, Cache, CSS, JAVASCRIPT};

/// The page's policy: everything from Tally's own origin, no inline script or style, no
/// form posted anywhere (the sign-in form is sent by the script, never by the browser:
/// a password must not land in a URL), never framed.
const CSP: &str = "default-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

const PAGE: &str = include_str!("../../web/dashboard/index.html");

/// The page's own files, by their path under `/dashboard/assets/` (and `icon.svg`).
const ASSETS: [(&str, &[u8], &str); 2] = [
    (
        "dashboard.js",
        include_bytes!("../../web/dashboard/dashboard.js"),
        JAVASCRIPT,
    ),
    (
        "dashboard.css",
        include_bytes!("../../web/dashboard/dashboard.css"),
        CSS,
    ),
];

/// `GET /dashboard`.
pub async fn page() -> HttpResponse {
    super::page(PAGE, CSP)
}

/// `GET /dashboard/assets/{path}`.
pub async fn asset(path: web::Path<String>) -> HttpResponse {
    super::serve(find(&path))
}

fn find(path: &str) -> Option<Asset> {
    if path == "icon.svg" {
        return Some(super::ICON);
    }
    ASSETS
        .iter()
        .find(|(name, _, _)| *name == path)
        .map(|&(_, body, content_type)| Asset {
            body,
            content_type,
            cache: Cache::Revalidate,
        })
}
