//! Logging set-up: `tracing` events as human text (the default) or one JSON object a line
//! (`TALLY_LOG_FORMAT=json`), filtered by `RUST_LOG`; with the `otel` cargo feature and
//! `TALLY_OTLP_ENDPOINT`, spans exported over OTLP/HTTP as well.
use std::io::IsTerminal;

use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer};

use crate::config::{LogFormat, ObservabilitySettings};

/// The filter when `RUST_LOG` is unset (or unreadable).
const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn";

/// Kept by `main` while the process runs: on drop, the spans not yet exported are flushed.
#[must_use]
pub struct LogGuard {
    #[cfg(feature = "otel")]
    tracer: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        #[cfg(feature = "otel")]
        if let Some(tracer) = self.tracer.take() {
            if let Err(e) = tracer.shutdown() {
                eprintln!("flushing the OpenTelemetry spans failed: {e}");
            }
        }
    }
}

type BoxedLayer = Box<dyn Layer<tracing_subscriber::Registry> + Send + Sync>;

/// Installs the process's subscriber as `settings` ask.
pub fn init(settings: &ObservabilitySettings) -> anyhow::Result<LogGuard> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let fmt: BoxedLayer = match settings.log_format {
        // Colours only for a terminal: a file or a log collector gets plain text.
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(std::io::stdout().is_terminal())
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .boxed(),
    };
    let (otel, guard) = otel(settings.otlp_endpoint.as_deref())?;
    tracing_subscriber::registry()
        .with(fmt.and_then(otel).with_filter(filter))
        .try_init()?;
    Ok(guard)
}

/// The OTLP/HTTP endpoint `endpoint` names, checked: an `http` or `https` URL.
fn endpoint_url(endpoint: &str) -> anyhow::Result<url::Url> {
    let url = url::Url::parse(endpoint).map_err(|e| {
        anyhow::anyhow!("TALLY_OTLP_ENDPOINT (--otlp-endpoint) `{endpoint}` is not a URL: {e}")
    })?;
    // No TLS client is built in: spans go to a collector beside the instance.
    if url.scheme() != "http" {
        anyhow::bail!(
            "TALLY_OTLP_ENDPOINT (--otlp-endpoint) must be an http:// URL (OTLP over HTTP to \
             a collector beside the instance, such as http://127.0.0.1:4318/v1/traces), not \
             `{endpoint}`"
        );
    }
    Ok(url)
}

#[cfg(feature = "otel")]
fn otel(endpoint: Option<&str>) -> anyhow::Result<(Option<BoxedLayer>, LogGuard)> {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::WithExportConfig;

    let Some(endpoint) = endpoint else {
        return Ok((None, LogGuard { tracer: None }));
    };
    let url = endpoint_url(endpoint)?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(url.as_str())
        .build()?;
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name("tally")
                .build(),
        )
        .build();
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("tally"))
        .boxed();
    Ok((
        Some(layer),
        LogGuard {
            tracer: Some(provider),
        },
    ))
}

#[cfg(not(feature = "otel"))]
fn otel(endpoint: Option<&str>) -> anyhow::Result<(Option<BoxedLayer>, LogGuard)> {
    match endpoint {
        None => Ok((None, LogGuard {})),
        Some(endpoint) => {
            endpoint_url(endpoint)?;
            anyhow::bail!(
                "TALLY_OTLP_ENDPOINT (--otlp-endpoint) is set, but this build has no \
                 OpenTelemetry export: build Tally with `--features otel`"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_otlp_endpoint_must_be_an_http_url() {
        assert!(endpoint_url("http://127.0.0.1:4318/v1/traces").is_ok());
        for bad in [
            "",
            "127.0.0.1:4318",
            "grpc://collector:4317",
            "https://otel.example.com/v1/traces",
            "not a url",
        ] {
            let e = endpoint_url(bad).expect_err(bad).to_string();
            assert!(e.contains("TALLY_OTLP_ENDPOINT"), "{e}");
        }
    }
}
