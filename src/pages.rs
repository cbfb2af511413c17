//! The pages Tally serves to browsers beside the API: GraphiQL with its bundles served by
//! Tally itself ([`graphiql`]) and the creator dashboard ([`dashboard`]). Both are static
//! files compiled into the binary that call `/graphql` like any other client; every answer
//! carries the security headers of [`secured`], every page its own Content-Security-Policy.
use actix_web::{
    http::header::{self, HeaderValue},
    middleware::Compress,
    web, HttpResponse, HttpResponseBuilder,
};

use crate::config::Limits;

mod dashboard;
pub mod graphiql;

/// A file served to browsers: its bytes, media type and how long a browser may keep it.
#[derive(Debug, Clone, Copy)]
struct Asset {
    body: &'static [u8],
    content_type: &'static str,
    cache: Cache,
}

/// How long a browser may keep an asset.
#[derive(Debug, Clone, Copy)]
enum Cache {
    /// A pinned third-party bundle under a versioned path: it never changes.
    Immutable,
    /// Tally's own files: they change with the binary, so the browser asks every time.
    Revalidate,
}

impl Cache {
    fn header(self) -> &'static str {
        match self {
            Cache::Immutable => "public, max-age=31536000, immutable",
            Cache::Revalidate => "no-cache",
        }
    }
}

/// The pages' icon (without one, browsers ask for `/favicon.ico`).
const ICON: Asset = Asset {
    body: include_bytes!("../web/icon.svg"),
    content_type: "image/svg+xml",
    cache: Cache::Revalidate,
};

const HTML: &str = "text/html; charset=utf-8";
const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Registers the pages `limits` switches on: GraphiQL (`TALLY_GRAPHIQL`; from unpkg.com with
/// `TALLY_GRAPHIQL_CDN`) at `/graphiql` and its files under `/graphiql/assets/`, the
/// dashboard (`TALLY_DASHBOARD`) at `/dashboard` and its files under `/dashboard/assets/`.
/// A page switched off matches no route: 404.
pub fn routes(cfg: &mut web::ServiceConfig, limits: &Limits) {
    if limits.graphiql {
        let cdn = limits.graphiql_cdn;
        cfg.route(
            "/graphiql",
            web::get().to(move || async move { graphiql::page(cdn) }),
        )
        .service(
            web::scope("/graphiql/assets")
                .wrap(Compress::default())
                .route("/{path:.*}", web::get().to(graphiql::asset)),
        );
    }
    if limits.dashboard {
        cfg.route("/dashboard", web::get().to(dashboard::page))
            .service(
                web::scope("/dashboard/assets")
                    .wrap(Compress::default())
                    .route("/{path:.*}", web::get().to(dashboard::asset)),
            );
    }
}

/// `builder` with the headers every page and asset carries: no MIME sniffing (a file is run
/// or styled only as the type it is served with) and no `Referer` to anywhere.
fn secured(mut builder: HttpResponseBuilder) -> HttpResponseBuilder {
    builder
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    builder
}

/// An HTML page under the Content-Security-Policy `csp`.
fn page(html: &str, csp: &str) -> HttpResponse {
    let mut builder = secured(HttpResponse::Ok());
    builder
        .content_type(HTML)
        .insert_header((header::CACHE_CONTROL, Cache::Revalidate.header()))
        .insert_header((header::CONTENT_SECURITY_POLICY, csp));
    builder.body(html.to_owned())
}

/// `asset`, or 404 when there is none by the name asked for.
fn serve(asset: Option<Asset>) -> HttpResponse {
    match asset {
        Some(Asset {
            body,
            content_type,
            cache,
        }) => secured(HttpResponse::Ok())
            .content_type(content_type)
            .insert_header((
                header::CACHE_CONTROL,
                HeaderValue::from_static(cache.header()),
            ))
            .body(body),
        None => secured(HttpResponse::NotFound())
            .content_type("text/plain; charset=utf-8")
            .body("no such file"),
    }
}
