//! GraphiQL at `/graphiql` (and for browsers at `GET /graphql`), offline: React's and
//! GraphiQL's production bundles are served by Tally itself under `/graphiql/assets/`, at the
//! versions pinned in `web/graphiql/package-lock.json` (build.rs installs them with `npm ci`,
//! which checks each package's integrity hash). The page loads nothing from another origin,
//! and its Content-Security-Policy allows nothing else. With `TALLY_GRAPHIQL_CDN` the
//! bundles come from unpkg.com instead, at the same versions, each tag with the Subresource
//! Integrity hash of the very file Tally embeds.
use std::sync::LazyLock;

use actix_web::{web, HttpResponse};
use base64::{prelude::BASE64_STANDARD, Engine};
use sha2::{Digest, Sha384};

use super::{Asset, Cache, CSS, JAVASCRIPT};

/// Where the bundles come from in CDN mode: unpkg.com serves each npm package's files at
/// `<package>@<version>/<path>`, the same paths as under `/graphiql/assets/`.
const CDN: &str = "https://unpkg.com";

/// Where the assets are served.
const ASSETS: &str = "/graphiql/assets";

/// The page's policy with the bundles served by Tally: its own origin only. The stylesheet's
/// fonts and icons are `data:` URLs inside GraphiQL's CSS.
const CSP_OFFLINE: &str = "default-src 'self'; img-src 'self' data:; font-src 'self' data:; \
     object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page's policy in CDN mode: scripts and styles from unpkg.com too.
const CSP_CDN: &str = "default-src 'self'; script-src 'self' https://unpkg.com; \
     style-src 'self' https://unpkg.com; img-src 'self' data:; font-src 'self' data:; \
     object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// A third-party bundle: its path (`<package>@<version>/<file>`) and bytes.
struct Bundle {
    path: &'static str,
    body: &'static [u8],
}

/// The file `$file` of the npm package `$package` at the version build.rs installed
/// (`$version`: the environment variable that holds it).
macro_rules! bundle {
    ($package:literal, $version:literal, $file:literal) => {
        Bundle {
            path: concat!($package, "@", env!($version), "/", $file),
            body: include_bytes!(concat!(
                env!("OUT_DIR"),
                "/graphiql/node_modules/",
                $package,
                "/",
                $file
            )),
        }
    };
}

/// The scripts, in the order the page loads them: GraphiQL's UMD bundle needs the globals
/// `React` and `ReactDOM`.
const SCRIPTS: [Bundle; 3] = [
    bundle!(
        "react",
        "TALLY_BUNDLE_VERSION_REACT",
        "umd/react.production.min.js"
    ),
    bundle!(
        "react-dom",
        "TALLY_BUNDLE_VERSION_REACT_DOM",
        "umd/react-dom.production.min.js"
    ),
    bundle!(
        "graphiql",
        "TALLY_BUNDLE_VERSION_GRAPHIQL",
        "graphiql.min.js"
    ),
];

/// GraphiQL's stylesheet.
const STYLE: Bundle = bundle!(
    "graphiql",
    "TALLY_BUNDLE_VERSION_GRAPHIQL",
    "graphiql.min.css"
);

/// Tally's own files of the page: the script that starts GraphiQL on `/graphql`, and the
/// page's layout and theme (and the icon, `tally/icon.svg`).
const START: &[u8] = include_bytes!("../../web/graphiql/start.js");
const LAYOUT: &[u8] = include_bytes!("../../web/graphiql/page.css");
const START_PATH: &str = "tally/start.js";
const LAYOUT_PATH: &str = "tally/page.css";
const ICON_PATH: &str = "tally/icon.svg";

/// The page, with `{styles}` and `{scripts}` where the tags go.
const TEMPLATE: &str = include_str!("../../web/graphiql/index.html");

static OFFLINE_PAGE: LazyLock<String> = LazyLock::new(|| render(false));
static CDN_PAGE: LazyLock<String> = LazyLock::new(|| render(true));

/// The GraphiQL page: its bundles from Tally itself, or from unpkg.com when `cdn`.
pub fn page(cdn: bool) -> HttpResponse {
    if cdn {
        super::page(&CDN_PAGE, CSP_CDN)
    } else {
        super::page(&OFFLINE_PAGE, CSP_OFFLINE)
    }
}

/// `GET /graphiql/assets/{path}`: a bundle or one of Tally's own files of the page.
pub async fn asset(path: web::Path<String>) -> HttpResponse {
    super::serve(find(&path))
}

fn find(path: &str) -> Option<Asset> {
    let own = |body, content_type| Asset {
        body,
        content_type,
        cache: Cache::Revalidate,
    };
    match path {
        START_PATH => return Some(own(START, JAVASCRIPT)),
        LAYOUT_PATH => return Some(own(LAYOUT, CSS)),
        ICON_PATH => return Some(super::ICON),
        _ => {}
    }
    let pinned = |bundle: &Bundle, content_type| Asset {
        body: bundle.body,
        content_type,
        cache: Cache::Immutable,
    };
    if path == STYLE.path {
        return Some(pinned(&STYLE, CSS));
    }
    SCRIPTS
        .iter()
        .find(|b| b.path == path)
        .map(|b| pinned(b, JAVASCRIPT))
}

/// The page's HTML: the bundles' tags pointing at Tally's assets, or at unpkg.com with
/// their integrity hashes when `cdn`.
fn render(cdn: bool) -> String {
    let bundle_url = |bundle: &Bundle| {
        if cdn {
            format!("{CDN}/{}", bundle.path)
        } else {
            format!("{ASSETS}/{}", bundle.path)
        }
    };
    // Anonymous CORS is what makes a cross-origin integrity check possible; nothing
    // identifying is sent with it.
    let pinned = |bundle: &Bundle| {
        if cdn {
            format!(
                r#" integrity="{}" crossorigin="anonymous""#,
                integrity(bundle.body)
            )
        } else {
            String::new()
        }
    };
    let styles = [
        format!(
            r#"<link rel="stylesheet" href="{}"{}>"#,
            bundle_url(&STYLE),
            pinned(&STYLE)
        ),
        format!(r#"<link rel="stylesheet" href="{ASSETS}/{LAYOUT_PATH}">"#),
    ];
    let scripts = SCRIPTS
        .iter()
        .map(|b| format!(r#"<script src="{}"{}></script>"#, bundle_url(b), pinned(b)))
        .chain([format!(r#"<script src="{ASSETS}/{START_PATH}"></script>"#)])
        .collect::<Vec<_>>();
    TEMPLATE
        .replace("{styles}", &styles.join("\n    "))
        .replace("{scripts}", &scripts.join("\n    "))
}

/// The Subresource Integrity value of `body`: its SHA-384, base64.
fn integrity(body: &[u8]) -> String {
    format!("sha384-{}", BASE64_STANDARD.encode(Sha384::digest(body)))
}

#[cfg(test)]
mod tests {
    use super::{find, integrity, render, SCRIPTS, STYLE};

    #[test]
    fn every_tag_of_the_page_names_an_asset_served() {
        let html = render(false);
        for bundle in SCRIPTS.iter().chain([&STYLE]) {
            assert!(html.contains(&format!("/graphiql/assets/{}", bundle.path)));
            assert!(find(bundle.path).is_some(), "{}", bundle.path);
        }
        assert!(!html.contains("{styles}") && !html.contains("{scripts}"));
        assert!(!html.contains("https://"), "{html}");
    }

    #[test]
    fn cdn_tags_carry_the_hash_of_the_embedded_file() {
        let html = render(true);
        for bundle in SCRIPTS.iter().chain([&STYLE]) {
            let tag = format!(
                r#"https://unpkg.com/{}" integrity="{}" crossorigin="anonymous""#,
                bundle.path,
                integrity(bundle.body)
            );
            assert!(html.contains(&tag), "{tag} in {html}");
        }
        // The hash of a known text (`echo -n abc | openssl dgst -sha384 -binary | base64`).
        assert_eq!(
            integrity(b"abc"),
            "sha384-ywB1P0WjXou1oD1pmsZQBycsMqsO3tFjGotgWkP/W+2AhgcroefMI1i67KE0yCWn"
        );
    }
}
