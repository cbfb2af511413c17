//! The browser pages (issue 15), server side: `/dashboard` and GraphiQL with its bundles are
//! served with their media types and security headers; GraphiQL loads nothing from another
//! origin unless `TALLY_GRAPHIQL_CDN` (then every bundle is pinned by its integrity hash);
//! a page switched off is 404. (.ci/browser.sh runs them in a real browser.)
use base64::{prelude::BASE64_STANDARD, Engine};
use clap::Parser;
use reqwest::{header::HeaderMap, Response};
use sha2::{Digest, Sha384};
use tally::config::{Cli, Limits};

use crate::helpers::TestApp;

/// `GET path` as a browser asks for a page.
async fn get(app: &TestApp, path: &str) -> Response {
    app.http
        .get(format!("{}{path}", app.base))
        .header("Accept", "text/html,*/*;q=0.8")
        .send()
        .await
        .expect("request")
}

async fn html_of(app: &TestApp, path: &str) -> String {
    get(app, path).await.text().await.expect("body")
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header in {headers:?}"))
        .to_str()
        .expect("ASCII header")
}

/// The values of every `attribute="…"` in `html`.
fn attributes<'a>(html: &'a str, attribute: &str) -> Vec<&'a str> {
    let opening = format!(" {attribute}=\"");
    html.match_indices(&opening)
        .filter_map(|(at, _)| {
            let rest = &html[at + opening.len()..];
            rest.split_once('"').map(|(value, _)| value)
        })
        .collect()
}

/// Every tag of `html` that loads a script or a stylesheet, whole.
fn loading_tags(html: &str) -> Vec<&str> {
    html.match_indices('<')
        .filter_map(|(at, _)| html[at..].split_once('>').map(|(tag, _)| tag))
        .filter(|tag| {
            tag.starts_with("<script")
                || (tag.starts_with("<link") && tag.contains(r#"rel="stylesheet""#))
        })
        .collect()
}

/// Checks the headers every page carries and returns its Content-Security-Policy.
fn assert_page_headers(path: &str, headers: &HeaderMap) -> String {
    assert_eq!(
        header(headers, "content-type"),
        "text/html; charset=utf-8",
        "{path}"
    );
    assert_eq!(
        header(headers, "x-content-type-options"),
        "nosniff",
        "{path}"
    );
    assert_eq!(header(headers, "referrer-policy"), "no-referrer", "{path}");
    let csp = header(headers, "content-security-policy").to_owned();
    let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
    for wanted in [
        "default-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
    ] {
        assert!(directives.contains(&wanted), "{path}: `{wanted}` in {csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{path}: {csp}"
    );
    csp
}

/// Fetches `url` (a path on `app`) and checks it is served as `media` with `nosniff`; its
/// body and `Cache-Control`.
async fn assert_asset(app: &TestApp, url: &str, media: &str) -> (Vec<u8>, String) {
    let r = get(app, url).await;
    assert_eq!(r.status().as_u16(), 200, "GET {url}");
    let headers = r.headers().clone();
    assert_eq!(header(&headers, "content-type"), media, "{url}");
    assert_eq!(
        header(&headers, "x-content-type-options"),
        "nosniff",
        "{url}"
    );
    assert_eq!(header(&headers, "referrer-policy"), "no-referrer", "{url}");
    let cache = header(&headers, "cache-control").to_owned();
    let body = r.bytes().await.expect("body").to_vec();
    assert!(!body.is_empty(), "{url} is empty");
    (body, cache)
}

/// The media type a page's asset must be served with, by its extension.
fn media_of(url: &str) -> &'static str {
    if url.ends_with(".js") {
        "text/javascript; charset=utf-8"
    } else if url.ends_with(".css") {
        "text/css; charset=utf-8"
    } else if url.ends_with(".svg") {
        "image/svg+xml"
    } else {
        panic!("an asset neither script nor stylesheet: {url}")
    }
}

#[tokio::test]
async fn the_dashboard_is_served_with_its_assets_and_security_headers() {
    let app = TestApp::spawn().await;
    let r = get(&app, "/dashboard").await;
    assert_eq!(r.status().as_u16(), 200);
    let csp = assert_page_headers("/dashboard", &r.headers().clone());
    // The sign-in form is sent by the script only: no browser submission could put a
    // password in a URL.
    assert!(csp.contains("form-action 'none'"), "{csp}");
    let html = r.text().await.expect("body");
    assert!(
        html.contains(r#"<form id="sign-in-form" method="post""#),
        "{html}"
    );
    let assets: Vec<&str> = attributes(&html, "src")
        .into_iter()
        .chain(
            attributes(&html, "href")
                .into_iter()
                .filter(|h| !h.starts_with('#')),
        )
        .collect();
    assert_eq!(
        assets,
        [
            "/dashboard/assets/dashboard.js",
            "/dashboard/assets/icon.svg",
            "/dashboard/assets/dashboard.css"
        ]
    );
    for url in assets {
        let (body, cache) = assert_asset(&app, url, media_of(url)).await;
        assert_eq!(cache, "no-cache", "{url}");
        let text = String::from_utf8(body).expect("UTF-8");
        if url.ends_with(".js") {
            // What the page is for: it signs in, keeps the token for the tab only and reads
            // the analytics.
            for needle in [
                "logIn(",
                "sessionStorage",
                "creatorAnalytics(",
                "hiddenCount",
            ] {
                assert!(text.contains(needle), "{url} has no {needle}");
            }
            assert!(!text.contains("localStorage") && !text.contains("innerHTML"));
        }
    }
    let r = get(&app, "/dashboard/assets/nothing.js").await;
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(header(r.headers(), "x-content-type-options"), "nosniff");
}

#[tokio::test]
async fn graphiql_loads_every_file_from_tally_itself() {
    let app = TestApp::spawn().await;
    for path in ["/graphiql", "/graphql"] {
        let r = get(&app, path).await;
        assert_eq!(r.status().as_u16(), 200, "{path}");
        let csp = assert_page_headers(path, &r.headers().clone());
        assert!(!csp.contains("http"), "{path}: another origin in {csp}");
        let html = r.text().await.expect("body");
        assert!(
            !html.contains("//unpkg.com") && !html.contains("https://"),
            "{html}"
        );
        let tags = loading_tags(&html);
        assert_eq!(
            tags.len(),
            6,
            "React, ReactDOM, GraphiQL, its CSS, Tally's two: {tags:?}"
        );
        let urls: Vec<&str> = tags
            .iter()
            .flat_map(|t| {
                attributes(t, "src")
                    .into_iter()
                    .chain(attributes(t, "href"))
            })
            .collect();
        assert_eq!(urls.len(), tags.len(), "{tags:?}");
        for url in &urls {
            assert!(url.starts_with("/graphiql/assets/"), "{url}");
            let (_, cache) = assert_asset(&app, url, media_of(url)).await;
            // The pinned bundles sit under versioned paths and never change.
            if url.contains('@') {
                assert_eq!(cache, "public, max-age=31536000, immutable", "{url}");
            }
        }
        for bundle in [
            "/react@18.",
            "/umd/react.production.min.js",
            "/react-dom@18.",
            "/umd/react-dom.production.min.js",
            "/graphiql@3.",
            "/graphiql.min.js",
            "/graphiql.min.css",
        ] {
            assert!(
                urls.iter().any(|u| u.contains(bundle)),
                "{bundle} in {urls:?}"
            );
        }
        // React first: GraphiQL's bundle needs its globals.
        let react = urls.iter().position(|u| u.contains("/react@"));
        let graphiql = urls.iter().position(|u| u.ends_with("graphiql.min.js"));
        assert!(react < graphiql, "{urls:?}");
    }
    let icon = attributes(&html_of(&app, "/graphiql").await, "href")[0].to_owned();
    assert_eq!(icon, "/graphiql/assets/tally/icon.svg");
    assert_asset(&app, &icon, media_of(&icon)).await;
    let r = get(
        &app,
        "/graphiql/assets/react@0.0.0/umd/react.production.min.js",
    )
    .await;
    assert_eq!(r.status().as_u16(), 404);
}

#[tokio::test]
async fn graphiql_from_the_cdn_pins_every_bundle_by_its_integrity_hash() {
    let app = TestApp::spawn_with(|s| {
        s.limits = Limits {
            graphiql_cdn: true,
            ..Limits::default()
        }
    })
    .await;
    let r = get(&app, "/graphiql").await;
    assert_eq!(r.status().as_u16(), 200);
    let csp = assert_page_headers("/graphiql", &r.headers().clone());
    assert!(
        csp.contains("script-src 'self' https://unpkg.com")
            && csp.contains("style-src 'self' https://unpkg.com"),
        "{csp}"
    );
    let html = r.text().await.expect("body");
    let external: Vec<&str> = loading_tags(&html)
        .into_iter()
        .filter(|t| t.contains("https://"))
        .collect();
    assert_eq!(
        external.len(),
        4,
        "React, ReactDOM, GraphiQL, its CSS: {external:?}"
    );
    for tag in external {
        let url = attributes(tag, "src")
            .into_iter()
            .chain(attributes(tag, "href"))
            .next()
            .expect("a URL");
        let path = url
            .strip_prefix("https://unpkg.com/")
            .unwrap_or_else(|| panic!("{url} is not on unpkg.com"));
        assert!(path.contains('@'), "{url}: not pinned to a version");
        assert_eq!(attributes(tag, "crossorigin"), ["anonymous"], "{tag}");
        // The hash is that of the very file Tally serves at the same path.
        let (body, _) =
            assert_asset(&app, &format!("/graphiql/assets/{path}"), media_of(path)).await;
        let hash = format!("sha384-{}", BASE64_STANDARD.encode(Sha384::digest(&body)));
        assert_eq!(attributes(tag, "integrity"), [hash.as_str()], "{tag}");
    }
}

#[tokio::test]
async fn pages_switched_off_are_404() {
    let off = TestApp::spawn_with(|s| {
        s.limits = Limits {
            graphiql: false,
            dashboard: false,
            ..Limits::default()
        }
    })
    .await;
    let on = TestApp::spawn().await;
    let html = html_of(&on, "/graphiql").await;
    let bundle = attributes(&html, "src")[0].to_owned();
    for path in [
        "/graphiql",
        bundle.as_str(),
        "/graphiql/assets/tally/start.js",
        "/dashboard",
        "/dashboard/assets/dashboard.js",
    ] {
        assert_eq!(get(&on, path).await.status().as_u16(), 200, "on: {path}");
        assert_eq!(get(&off, path).await.status().as_u16(), 404, "off: {path}");
    }
    // Each page has its own switch.
    let dashboard_only = TestApp::spawn_with(|s| {
        s.limits = Limits {
            graphiql: false,
            ..Limits::default()
        }
    })
    .await;
    assert_eq!(
        get(&dashboard_only, "/dashboard").await.status().as_u16(),
        200
    );
    assert_eq!(
        get(&dashboard_only, "/graphiql").await.status().as_u16(),
        404
    );
}

#[test]
fn the_page_switches_default_to_offline_graphiql_and_the_dashboard_on() {
    let d = Cli::try_parse_from(["tally"]).expect("parse").config.limits;
    assert!(d.graphiql && !d.graphiql_cdn && d.dashboard);
    let l = Cli::try_parse_from(["tally", "--graphiql-cdn", "1", "--dashboard=off"])
        .expect("parse")
        .config
        .limits;
    assert!(l.graphiql && l.graphiql_cdn && !l.dashboard);
}
