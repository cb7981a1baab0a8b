//! CSV answers: a byte-order mark so spreadsheets read UTF-8, and cells that a spreadsheet would
//! run as a formula (text typed by people, starting with `=`, `+`, `-`, `@`, a tab or a return)
//! prefixed with `'`, so they open as the text they are.

use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// A cell of text someone typed.
pub fn text(value: &str) -> String {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
        _ => value.to_owned(),
    }
}

/// The rows as a `text/csv` attachment named `filename`.
pub fn attachment(filename: &str, header_row: &[&str], rows: Vec<Vec<String>>) -> Result<Response, ApiError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let internal = |e: csv::Error| ApiError::Internal(e.to_string());
    w.write_record(header_row).map_err(internal)?;
    for row in rows {
        w.write_record(row).map_err(internal)?;
    }
    let bytes = w.into_inner().map_err(|e| ApiError::Internal(e.into_error().to_string()))?;
    let body = format!("\u{feff}{}", String::from_utf8_lossy(&bytes));
    let disposition = format!("attachment; filename=\"{filename}\"");
    Ok((
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_would_run_as_formulas_open_as_text() {
        assert_eq!(text("=HYPERLINK(\"http://x\")"), "'=HYPERLINK(\"http://x\")");
        assert_eq!(text("+84 904"), "'+84 904");
        assert_eq!(text("-1"), "'-1");
        assert_eq!(text("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(text("Mật ong = ngon"), "Mật ong = ngon");
        assert_eq!(text(""), "");
    }
}
