//! Posting a notification to a webhook (reqwest, rustls): the payload as JSON, with a timeout.

use std::time::Duration;

/// Posts `payload` (JSON text) to `url`; `Err` says what failed.
pub async fn post(url: &str, payload: &str, timeout: Duration) -> Result<(), String> {
    crate::notify::outbox::install_crypto();
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("rblwatch/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("{url}: cannot set up HTTP: {e}"))?;
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(payload.to_string())
        .send()
        .await
        .map_err(|e| {
            let why = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "cannot connect"
            } else {
                "request failed"
            };
            format!("{url}: {why}: {e}")
        })?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("{url}: answered {status}"))
    }
}
